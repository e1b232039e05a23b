// Host side of the fused projections (shaders/matmul.wgsl, shaders/lora.wgsl): one launch for
// the base matmul of every projection sharing an input, with bias, LoRA and residual in its
// epilogue; one launch for all their LoRA factors; one for all their adapter gradients. A group
// fuses when its weights share a buffer (grouped on first use), and its outputs, factors and
// gradients are views of one buffer each; otherwise each projection runs on its own.
// The LoRA factor launches are in lora-launch.ts and the shared launch parameters in
// launch-parts.ts, split off to keep this file to the matmul launches.

import type { WeightFormat } from '../../core/dtype.ts';
import { EngineError } from '../../core/errors.ts';
import type { Projection } from '../ops.ts';
import { grid1d, rowsGrid, type Grid } from './command-stream.ts';
import type { GpuTensor, GpuWeight, Region } from './memory.ts';
import { type LinearHost, bounds, dropoutParams, perPart, span } from './launch-parts.ts';
import { loraDxa, loraGrads, loraXa } from './lora-launch.ts';

export type { LinearHost } from './launch-parts.ts';
export { span } from './launch-parts.ts';

/** Rows up to which a forward runs as matrix-vector products (shaders/matmul.wgsl gemv). */
export const GEMV_ROWS = 8;

export class GpuLinear {
  constructor(private host: LinearHost) {}

  /**
   * outs[p] = inp @ w_pᵀ + bias_p + scale * xa_p @ b_pᵀ (+ resid) (+ outs when accumulate), xa_p
   * made first. One launch for the group when weights, outputs and adapter views line up.
   */
  forward(
    outs: GpuTensor[],
    inp: GpuTensor,
    projs: Projection<GpuTensor, GpuWeight>[],
    resid: GpuTensor | null,
    N: number,
    In: number,
    R: number,
    scale: number,
    accumulate = false,
    xaDone = false,
  ): void {
    if (resid && projs.length !== 1) throw new EngineError('a residual is added to a single projection only');
    const loras = projs.filter((p) => p.lora).map((p) => p.lora!);
    if (loras.length && !xaDone) loraXa(this.host, inp, loras, N, In, R);
    const weights = projs.map((p) => p.w);
    const wg = projs.length > 1 || weights[0].chunks.length === 1 ? this.host.groupWeights(weights) : null;
    const out = span(outs);
    const bs = loras.length ? span(loras.map((l) => l.b)) : null,
      xs = loras.length ? span(loras.map((l) => l.xa)) : null;
    if (!wg || !out || (loras.length && (!bs || !xs))) {
      if (projs.length === 1) return this.forwardChunks(outs[0], inp, projs[0], resid, N, In, R, scale, accumulate);
      projs.forEach((p, i) => this.forward([outs[i]], inp, [p], null, N, In, R, scale, accumulate, true));
      return;
    }
    const widths = projs.map((p) => p.O);
    const hasBias = projs.some((p) => p.bias);
    const bias = hasBias
      ? projs.length === 1
        ? projs[0].bias!
        : this.host.packBiases(
            projs.map((p) => p.bias),
            widths,
          )
      : this.host.dummy;
    const biasOffs = widths.map((_, i) => (projs.length === 1 ? 0 : widths.slice(0, i).reduce((a, b) => a + b, 0)));
    let k = 0;
    const loraIdx = projs.map((p) => (p.lora ? k++ : -1));
    const w = weights[0];
    this.mm(
      'forward',
      {
        x: inp,
        wt: wg.region,
        out: out.region,
        bias,
        xa: xs?.region ?? this.host.dummy,
        adapter: bs?.region ?? this.host.dummy,
        resid: resid ?? this.host.dummy,
      },
      {
        N,
        K: In,
        ldx: In,
        wstride: w.stride,
        ...bounds(widths),
        ...perPart('off', out.offs),
        ...perPart('ld', widths),
        ...perPart('w', wg.offs),
        ...perPart('bias', biasOffs),
        ...perPart(
          'lo',
          loraIdx.map((i) => (i >= 0 ? bs!.offs[i] : 0)),
        ),
        ...perPart(
          'xa',
          loraIdx.map((i) => (i >= 0 ? xs!.offs[i] : 0)),
        ),
        lmask: loraIdx.reduce((m, i, p) => m | (i >= 0 ? 1 << p : 0), 0),
        R,
        scale,
        flags: (hasBias ? 1 : 0) | (resid ? 2 : 0) | (accumulate ? 4 : 0),
        ...dropoutParams([]),
        rld: widths[0],
        roff: 0,
      },
      w.dtype,
    );
  }

