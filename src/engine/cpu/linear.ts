// The CPU twin of the fused projections (Ops.linearForward / linearBackward): the same sums,
// made of the single-projection kernels one after another, so they are also the oracle the
// fused WGSL kernels are tested against.

import type { Ops, Projection } from '../ops.ts';

export function linearForwardComposite<T, W>(
  ops: Ops<T, W>,
  outs: T[],
  inp: T,
  projs: Projection<T, W>[],
  resid: T | null,
  N: number,
  In: number,
  R: number,
  scale: number,
): void {
  projs.forEach((p, i) => {
    ops.matmulForward(outs[i], inp, p.w, p.bias, N, In, p.O);
    if (p.lora) ops.loraForward(outs[i], p.lora.xa, inp, p.lora.a, p.lora.b, N, In, p.O, R, scale, p.lora.dropout);
    if (resid) ops.addInPlace(outs[i], resid, N * p.O);
  });
}

export function linearBackwardComposite<T, W>(
  ops: Ops<T, W>,
  dinp: T,
  douts: T[],
  inp: T,
  projs: Projection<T, W>[],
  N: number,
  In: number,
  R: number,
  scale: number,
): void {
  ops.zero(dinp, N * In);
  projs.forEach((p, i) => {
    ops.matmulBackward(dinp, douts[i], p.w, N, In, p.O);
    const l = p.lora;
    if (l) ops.loraBackward(dinp, l.da, l.db, l.dxa, douts[i], inp, l.xa, l.a, l.b, N, In, p.O, R, scale, l.dropout);
  });
}
