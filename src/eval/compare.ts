// Two evaluation reports side by side, per intent: what a retraining round fixed and broke.

import type { EvalReport, GroupScores } from './metrics.ts';

export interface IntentComparison {
  intent: string;
  a?: GroupScores;
  b?: GroupScores;
  /** b's exact-match rate minus a's, when both evaluated the intent. */
  exactDelta?: number;
}

/** Every intent either report has, by name; the overall tool scores first as "(all)". */
export function compareReports(a: EvalReport, b: EvalReport): IntentComparison[] {
  const names = [...new Set([...Object.keys(a.perIntent), ...Object.keys(b.perIntent)])].sort();
  const row = (intent: string, x?: GroupScores, y?: GroupScores): IntentComparison => ({
    intent, a: x, b: y, ...(x && y ? { exactDelta: y.exactMatch - x.exactMatch } : {}),
  });
  return [row('(all)', a.tool, b.tool), ...names.map((n) => row(n, a.perIntent[n], b.perIntent[n]))];
}
