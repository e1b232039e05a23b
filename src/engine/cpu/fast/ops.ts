// The fast CPU backend: CpuOps with the hot kernels (base and LoRA matmuls, the vocabulary
// cross-entropy, attention, SwiGLU, RMSNorm) run as WebAssembly SIMD over several threads;
// the cheap ones (RoPE, adds, AdamW...) stay CpuOps' scalar code. Tensors and weights live
// in the kernels' shared memory so kernels read them in place; with a private memory (no
// SharedArrayBuffer) they stay ordinary arrays and each call stages its operands.
// This file holds the LoRA, attention and cross-entropy kernels; memory, staging and the row-wise
// kernels are in layer-ops.ts (FastCpuLayerOps), which this extends.

import { EngineError } from '../../../core/errors.ts';
import type { Dropout } from '../../ops.ts';
import { type CpuTensor, type CpuWeight, weightRow } from '../ops.ts';
import { FastKernels, type FastKernelOptions } from './kernels.ts';
import { FastCpuLayerOps, Staging, checkWeight } from './layer-ops.ts';

/** Vocabulary rows per cross-entropy chunk: bounds the (M, chunk) logits scratch. */
const CE_CHUNK = 4096;

export class FastCpuOps extends FastCpuLayerOps {
  static async create(opts: FastKernelOptions = {}): Promise<FastCpuOps> {
    return new FastCpuOps(await FastKernels.create(opts));
  }

  // ---- LoRA

  override loraForward(
    out: CpuTensor,
    xa: CpuTensor,
    inp: CpuTensor,
    a: CpuTensor,
    b: CpuTensor,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
    dropout: Dropout,
  ): void {
    const k = this.kernels;
    const dropped = dropout.p > 0 ? this.scratch('dropped', N * In * 4) : 0;
    const s = new Staging(k);
    try {
      let x = s.in(inp);
      if (dropped) {
        k.dropout(dropped, x, N * In, dropout.seed, 0, dropout.p, false);
        x = dropped;
      }
      const pxa = s.out(xa);
      // xa (N,R) = x (N,In) @ aᵀ
      k.gemm({
        M: N,
        J: R,
        K: In,
        A: x,
        sAm: In,
        sAk: 1,
        B: s.in(a),
        bdtype: 'f32',
        sBk: 1,
        sBj: In,
        C: pxa,
        ldc: R,
        alpha: 1,
        accumulate: false,
        bias: 0,
      });
      // out (N,O) += scale * xa @ bᵀ
      k.gemm({
        M: N,
        J: O,
        K: R,
        A: pxa,
        sAm: R,
        sAk: 1,
        B: s.in(b),
        bdtype: 'f32',
        sBk: 1,
        sBj: R,
        C: s.out(out),
        ldc: O,
        alpha: scale,
        accumulate: true,
        bias: 0,
      });
    } finally {
      s.done();
    }
  }

  override loraBackward(
    dinp: CpuTensor,
    da: CpuTensor,
    db: CpuTensor,
    dxa: CpuTensor,
    dout: CpuTensor,
    inp: CpuTensor,
    xa: CpuTensor,
    a: CpuTensor,
    b: CpuTensor,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
    dropout: Dropout,
  ): void {
    const k = this.kernels;
    const drop = dropout.p > 0;
    const dropped = drop ? this.scratch('dropped', N * In * 4) : 0;
    const dx = drop ? this.scratch('loraDinp', N * In * 4) : 0;
    const s = new Staging(k);
    try {
      const pdout = s.in(dout),
        pdxa = s.out(dxa);
      // dxa (N,R) = scale * dout (N,O) @ b (O,R)
      k.gemm({
        M: N,
        J: R,
        K: O,
        A: pdout,
        sAm: O,
        sAk: 1,
        B: s.in(b),
        bdtype: 'f32',
        sBk: R,
        sBj: 1,
        C: pdxa,
        ldc: R,
        alpha: scale,
        accumulate: false,
        bias: 0,
      });
      // db (O,R) += scale * doutᵀ @ xa (N,R)
      k.gemm({
        M: O,
        J: R,
        K: N,
        A: pdout,
        sAm: 1,
        sAk: O,
        B: s.in(xa),
        bdtype: 'f32',
        sBk: R,
        sBj: 1,
        C: s.out(db),
        ldc: R,
        alpha: scale,
        accumulate: true,
        bias: 0,
      });
      let x = s.in(inp);
      if (drop) {
        k.dropout(dropped, x, N * In, dropout.seed, 0, dropout.p, false);
        x = dropped;
      }
      // da (R,In) += dxaᵀ @ dropout(inp)
      k.gemm({
        M: R,
        J: In,
        K: N,
        A: pdxa,
        sAm: 1,
        sAk: R,
        B: x,
        bdtype: 'f32',
        sBk: In,
        sBj: 1,
        C: s.out(da),
        ldc: In,
        alpha: 1,
        accumulate: true,
        bias: 0,
      });
      // dinp (N,In) += dropout'(dxa @ a)
      const pa = s.in(a),
        pdinp = s.out(dinp);
      if (drop) {
        k.gemm({
          M: N,
          J: In,
          K: R,
          A: pdxa,
          sAm: R,
          sAk: 1,
          B: pa,
          bdtype: 'f32',
          sBk: In,
          sBj: 1,
          C: dx,
          ldc: In,
          alpha: 1,
          accumulate: false,
          bias: 0,
        });
        k.dropout(pdinp, dx, N * In, dropout.seed, 0, dropout.p, true);
      } else {
        k.gemm({
          M: N,
          J: In,
          K: R,
          A: pdxa,
          sAm: R,
          sAk: 1,
          B: pa,
          bdtype: 'f32',
          sBk: In,
          sBj: 1,
          C: pdinp,
          ldc: In,
          alpha: 1,
          accumulate: true,
          bias: 0,
        });
      }
    } finally {
      s.done();
    }
  }

