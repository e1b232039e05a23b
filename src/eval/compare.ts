// Two evaluation reports side by side, per intent: what a retraining round fixed and broke.

import type { EvalReport, GroupScores } from './metrics.ts';

export interface IntentComparison {
  intent: string;
  a?: GroupScores;
  b?: GroupScores;
  /** b's exact-match rate minus a's, when both evaluated the intent. */
  exactDelta?: number;
}

/** A run's evaluations, as far as comparing needs them. */
export interface SetReport {
  decoding: 'free' | 'constrained';
  report: EvalReport;
  /** The evaluation set's fingerprint; undefined for reports filed before sets were recorded. */
  evalSet?: string;
}

/**
 * The latest reports of two runs measured on the same evaluation set (the latest set both
 * have), or 'different-sets' when they share none: scores on different rows are not a gain.
 */
export function sameSetReports(
  a: readonly SetReport[],
  b: readonly SetReport[],
  decoding: 'free' | 'constrained',
): { a: EvalReport; b: EvalReport; evalSet?: string } | 'different-sets' | undefined {
  const as = a.filter((e) => e.decoding === decoding),
    bs = b.filter((e) => e.decoding === decoding);
  if (!as.length || !bs.length) return undefined;
  for (let i = as.length - 1; i >= 0; i--) {
    let j = bs.length - 1;
    while (j >= 0 && bs[j].evalSet !== as[i].evalSet) j--;
    if (j >= 0)
      return { a: as[i].report, b: bs[j].report, ...(as[i].evalSet !== undefined ? { evalSet: as[i].evalSet } : {}) };
  }
  return 'different-sets';
}

/** Every intent either report has, by name; the overall tool scores first as "(all)". */
export function compareReports(a: EvalReport, b: EvalReport): IntentComparison[] {
  const names = [...new Set([...Object.keys(a.perIntent), ...Object.keys(b.perIntent)])].sort();
  const row = (intent: string, x?: GroupScores, y?: GroupScores): IntentComparison => ({
    intent,
    a: x,
    b: y,
    ...(x && y ? { exactDelta: y.exactMatch - x.exactMatch } : {}),
  });
  return [row('(all)', a.tool, b.tool), ...names.map((n) => row(n, a.perIntent[n], b.perIntent[n]))];
}
