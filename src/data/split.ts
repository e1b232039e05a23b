// The train/eval split, and what a page needs to show it for a million rows without a long task:
// the two sides' sizes (arithmetic, no pass over the rows) and work over all rows in slices.

import { seededShuffle } from '../core/rng.ts';

export interface SplitOptions {
  /** Share of the rows held out for evaluation, 0..1. */
  evalFraction: number;
  seed: number;
}

/** How many of `n` rows the split holds out: at least one on each side when n >= 2 and the fraction > 0. */
export function evalCount(n: number, evalFraction: number): number {
  if (!(evalFraction >= 0 && evalFraction < 1))
    throw new RangeError(`evalFraction must be in [0, 1), got ${evalFraction}`);
  const k = Math.round(n * evalFraction);
  return evalFraction > 0 && n >= 2 ? Math.min(Math.max(k, 1), n - 1) : k;
}

/**
 * A seed-determined train/eval split. At least one row lands on each side when there are two
 * or more rows and evalFraction > 0; each side keeps the rows' original order.
 */
export function splitDataset<T>(rows: readonly T[], opts: SplitOptions): { train: T[]; eval: T[] } {
  const k = evalCount(rows.length, opts.evalFraction);
  const held = new Set(seededShuffle([...rows.keys()], opts.seed).slice(0, k));
  return { train: rows.filter((_, i) => !held.has(i)), eval: rows.filter((_, i) => held.has(i)) };
}

/** Rows visited per slice by forEachInSlices: well under 10 ms of light per-row work. */
const SLICE_ROWS = 20_000;

/** A loop over many rows that gives the event loop a turn between slices (no main-thread task over ~10 ms). */
export async function forEachInSlices<T>(
  items: readonly T[],
  fn: (item: T, i: number) => void,
  slice = SLICE_ROWS,
): Promise<void> {
  for (let at = 0; at < items.length; at += slice) {
    if (at > 0) await new Promise((resolve) => setTimeout(resolve, 0));
    const end = Math.min(items.length, at + slice);
    for (let i = at; i < end; i++) fn(items[i], i);
  }
}