  // ---- attention

  protected override attendForward(
    out: CpuTensor,
    att: CpuTensor,
    q: CpuTensor,
    k: CpuTensor,
    v: CpuTensor,
    mask: CpuTensor,
    B: number,
    T: number,
    S: number,
    SMAX: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    if (NH % NKV !== 0) throw new EngineError(`attention: ${NH} query heads do not split into ${NKV} key/value heads`);
    const s = new Staging(this.kernels);
    try {
      this.kernels.attentionForward(
        s.out(out),
        s.out(att),
        s.in(q),
        s.in(k),
        s.in(v),
        s.in(mask),
        B,
        T,
        S,
        SMAX,
        NH,
        NKV,
        HD,
      );
    } finally {
      s.done();
    }
  }

  protected override attendBackward(
    dq: CpuTensor,
    dk: CpuTensor,
    dv: CpuTensor,
    datt: CpuTensor,
    dout: CpuTensor,
    q: CpuTensor,
    k: CpuTensor,
    v: CpuTensor,
    _out: CpuTensor,
    att: CpuTensor,
    _mask: CpuTensor,
    B: number,
    T: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    if (NH % NKV !== 0) throw new EngineError(`attention: ${NH} query heads do not split into ${NKV} key/value heads`);
    const s = new Staging(this.kernels);
    try {
      this.kernels.attentionBackward(
        s.out(dq),
        s.out(dk),
        s.out(dv),
        s.out(datt),
        s.in(dout),
        s.in(q),
        s.in(k),
        s.in(v),
        s.in(att),
        B,
        T,
        NH,
        NKV,
        HD,
      );
    } finally {
      s.done();
    }
  }

  // ---- cross-entropy over the vocabulary

  /**
   * One pass over the vocabulary with an online softmax: per chunk, logits = h @ wᵀ, the
   * running max/sum absorb them (in WebAssembly), and dh accumulates exp(logit - max) @ w,
   * rescaled whenever the max moves. At the end dh = gradScale * (dh / sum - w[target]).
   * Two matmuls per chunk instead of the scalar twin's three.
   */
  override crossEntropyForwardBackward(
    losses: CpuTensor,
    dh: CpuTensor,
    h: CpuTensor,
    w: CpuWeight,
    targets: CpuTensor,
    M: number,
    C: number,
    V: number,
    gradScale: number,
  ): void {
    checkWeight(w, V, C, 'crossEntropyForwardBackward');
    // the chunking below slices 16-bit or f32 rows; a quantized head takes the scalar path
    if (w.dtype === 'nf4') return super.crossEntropyForwardBackward(losses, dh, h, w, targets, M, C, V, gradScale);
    const tg = targets as Int32Array;
    for (let m = 0; m < M; m++) {
      if (tg[m] < 0 || tg[m] >= V) throw new EngineError(`label ${tg[m]} is outside the vocabulary (${V})`);
    }
    const k = this.kernels;
    const chunk = Math.min(CE_CHUNK, V);
    const pl = this.scratch('ceLogits', M * chunk * 4);
    const prow = this.scratch('ceRows', M * 2 * 4);
    const bw = w.dtype as 'f32' | 'bf16' | 'f16';
    const bytesPer = bw === 'f32' ? 4 : 2;
    const target = new Float64Array(M);
    const s = new Staging(k);
    try {
      const ph = s.in(h),
        pw = s.in(w.data),
        pdh = s.out(dh);
      k.heap.f32(pdh, M * C).fill(0);
      k.heap.f32(prow, M).fill(-Infinity);
      k.heap.f32(prow + M * 4, M).fill(0);
      for (let v0 = 0; v0 < V; v0 += chunk) {
        const nv = Math.min(chunk, V - v0);
        const wChunk = pw + v0 * C * bytesPer;
        k.gemm({
          M,
          J: nv,
          K: C,
          A: ph,
          sAm: C,
          sAk: 1,
          B: wChunk,
          bdtype: bw,
          sBk: 1,
          sBj: C,
          C: pl,
          ldc: chunk,
          alpha: 1,
          accumulate: false,
          bias: 0,
        });
        const L = k.heap.f32(pl, M * chunk);
        for (let m = 0; m < M; m++) if (tg[m] >= v0 && tg[m] < v0 + nv) target[m] = L[m * chunk + tg[m] - v0];
        k.softmaxChunk(pl, chunk, nv, M, prow, prow + M * 4, pdh, C);
        // dh (M,C) += exp(L - max) (M,nv) @ w[v0:v0+nv] (nv,C)
        k.gemm({
          M,
          J: C,
          K: nv,
          A: pl,
          sAm: chunk,
          sAk: 1,
          B: wChunk,
          bdtype: bw,
          sBk: C,
          sBj: 1,
          C: pdh,
          ldc: C,
          alpha: 1,
          accumulate: true,
          bias: 0,
        });
      }
      const L = losses as Float32Array,
        dH = k.heap.f32(pdh, M * C);
      const rowMax = k.heap.f32(prow, M),
        rowSum = k.heap.f32(prow + M * 4, M);
      const wt = new Float32Array(C);
      for (let m = 0; m < M; m++) {
        L[m] = rowMax[m] + Math.log(rowSum[m]) - target[m];
        weightRow(w, tg[m], wt);
        const inv = 1 / rowSum[m];
        for (let c = 0; c < C; c++) dH[m * C + c] = gradScale * (dH[m * C + c] * inv - wt[c]);
      }
    } finally {
      s.done();
    }
  }
}
