// The LoRA factor launches of the fused projections (shaders/lora.wgsl): xa = dropout(x) @ aᵀ
// before the matmul's epilogue, and in the backward dxa = scale * dy @ b and the adapter
// gradients. Split from linear.ts, which calls these, because they are a kernel family of their
// own (one launch for all parts of a group, or one per part when their views do not line up).

import { loraRankLimit } from '../plan.ts';
import { EngineError } from '../../core/errors.ts';
import type { Projection } from '../ops.ts';
import { rowsGrid } from './command-stream.ts';
import type { GpuTensor, GpuWeight, Region } from './memory.ts';
import { type LinearHost, dropoutParams, loraBase, perPart, span } from './launch-parts.ts';

/** xa_p = dropout_p(inp) @ a_pᵀ for every LoRA part, one launch when the views allow. */
export function loraXa(
  host: LinearHost,
  inp: GpuTensor,
  parts: NonNullable<Projection<GpuTensor, GpuWeight>['lora']>[],
  N: number,
  In: number,
  R: number,
): void {
  const a = span(parts.map((p) => p.a)),
    xa = span(parts.map((p) => p.xa));
  if (!a || !xa) {
    for (const p of parts) loraXa(host, inp, [p], N, In, R);
    return;
  }
  if (parts.length * R * 16 > 4096)
    throw new EngineError(
      `LoRA rank ${R} x ${parts.length} projections is over the kernel's 4096 outputs per workgroup`,
    );
  const params = {
    ...loraBase(N, In, R, parts.length),
    ...perPart('a', a.offs),
    ...perPart('x', xa.offs),
    ...dropoutParams(parts.map((p) => p.dropout)),
  };
  host.run('lora.xa_forward', { inp, adapter: a.region, xa: xa.region }, params, rowsGrid(Math.ceil(N / 16)));
}

/** dxa_p = scale * douts[p] @ b_p for every LoRA part. */
export function loraDxa(
  host: LinearHost,
  douts: GpuTensor[],
  loras: NonNullable<Projection<GpuTensor, GpuWeight>['lora']>[],
  widths: number[],
  N: number,
  R: number,
  scale: number,
): void {
  const dy = span(douts),
    bs = span(loras.map((l) => l.b)),
    ds = span(loras.map((l) => l.dxa));
  if (!dy || !bs || !ds) {
    loras.forEach((l, i) => loraDxa(host, [douts[i]], [l], [widths[i]], N, R, scale));
    return;
  }
  const params = {
    ...loraBase(N, 0, R, loras.length),
    ...perPart('O', widths),
    ...perPart('y', dy.offs),
    ...perPart('b', bs.offs),
    ...perPart('x', ds.offs),
    scale,
  };
  host.run(
    'lora.dxa_backward',
    { dy: dy.region, adapter: bs.region, dxa: ds.region },
    params,
    rowsGrid(Math.ceil(N / 16)),
  );
}

/** db_p += scale * douts[p]ᵀ @ xa_p and da_p += dxa_pᵀ @ dropout_p(inp), one launch of 32-column blocks. */
export function loraGrads(
  host: LinearHost,
  douts: GpuTensor[],
  inp: GpuTensor,
  loras: NonNullable<Projection<GpuTensor, GpuWeight>['lora']>[],
  widths: number[],
  N: number,
  In: number,
  R: number,
  scale: number,
): void {
  // the same bound the page and the CLI refuse early (engine/plan.ts loraRankLimit)
  if (R > loraRankLimit('webgpu'))
    throw new EngineError(`LoRA rank ${R}: the gradient kernel takes at most ${loraRankLimit('webgpu')}`);
  const dy = span(douts),
    xs = span(loras.map((l) => l.xa)),
    ds = span(loras.map((l) => l.dxa));
  const gs = span([...loras.map((l) => l.da), ...loras.map((l) => l.db)]);
  if (!dy || !xs || !ds || !gs) {
    if (loras.length > 1)
      return loras.forEach((l, i) => loraGrads(host, [douts[i]], inp, [l], [widths[i]], N, In, R, scale));
    if (!dy || !xs || !ds)
      throw new EngineError("LoRA gradients: one projection's tensors did not form single bindings");
    // da and db in different buffers: one launch each
    gradsLaunch(
      host,
      dy.offs,
      xs.offs,
      ds.offs,
      [0],
      [0],
      { dy: dy.region, xa: xs.region, dxa: ds.region, inp, grads: loras[0].db },
      loras,
      widths,
      N,
      In,
      R,
      scale,
      'b',
    );
    gradsLaunch(
      host,
      dy.offs,
      xs.offs,
      ds.offs,
      [0],
      [0],
      { dy: dy.region, xa: xs.region, dxa: ds.region, inp, grads: loras[0].da },
      loras,
      widths,
      N,
      In,
      R,
      scale,
      'a',
    );
    return;
  }
  const n = loras.length;
  gradsLaunch(
    host,
    dy.offs,
    xs.offs,
    ds.offs,
    gs.offs.slice(0, n),
    gs.offs.slice(n),
    { dy: dy.region, xa: xs.region, dxa: ds.region, inp, grads: gs.region },
    loras,
    widths,
    N,
    In,
    R,
    scale,
    'ab',
  );
}

function gradsLaunch(
  host: LinearHost,
  yOffs: number[],
  xOffs: number[],
  dOffs: number[],
  gaOffs: number[],
  gbOffs: number[],
  bindings: Record<string, Region>,
  loras: NonNullable<Projection<GpuTensor, GpuWeight>['lora']>[],
  widths: number[],
  N: number,
  In: number,
  R: number,
  scale: number,
  which: 'a' | 'b' | 'ab',
): void {
  const n = loras.length;
  const blocks = [0, 1, 2]
    .map((i) => (i < n && which !== 'a' ? Math.ceil(widths[i] / 32) : 0))
    .concat([0, 1, 2].map((i) => (i < n && which !== 'b' ? Math.ceil(In / 32) : 0)));
  const ends = blocks.map((_, i) => blocks.slice(0, i + 1).reduce((a, b) => a + b, 0));
  const params = {
    ...loraBase(N, In, R, n),
    ...perPart('O', widths),
    ...perPart('y', yOffs),
    ...perPart('x', xOffs),
    ...perPart('d', dOffs),
    ...perPart('ga', gaOffs),
    ...perPart('gb', gbOffs),
    ...dropoutParams(loras.map((l) => l.dropout)),
    scale,
    j1: ends[0],
    j2: ends[1],
    j3: ends[2],
    j4: ends[3],
    j5: ends[4],
    j6: ends[5],
  };
  host.run('lora.grads_backward', bindings, params, rowsGrid(ends[5]));
}
