// Launch parameters shared by the fused projections (linear.ts) and the LoRA factor launches
// (lora-launch.ts): the host interface they launch through, views joined into one binding, and
// the per-part uniform fields. Split out so both can use them without importing each other.

import type { WeightFormat } from '../../core/dtype.ts';
import { EngineError } from '../../core/errors.ts';
import { dropoutThreshold, type Dropout } from '../ops.ts';
import type { Grid } from './command-stream.ts';
import type { GpuTensor, GpuWeight, Region } from './memory.ts';
import type { MatmulPlan } from './variants.ts';

export interface LinearHost {
  run(
    name: string,
    bindings: Record<string, Region>,
    params: Record<string, number>,
    grid: Grid,
    dtype?: WeightFormat | null,
    variant?: string,
  ): void;
  scratch(name: string, n: number): GpuTensor;
  /** Stand-ins for bindings a launch does not use: one read-only, one writable (they may not share a buffer). */
  readonly dummy: GpuTensor;
  readonly dummyOut: GpuTensor;
  /** The weights as one region (regrouping them into one buffer on first use), or null. */
  groupWeights(ws: GpuWeight[]): { region: Region; offs: number[] } | null;
  /** The biases of a group packed into one tensor, built once. */
  packBiases(biases: (GpuTensor | null)[], widths: number[]): GpuTensor;
  /** Matmul tile variant and K split for an output of rows x cols summing over K. */
  plan(rows: number, cols: number, K: number, allowBig?: boolean): MatmulPlan;
}

/** Several views of one buffer as one binding, with each view's element offset in it. */
export function span(ts: GpuTensor[]): { region: Region; offs: number[] } | null {
  const buffer = ts[0].buffer;
  if (ts.some((t) => t.buffer !== buffer)) return null;
  const lo = Math.min(...ts.map((t) => t.offset)),
    hi = Math.max(...ts.map((t) => t.offset + t.size));
  return { region: { buffer, offset: lo, size: hi - lo }, offs: ts.map((t) => (t.offset - lo) / 4) };
}

const at = <X>(xs: X[], i: number, fallback: X): X => (i < xs.length ? xs[i] : fallback);

export function perPart(prefix: string, values: number[]): Record<string, number> {
  return { [`${prefix}0`]: at(values, 0, 0), [`${prefix}1`]: at(values, 1, 0), [`${prefix}2`]: at(values, 2, 0) };
}

export function dropoutParams(ds: Dropout[]): Record<string, number> {
  const p = ds[0]?.p ?? 0;
  if (ds.some((d) => d.p !== p)) throw new EngineError('LoRA parts of one launch must share the dropout rate');
  return {
    ...perPart(
      'seed',
      ds.map((d) => d.seed >>> 0),
    ),
    threshold: dropoutThreshold(p),
    keepScale: p > 0 ? 1 / (1 - p) : 1,
    dropOn: p > 0 ? 1 : 0,
  };
}

/** The matmul's part boundaries e1, e2 and cols from the part widths (at most three). */
export function bounds(widths: number[]): { e1: number; e2: number; cols: number } {
  if (widths.length > 3) throw new EngineError(`a fused launch takes at most 3 projections, got ${widths.length}`);
  const cols = widths.reduce((a, b) => a + b, 0);
  return { e1: at(widths, 0, cols), e2: widths.length > 1 ? widths[0] + widths[1] : cols, cols };
}

/** The uniform fields every LoRA launch has, zeroed: each launch sets its own after. */
export function loraBase(N: number, In: number, R: number, nparts: number): Record<string, number> {
  const zero3 = (p: string) => perPart(p, []);
  return {
    N,
    In,
    R,
    nparts,
    ...zero3('O'),
    ...zero3('a'),
    ...zero3('b'),
    ...zero3('x'),
    ...zero3('y'),
    ...zero3('d'),
    ...zero3('ga'),
    ...zero3('gb'),
    ...zero3('seed'),
    threshold: 0,
    keepScale: 1,
    dropOn: 0,
    scale: 1,
    j1: 0,
    j2: 0,
    j3: 0,
    j4: 0,
    j5: 0,
    j6: 0,
  };
}
