// Plain-text rendering of an EvalReport for the CLI (the UI renders the same object itself).

import { noSlotsToScore, type EvalReport, type GroupScores } from './metrics.ts';

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

function scoreLine(label: string, g: GroupScores): string {
  // An intent without slots has nothing to score: a dash, not a 100% that invalid JSON would also earn.
  const slot = (x: number) => (noSlotsToScore(g) ? '-' : pct(x));
  return [
    label.padEnd(24),
    String(g.rows).padStart(5),
    pct(g.intentAccuracy).padStart(8),
    slot(g.slotPrecision).padStart(8),
    slot(g.slotRecall).padStart(8),
    slot(g.slotF1).padStart(8),
    pct(g.exactMatch).padStart(8),
    pct(g.invalidJsonRate).padStart(8),
  ].join(' ');
}

/** A table overall and per intent, then every wrong answer beside the expected one. */
export function formatReport(r: EvalReport, maxWrong = Infinity): string {
  const lines: string[] = [];
  lines.push(`rows: ${r.rows} (tool calls ${r.toolRows}, free text ${r.textRows}); accuracy ${pct(r.accuracy)}`);
  if (r.tool) {
    lines.push('');
    lines.push(
      [
        'intent'.padEnd(24),
        'rows'.padStart(5),
        'intent'.padStart(8),
        'slot P'.padStart(8),
        'slot R'.padStart(8),
        'slot F1'.padStart(8),
        'exact'.padStart(8),
        'bad JSON'.padStart(8),
      ].join(' '),
    );
    lines.push(scoreLine('(all tool calls)', r.tool));
    for (const [name, g] of Object.entries(r.perIntent)) lines.push(scoreLine(name, g));
  }
  if (r.textExactMatch !== undefined) lines.push('', `free-text exact match: ${pct(r.textExactMatch)}`);
  if (r.wrong.length) {
    lines.push('', `wrong answers (${r.wrong.length}):`);
    for (const w of r.wrong.slice(0, maxWrong)) {
      lines.push(`  #${w.index} ${w.reason}`);
      lines.push(`    expected:  ${w.expected}`);
      lines.push(`    generated: ${JSON.stringify(w.generated)}`);
    }
    if (r.wrong.length > maxWrong) lines.push(`  ... and ${r.wrong.length - maxWrong} more`);
  }
  return lines.join('\n');
}
