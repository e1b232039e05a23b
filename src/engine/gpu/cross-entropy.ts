// Host side of shaders/crossentropy.wgsl: the vocabulary in slices of at most `sliceElements`
// logits, each slice a logits launch (with its softmax partials), a stats launch and a dh launch
// split over the slice when the (M, C) output alone would leave the GPU idle.

import { EngineError } from '../../core/errors.ts';
import { grid1d, type Grid } from './command-stream.ts';
import type { LinearHost } from './linear.ts';
import type { GpuTensor, GpuWeight } from './memory.ts';

const TILE = 64; // the cross-entropy kernels use mm_core's 64 x 64 tiles

export function crossEntropy(
  host: LinearHost,
  variant: string,
  sliceElements: number,
  losses: GpuTensor,
  dh: GpuTensor,
  h: GpuTensor,
  w: GpuWeight,
  targets: GpuTensor,
  M: number,
  C: number,
  V: number,
  gradScale: number,
): void {
  if (w.rows !== V || w.cols !== C)
    throw new EngineError(`cross-entropy: weight ${w.label} is (${w.rows}, ${w.cols}), expected (${V}, ${C})`);
  if (M === 0) return;
  const slice = Math.max(TILE, Math.min(alignUp(V, TILE), Math.floor(sliceElements / M / TILE) * TILE));
  const logits = host.scratch('ce.logits', M * slice);
  const part = host.scratch('ce.part', 2 * M * Math.ceil(slice / TILE));
  const stats = host.scratch('ce.stats', 4 * M);
  const base = {
    M,
    C,
    V,
    vc: 0,
    v0: 0,
    wrow0: 0,
    stride: w.stride,
    ncb: 0,
    first: 1,
    gradScale,
    kSplit: 1,
    kChunk: 0,
    r0: 0,
    rows: 0,
  };
  for (const chunk of w.chunks) {
    for (let r = 0; r < chunk.rows; r += slice) {
      const vc = Math.min(slice, chunk.rows - r),
        ncb = Math.ceil(vc / TILE);
      const p = { ...base, vc, v0: chunk.row0 + r, wrow0: r * w.stride, ncb, kChunk: C };
      host.run(
        'crossentropy.logits_forward',
        { h, wt: chunk, logits, part, stats, targets },
        p,
        [ncb, Math.ceil(M / TILE)],
        w.dtype,
        variant,
      );
      host.run('crossentropy.stats_update', { part, stats }, p, grid1d(M));
      const plan = host.plan(M, C, vc, false);
      const partial = plan.kSplit > 1 ? host.scratch('ce.partial', plan.kSplit * M * C) : host.dummyOut;
      const q = { ...p, kSplit: plan.kSplit, kChunk: plan.kChunk };
      const grid: Grid = [Math.ceil(C / TILE), Math.ceil(M / TILE), plan.kSplit];
      host.run('crossentropy.dh_backward', { logits, stats, wt: chunk, partial, dh }, q, grid, w.dtype, variant);
      if (plan.kSplit > 1) host.run('crossentropy.dh_reduce', { partial, stats, dh }, q, grid1d(M * C));
      base.first = 0;
    }
  }
  w.chunks.forEach((chunk, i) => {
    const p = { ...base, r0: chunk.row0, rows: chunk.rows };
    if (i === 0)
      host.run('crossentropy.finalize', { dh, stats, losses, targets, wt: chunk }, p, grid1d(M * C), w.dtype);
    else host.run('crossentropy.onehot', { dh, targets, wt: chunk }, p, grid1d(M * C), w.dtype);
  });
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;
