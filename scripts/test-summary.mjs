// The count behind scripts/test.mjs's closing line, as pure functions (test/test-runner.test.ts):
// each part's report becomes results { name, status: passed|failed|skipped, reason? }.

/** vitest's JSON report (undefined when it wrote none) -> results. `reasons`: file -> why it skipped. */
export function vitestResults(report, { code, why, reasons, ci, rel = (p) => p, log = 'its log' }) {
  const out = [];
  if (!report)
    return [{ name: 'vitest', status: 'failed', reason: `exited ${code} without a report${why ? ` (${why})` : ''}` }];
  for (const f of report.testResults) {
    const file = rel(f.name);
    let failedHere = 0;
    for (const a of f.assertionResults) {
      const name = `${file} > ${a.fullName}`;
      if (a.status === 'passed') out.push({ name, status: 'passed' });
      else if (a.status === 'failed') {
        failedHere++;
        out.push({ name, status: 'failed', reason: a.failureMessages?.[0]?.split('\n')[0] });
      } else {
        const reason = reasons.get(file);
        // No silent skip: under CI a skip that names no reason is a failure.
        out.push({
          name,
          status: !reason && ci ? 'failed' : 'skipped',
          reason: reason ?? 'no reason recorded (use needTool/needGpu from test/helpers)',
        });
      }
    }
    // A file that failed outside any test (import error, a throwing describe, a hook) counts once.
    if (f.status === 'failed' && failedHere === 0)
      out.push({ name: `${file} (the file)`, status: 'failed', reason: f.message?.split('\n')[0] });
  }
  if (code !== 0 && !out.some((x) => x.status === 'failed'))
    out.push({
      name: 'vitest',
      status: 'failed',
      reason: `exited ${code} with no test failing (an unhandled error? see ${log})`,
    });
  return out;
}

/** The lines test/helpers/skip.ts appended: file -> "what: reason; …". */
export function skipReasons(text) {
  const map = new Map();
  for (const line of text.split('\n').filter(Boolean)) {
    const { file, what, reason } = JSON.parse(line);
    const entry = `${what}: ${reason}`;
    const prev = map.get(file);
    if (!prev?.includes(entry)) map.set(file, prev ? `${prev}; ${entry}` : entry);
  }
  return map;
}

/** e2e/run.mjs --summary (undefined when it wrote none) -> results. */
export function e2eResults(summary, { code, why }) {
  if (!summary)
    return [
      { name: 'e2e/run.mjs', status: 'failed', reason: `exited ${code} without a summary${why ? ` (${why})` : ''}` },
    ];
  const out = summary.map((t) => ({ name: `e2e ${t.name}`, status: t.status, reason: t.reason }));
  if (code !== 0 && !out.some((x) => x.status === 'failed'))
    out.push({ name: 'e2e/run.mjs', status: 'failed', reason: `exited ${code}` });
  return out;
}

/**
 * `prettier --check --log-level warn` (npm run format:check) -> one result: passed, or failed
 * naming every unformatted file ("[warn] path" lines; the closing "[warn] Code style issues…"
 * line is not a file) and every file prettier could not parse ("[error] path: SyntaxError…").
 * A failure that names no file (prettier not installed, say) keeps the first line of output.
 */
export function formatResults(output, { code, why }) {
  const name = 'format (prettier --check)';
  if (code === 0) return [{ name, status: 'passed' }];
  const lines = (output ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const files = lines
    .filter((l) => l.startsWith('[warn] ') && !l.startsWith('[warn] Code style issues'))
    .map((l) => l.slice(7));
  const broken = lines
    .map((l) => /^\[error\] (\S+?): (\w*Error)/.exec(l))
    .filter(Boolean)
    .map((m) => `${m[1]} (${m[2]})`);
  const said = [];
  if (files.length)
    said.push(
      `${files.length} file${files.length === 1 ? '' : 's'} not formatted (npm run format fixes them): ${files.join(', ')}`,
    );
  if (broken.length) said.push(`cannot parse: ${broken.join(', ')}`);
  const reason = said.length ? said.join('; ') : `exited ${code}${why ? ` (${why})` : ''}: ${lines[0] ?? 'no output'}`;
  return [{ name, status: 'failed', reason }];
}

const count = (list, status) => list.filter((x) => x.status === status).length;

/** The closing report: per part, the failures, every skip with its reason, then the one line. */
export function closing(title, parts) {
  const all = parts.flatMap((p) => p.results);
  const lines = [`\n==== ${title} ====`];
  for (const p of parts)
    lines.push(
      `${p.part}: ${count(p.results, 'passed')} passed, ${count(p.results, 'failed')} failed, ${count(p.results, 'skipped')} skipped (${p.seconds.toFixed(0)} s)`,
    );
  const failed = all.filter((x) => x.status === 'failed');
  if (failed.length) lines.push('', 'failed:', ...failed.map((f) => `  ✗ ${f.name}${f.reason ? `: ${f.reason}` : ''}`));
  const skipped = all.filter((x) => x.status === 'skipped');
  if (skipped.length) lines.push('', 'skipped:', ...skipped.map((s) => `  ↓ ${s.name}: ${s.reason}`));
  lines.push('', `${count(all, 'passed')} passed, ${failed.length} failed, ${skipped.length} skipped`);
  return { lines, ok: failed.length === 0 && all.length > 0 };
}
