// The WebGPU backend of the kernel interface (../ops.ts): each call encodes WGSL dispatches
// into the command stream; nothing waits until read() or flush(). The scalar CpuOps is the
// oracle every kernel here is tested against (test/gpu-ops.test.ts).
// This file holds the kernels with planners or tables of their own (the fused linear and LoRA
// launches, RoPE, attention, cross-entropy); memory and the plain element/row kernels are in
// layer-ops.ts (WebGpuLayerOps), which this extends: split to keep each file readable.

import { EngineError } from '../../core/errors.ts';
import { type Dropout, type Ops, type Projection } from '../ops.ts';
import { grid1d } from './command-stream.ts';
import type { GpuTensor, GpuWeight, MemoryLimits } from './memory.ts';
import type { PipelineCache } from './pipelines.ts';
import { GpuLinear, type LinearHost } from './linear.ts';
import { crossEntropy } from './cross-entropy.ts';
import { RopeTables } from './rope-table.ts';
import type { MatmulPlanner, WebGpuInfo } from './variants.ts';
import { WebGpuLayerOps } from './layer-ops.ts';

export type { GpuTensor, GpuWeight } from './memory.ts';
export type { WebGpuInfo } from './variants.ts';

export class WebGpuOps extends WebGpuLayerOps implements Ops<GpuTensor, GpuWeight> {
  readonly kind = 'webgpu' as const;
  private dummy: GpuTensor;
  private ropeTables: RopeTables;
  private host: LinearHost;
  private linear: GpuLinear;

  /** ceSliceElements: logits (M x vocabulary slice) the cross-entropy holds at once. */
  constructor(
    device: GPUDevice,
    pipelines: PipelineCache,
    limits: MemoryLimits,
    private ceSliceElements: number,
    readonly info: WebGpuInfo,
    private planner: MatmulPlanner,
  ) {
    super(device, pipelines, limits);
    this.dummy = this.alloc('f32', 64, 'unbound');
    this.host = {
      run: (name, bindings, params, grid, dtype = null, variant = '') =>
        this.run(name, bindings, params, grid, dtype, variant),
      scratch: (name, n) => this.scratchTensor(name, n),
      dummy: this.dummy,
      dummyOut: this.alloc('f32', 64, 'unbound output'),
      groupWeights: (ws) => this.groups.weights(ws),
      packBiases: (biases, widths) => this.groups.biases(biases, widths),
      plan: (rows, cols, K, allowBig) => this.planner.plan(rows, cols, K, allowBig),
    };
    this.linear = new GpuLinear(this.host);
    this.ownBuffers = this.memory.count;
    this.ropeTables = new RopeTables(
      (n, label) => this.alloc('f32', n, label),
      (t, data) => this.upload(t, data),
      (b) => this.release(b),
    );
  }

  /** Also drops the RoPE tables, whose buffers the base releaseAll gives back. */
  override releaseAll(): void {
    super.releaseAll();
    this.ropeTables = new RopeTables(
      (n, label) => this.alloc('f32', n, label),
      (t, data) => this.upload(t, data),
      (b) => this.release(b),
    );
  }

  // ---- layers

  matmulForward(
    out: GpuTensor,
    inp: GpuTensor,
    w: GpuWeight,
    bias: GpuTensor | null,
    N: number,
    In: number,
    O: number,
  ): void {
    this.check();
    this.linear.forward([out], inp, [{ w, O, bias, lora: null }], null, N, In, 0, 0);
  }

  matmulBackward(dinp: GpuTensor, dout: GpuTensor, w: GpuWeight, N: number, In: number, O: number): void {
    this.check();
    this.linear.backward(dinp, [dout], dinp, [{ w, O, bias: null, lora: null }], N, In, 0, 0, true);
  }

  linearForward(
    outs: GpuTensor[],
    inp: GpuTensor,
    projs: Projection<GpuTensor, GpuWeight>[],
    resid: GpuTensor | null,
    N: number,
    In: number,
    R: number,
    scale: number,
  ): void {
    this.check();
    this.linear.forward(outs, inp, projs, resid, N, In, R, scale);
  }

  linearBackward(
    dinp: GpuTensor,
    douts: GpuTensor[],
    inp: GpuTensor,
    projs: Projection<GpuTensor, GpuWeight>[],
    N: number,
    In: number,
    R: number,
    scale: number,
  ): void {
    this.check();
    this.linear.backward(dinp, douts, inp, projs, N, In, R, scale);
  }

  loraForward(
    out: GpuTensor,
    xa: GpuTensor,
    inp: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
    dropout: Dropout,
  ): void {
    this.check();
    this.linear.loraForward(
      out,
      inp,
      { a, b, da: this.dummy, db: this.dummy, xa, dxa: this.dummy, dropout },
      N,
      In,
      O,
      R,
      scale,
    );
  }

  loraBackward(
    dinp: GpuTensor,
    da: GpuTensor,
    db: GpuTensor,
    dxa: GpuTensor,
    dout: GpuTensor,
    inp: GpuTensor,
    xa: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
    dropout: Dropout,
  ): void {
    this.check();
    this.linear.loraBackward(dinp, dout, inp, { a, b, da, db, xa, dxa, dropout }, N, In, O, R, scale);
  }

