// The CPU twin of the fused projections (Ops.linearForward / linearBackward): the same sums,
// made of the single-projection kernels one after another, so they are also the oracle the
// fused WGSL kernels are tested against.

import { dropoutThreshold, hash32, type Dropout, type NormDxa, type NormXa, type Ops, type Projection, type SwigluDxa } from '../ops.ts';

export function linearForwardComposite<T, W>(ops: Ops<T, W>, outs: T[], inp: T, projs: Projection<T, W>[], resid: T | null,
  N: number, In: number, R: number, scale: number): void {
  projs.forEach((p, i) => {
    ops.matmulForward(outs[i], inp, p.w, p.bias, N, In, p.O);
    if (p.lora) ops.loraForward(outs[i], p.lora.xa, inp, p.lora.a, p.lora.b, N, In, p.O, R, scale, p.lora.dropout);
    if (resid) ops.addInPlace(outs[i], resid, N * p.O);
  });
}

export function linearBackwardComposite<T, W>(ops: Ops<T, W>, dinp: T, douts: T[], inp: T, projs: Projection<T, W>[],
  N: number, In: number, R: number, scale: number): void {
  ops.zero(dinp, N * In);
  projs.forEach((p, i) => {
    ops.matmulBackward(dinp, douts[i], p.w, N, In, p.O);
    const l = p.lora;
    if (l) ops.loraBackward(dinp, l.da, l.db, l.dxa, douts[i], inp, l.xa, l.a, l.b, N, In, p.O, R, scale, l.dropout);
  });
}

/**
 * The twin of rmsnorm.backward_dxa's second half: dxa = scale * dinp @ b, row by row, once dinp
 * is whole. The CPU's loraBackward makes the same dxa again from the same dinp (it ignores
 * dxaReady): N R C multiply-adds, nothing beside the projection's matmul.
 */
export function normDxa(dinp: Float32Array, next: NormDxa<Float32Array>, N: number, C: number): void {
  const { b, dxa, R, scale } = next;
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < R; j++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += dinp[n * C + c] * b[c * R + j];
      dxa[n * R + j] = scale * s;
    }
  }
}

/** Multiplier of element e of a dropout call: 0 when dropped, 1/(1-p) when kept. */
export function dropoutScaleFn(d: Dropout): ((e: number) => number) | null {
  if (d.p <= 0) return null;
  const threshold = dropoutThreshold(d.p), keep = 1 / (1 - d.p);
  return (e) => (hash32(d.seed, e) >= threshold ? keep : 0);
}

/**
 * The twin of rmsnorm.forward_xa's second half: xa_p = dropout_p(out) @ a_pᵀ for each part, as
 * loraForward makes it (which the CPU's linearForward still does, from the same out: it ignores
 * xaReady).
 */
export function normXa(out: Float32Array, next: NormXa<Float32Array>, N: number, C: number): void {
  const R = next.R;
  for (const { a, xa, dropout } of next.parts) {
    const drop = dropoutScaleFn(dropout);
    for (let n = 0; n < N; n++) {
      for (let r = 0; r < R; r++) {
        let s = 0;
        for (let c = 0; c < C; c++) {
          const e = n * C + c;
          s += (drop ? out[e] * drop(e) : out[e]) * a[r * C + c];
        }
        xa[n * R + r] = s;
      }
    }
  }
}

/** The twin of swiglu.backward_dxa's second half: gate's and up's dxa from dgate and dup (n = N I values each). */
export function swigluDxa(dgate: Float32Array, dup: Float32Array, next: SwigluDxa<Float32Array>, n: number): void {
  normDxa(dgate, next.gate, next.N, n / next.N);
  normDxa(dup, next.up, next.N, n / next.N);
}