  /** One projection whose weight is split across bindings: a launch per chunk of output rows. */
  private forwardChunks(
    out: GpuTensor,
    inp: GpuTensor,
    p: Projection<GpuTensor, GpuWeight>,
    resid: GpuTensor | null,
    N: number,
    In: number,
    R: number,
    scale: number,
    accumulate: boolean,
  ): void {
    const l = p.lora;
    for (const chunk of p.w.chunks) {
      this.mm(
        'forward',
        {
          x: inp,
          wt: chunk,
          out,
          bias: p.bias ?? this.host.dummy,
          xa: l?.xa ?? this.host.dummy,
          adapter: l?.b ?? this.host.dummy,
          resid: resid ?? this.host.dummy,
        },
        {
          N,
          K: In,
          ldx: In,
          wstride: p.w.stride,
          e1: chunk.rows,
          e2: chunk.rows,
          cols: chunk.rows,
          ...perPart('off', [chunk.row0]),
          ...perPart('ld', [p.O]),
          ...perPart('w', [0]),
          ...perPart('bias', [chunk.row0]),
          ...perPart('lo', [chunk.row0 * R]),
          ...perPart('xa', [0]),
          lmask: l ? 1 : 0,
          R,
          scale,
          flags: (p.bias ? 1 : 0) | (resid ? 2 : 0) | (accumulate ? 4 : 0),
          ...dropoutParams([]),
          rld: p.O,
          roff: chunk.row0,
        },
        p.w.dtype,
      );
    }
  }

  /**
   * Launches matmul.forward / .backward (and the reduce of a K split) for the planned tiles; a
   * forward of at most 8 rows (decoding) runs as matrix-vector products instead.
   */
  private mm(
    entry: 'forward' | 'backward',
    bindings: Record<string, Region>,
    params: Record<string, number>,
    dtype: WeightFormat,
  ): void {
    const { N, K, cols } = params;
    if (entry === 'forward' && N <= GEMV_ROWS && K > 0) {
      this.host.run(
        'matmul.gemv',
        bindings,
        { rld: 0, roff: 0, ...params, kSplit: 1, kChunk: K },
        rowsGrid(Math.ceil(cols / 8)),
        dtype,
      );
      return;
    }
    const plan = this.host.plan(N, cols, K);
    const grid: Grid = [Math.ceil(cols / plan.BN), Math.ceil(N / plan.BM), plan.kSplit];
    const partial = plan.kSplit > 1 ? this.host.scratch('mm.partial', plan.kSplit * N * cols) : this.host.dummyOut;
    const full = { rld: 0, roff: 0, ...params, kSplit: plan.kSplit, kChunk: plan.kChunk };
    this.host.run(`matmul.${entry}`, { ...bindings, partial }, full, grid, dtype, plan.variant);
    if (plan.kSplit > 1) {
      const { x: _x, wt: _w, dy: _d, ...rest } = bindings;
      this.host.run(`matmul.${entry}_reduce`, { ...rest, partial }, full, grid1d(N * cols));
    }
  }

  /**
   * dinp = sum_p douts[p] @ w_p + dropout_p'(dxa_p @ a_p) (+ dinp when accumulate), with
   * dxa_p = scale * douts[p] @ b_p first and the adapter gradients after.
   */
  backward(
    dinp: GpuTensor,
    douts: GpuTensor[],
    inp: GpuTensor,
    projs: Projection<GpuTensor, GpuWeight>[],
    N: number,
    In: number,
    R: number,
    scale: number,
    accumulate = false,
  ): void {
    const parts = projs.map((p, i) => ({ p, dout: douts[i] })).filter((x) => x.p.lora);
    const loras = parts.map((x) => x.p.lora!);
    if (loras.length)
      loraDxa(
        this.host,
        parts.map((x) => x.dout),
        loras,
        parts.map((x) => x.p.O),
        N,
        R,
        scale,
      );
    const wg =
      projs.length > 1 || projs[0].w.chunks.length === 1 ? this.host.groupWeights(projs.map((p) => p.w)) : null;
    const dy = span(douts);
    const as = loras.length ? span(loras.map((l) => l.a)) : null,
      ds = loras.length ? span(loras.map((l) => l.dxa)) : null;
    if (!wg || !dy || (loras.length && (!as || !ds))) {
      projs.forEach((p, i) => this.backwardSplit(dinp, douts[i], p, N, In, R, accumulate || i > 0));
    } else {
      let k = 0;
      const loraIdx = projs.map((p) => (p.lora ? k++ : -1));
      const widths = projs.map((p) => p.O);
      this.mm(
        'backward',
        {
          dy: dy.region,
          wt: wg.region,
          dinp,
          dxa: ds?.region ?? this.host.dummy,
          adapter: as?.region ?? this.host.dummy,
        },
        {
          N,
          K: widths.reduce((a, b) => a + b, 0),
          ldx: In,
          wstride: projs[0].w.stride,
          ...bounds(widths),
          cols: In,
          ...perPart('off', dy.offs),
          ...perPart('ld', widths),
          ...perPart('w', wg.offs),
          ...perPart('bias', []),
          ...perPart(
            'lo',
            loraIdx.map((i) => (i >= 0 ? as!.offs[i] : 0)),
          ),
          ...perPart(
            'xa',
            loraIdx.map((i) => (i >= 0 ? ds!.offs[i] : 0)),
          ),
          lmask: loraIdx.reduce((m, i, p) => m | (i >= 0 ? 1 << p : 0), 0),
          R,
          scale: 1,
          flags: accumulate ? 4 : 0,
          // the kernel picks seed_p by part, LoRA or not (a part without one has no mask to match)
          ...dropoutParams(projs.filter((p) => p.lora).map((p) => p.lora!.dropout)),
          ...perPart(
            'seed',
            projs.map((p) => (p.lora ? p.lora.dropout.seed >>> 0 : 0)),
          ),
        },
        projs[0].w.dtype,
      );
    }
    if (loras.length)
      loraGrads(
        this.host,
        parts.map((x) => x.dout),
        inp,
        loras,
        parts.map((x) => x.p.O),
        N,
        In,
        R,
        scale,
      );
  }