  /** A RoPE launch: the table by position, or by token for a packed batch (read at t, posOffset 0). */
  private rope(
    entry: string,
    xs: Record<string, GpuTensor>,
    dims: Record<string, number>,
    heads: number,
    theta: number,
    posOffset: number,
    at?: Int32Array,
  ): void {
    const { table, positions } = at
      ? this.ropeTables.perToken(dims.HD, theta, at)
      : this.ropeTables.get(dims.HD, theta, posOffset + dims.T);
    this.run(
      entry,
      { ...xs, table },
      { ...dims, positions, posOffset: at ? 0 : posOffset },
      grid1d((dims.B * dims.T * heads * dims.HD) / 2),
    );
  }

  ropeForward(
    x: GpuTensor,
    B: number,
    T: number,
    H: number,
    HD: number,
    theta: number,
    posOffset: number,
    at?: Int32Array,
  ): void {
    this.rope('rope.forward', { x }, { B, T, H, HD }, H, theta, posOffset, at);
  }

  ropeBackward(
    dx: GpuTensor,
    B: number,
    T: number,
    H: number,
    HD: number,
    theta: number,
    posOffset: number,
    at?: Int32Array,
  ): void {
    this.rope('rope.backward', { x: dx }, { B, T, H, HD }, H, theta, posOffset, at);
  }

  ropeQK(
    q: GpuTensor,
    k: GpuTensor,
    B: number,
    T: number,
    NH: number,
    NKV: number,
    HD: number,
    theta: number,
    posOffset: number,
    at: Int32Array | undefined,
    sign: 1 | -1,
  ): void {
    this.rope(
      `rope_qk.${sign > 0 ? 'forward' : 'backward'}`,
      { q, k },
      { B, T, HQ: NH, HK: NKV, HD },
      NH + NKV,
      theta,
      posOffset,
      at,
    );
  }

  /** The head-dim variant of the attention kernels (64 and 128 unroll), '' for any other. */
  private attentionVariant(HD: number, NH: number, NKV: number): string {
    if (HD % 4 || HD > 128) throw new EngineError(`attention: head dim ${HD} must be a multiple of 4, at most 128`);
    if (NH % NKV) throw new EngineError(`attention: ${NH} query heads do not split into ${NKV} key/value heads`);
    return HD === 64 || HD === 128 ? `hd${HD}` : '';
  }

  attentionForward(
    out: GpuTensor,
    att: GpuTensor,
    q: GpuTensor,
    k: GpuTensor,
    v: GpuTensor,
    mask: GpuTensor,
    B: number,
    T: number,
    S: number,
    SMAX: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    if (S < T || S > SMAX) throw new EngineError(`attention: need T <= S <= SMAX, got T=${T} S=${S} SMAX=${SMAX}`);
    const params = { B, T, S, SMAX, NH, NKV, HD, scale: 1 / Math.sqrt(HD) };
    const variant = this.attentionVariant(HD, NH, NKV);
    this.run(
      'attention.forward',
      { out, stats: att, q, k, v, mask },
      params,
      [Math.ceil((T * NH) / NKV / 64), B * NKV],
      null,
      variant,
    );
  }

  attentionBackward(
    dq: GpuTensor,
    dk: GpuTensor,
    dv: GpuTensor,
    _datt: GpuTensor,
    dout: GpuTensor,
    q: GpuTensor,
    k: GpuTensor,
    v: GpuTensor,
    out: GpuTensor,
    att: GpuTensor,
    mask: GpuTensor,
    B: number,
    T: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    const params = { B, T, S: T, SMAX: T, NH, NKV, HD, scale: 1 / Math.sqrt(HD) };
    const variant = this.attentionVariant(HD, NH, NKV);
    this.run(
      'attention.backward_dq',
      { stats: att, q, k, v, mask, out, dout, dq },
      params,
      [Math.ceil((T * NH) / NKV / 64), B * NKV],
      null,
      variant,
    );
    this.run(
      'attention.backward_dkv',
      { stats: att, q, k, v, mask, dout, dk, dv },
      params,
      [Math.ceil(T / 16), B * NKV],
      null,
      variant,
    );
  }

  crossEntropyForwardBackward(
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
    this.check();
    crossEntropy(
      this.host,
      this.planner.small.key,
      this.ceSliceElements,
      losses,
      dh,
      h,
      w,
      targets,
      M,
      C,
      V,
      gradScale,
    );
  }

  mergeLora(
    out: GpuTensor,
    w: GpuWeight,
    a: GpuTensor,
    b: GpuTensor,
    O: number,
    In: number,
    R: number,
    scale: number,
  ): void {
    for (const chunk of w.chunks)
      this.run(
        'merge.merge',
        { out, a, b, wt: chunk },
        { O, In, R, r0: chunk.row0, rows: chunk.rows, scale, stride: w.stride },
        grid1d(chunk.rows * In),
        w.dtype,
      );
  }
}
