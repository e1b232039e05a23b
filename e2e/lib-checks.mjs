// Pure checks the browser flows make on numbers read from the app (no page, no pixels), kept here
// so test/e2e-checks.test.ts can show each one fails where the flows' old checks passed:
// a flat or rising loss, an empty loss history, a one-row evaluation.
// Each returns undefined when the check holds, else a sentence saying what is wrong.

const finite = (xs) => xs.every((x) => typeof x === 'number' && Number.isFinite(x));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The training loss falls: the mean of the last quarter of the steps is at least `minDrop`
 * (relative) below the mean of the first quarter. Read from the run's own loss values: a chart's
 * axis rescales to the data, so any decrease at all looks like a fall in pixels.
 */
export function lossFallProblem(losses, minDrop = 0.1) {
  if (!Array.isArray(losses) || losses.length < 2)
    return `a loss curve needs at least 2 steps, got ${losses?.length ?? 'none'}`;
  if (!finite(losses)) return `the loss history has non-finite values: ${losses.join(', ')}`;
  const k = Math.max(1, Math.floor(losses.length / 4));
  const first = mean(losses.slice(0, k)),
    last = mean(losses.slice(-k));
  if (!(last <= (1 - minDrop) * first))
    return `the loss should fall by ${minDrop * 100}% at least: first ${k} step(s) ${first.toFixed(4)}, last ${k} ${last.toFixed(4)} (${(((first - last) / first) * 100).toFixed(1)}%)`;
  return undefined;
}

/** Two engines trained the same steps: both histories hold exactly `steps` losses, each within `rel`. */
export function sameLossesProblem(got, want, steps, rel = 1e-3) {
  if (!(steps > 0)) return `the run should have steps, expected ${steps}`;
  if (got.length !== steps || want.length !== steps)
    return `loss histories should hold ${steps} steps: got ${got.length}, reference ${want.length}`;
  if (!finite(got) || !finite(want)) return 'a loss history has non-finite values';
  for (let i = 0; i < steps; i++)
    if (!(Math.abs(got[i] - want[i]) <= rel * Math.abs(want[i])))
      return `step ${i + 1}: ${got[i]} against ${want[i]} (more than ${rel} relative)`;
  return undefined;
}

/**
 * An evaluation report that can be wrong: at least 2 rows (one row at 0% or 100% agrees with
 * anything), exact match a percentage of them, and every row not matched listed as a wrong answer.
 */
export function evalReportProblem(rows, exactText, wrongListed) {
  if (!(rows >= 2)) return `an evaluation of ${rows} row(s) proves nothing: use at least 2`;
  const m = /^(\d+(?:\.\d)?)%$/.exec(exactText);
  if (!m) return `exact match should be a percentage, got "${exactText}"`;
  const right = (Number(m[1]) / 100) * rows;
  // the page shows one decimal: 0.05% of the rows at most away from a whole count
  if (Math.abs(right - Math.round(right)) > 0.0005 * rows + 1e-9)
    return `${exactText} of ${rows} rows is not a whole number of rows`;
  if (wrongListed + Math.round(right) !== rows)
    return `wrong answers listed (${wrongListed}) + right ones (${Math.round(right)}) should be the ${rows} rows`;
  return undefined;
}