  /** One projection's backward when the group does not fuse: a launch per weight chunk, each a slice of K. */
  private backwardSplit(
    dinp: GpuTensor,
    dout: GpuTensor,
    p: Projection<GpuTensor, GpuWeight>,
    N: number,
    In: number,
    R: number,
    accumulate: boolean,
  ): void {
    const l = p.lora;
    p.w.chunks.forEach((chunk, c) => {
      this.mm(
        'backward',
        { dy: dout, wt: chunk, dinp, dxa: l?.dxa ?? this.host.dummy, adapter: l?.a ?? this.host.dummy },
        {
          N,
          K: chunk.rows,
          ldx: In,
          wstride: p.w.stride,
          e1: chunk.rows,
          e2: chunk.rows,
          cols: In,
          ...perPart('off', [chunk.row0]),
          ...perPart('ld', [p.O]),
          ...perPart('w', [0]),
          ...perPart('bias', []),
          ...perPart('lo', [0]),
          ...perPart('xa', [0]),
          // the LoRA input gradient is added once, with the first chunk
          lmask: l && c === 0 ? 1 : 0,
          R,
          scale: 1,
          flags: accumulate || c > 0 ? 4 : 0,
          ...dropoutParams(l ? [l.dropout] : []),
        },
        p.w.dtype,
      );
    });
  }

  /** out += scale * dropout(inp) @ aᵀ @ bᵀ alone (Ops.loraForward): the factor, then the epilogue over an empty K. */
  loraForward(
    out: GpuTensor,
    inp: GpuTensor,
    lora: NonNullable<Projection<GpuTensor, GpuWeight>['lora']>,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
  ): void {
    loraXa(this.host, inp, [lora], N, In, R);
    this.mm(
      'forward',
      { x: inp, wt: this.host.dummy, out, bias: this.host.dummy, xa: lora.xa, adapter: lora.b, resid: this.host.dummy },
      {
        N,
        K: 0,
        ldx: In,
        wstride: 0,
        e1: O,
        e2: O,
        cols: O,
        ...perPart('off', []),
        ...perPart('ld', [O]),
        ...perPart('w', []),
        ...perPart('bias', []),
        ...perPart('lo', []),
        ...perPart('xa', []),
        lmask: 1,
        R,
        scale,
        flags: 4,
        ...dropoutParams([]),
      },
      'f32',
    );
  }

  /** The adapter's part of a backward alone (Ops.loraBackward): dxa, the gradients, dinp += dropout'(dxa @ a). */
  loraBackward(
    dinp: GpuTensor,
    dout: GpuTensor,
    inp: GpuTensor,
    lora: NonNullable<Projection<GpuTensor, GpuWeight>['lora']>,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
  ): void {
    loraDxa(this.host, [dout], [lora], [O], N, R, scale);
    this.mm(
      'backward',
      { dy: dout, wt: this.host.dummy, dinp, dxa: lora.dxa, adapter: lora.a },
      {
        N,
        K: 0,
        ldx: In,
        wstride: 0,
        e1: 0,
        e2: 0,
        cols: In,
        ...perPart('off', []),
        ...perPart('ld', [O]),
        ...perPart('w', []),
        ...perPart('bias', []),
        ...perPart('lo', []),
        ...perPart('xa', []),
        lmask: 1,
        R,
        scale: 1,
        flags: 4,
        ...dropoutParams([lora.dropout]),
      },
      'f32',
    );
    loraGrads(this.host, [dout], inp, [lora], [O], N, In, R, scale);
  }
}
