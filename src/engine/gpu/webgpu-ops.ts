// The WebGPU backend of the kernel interface (../ops.ts): each call encodes WGSL dispatches
// into the command stream; nothing waits until read() or flush(). The scalar CpuOps is the
// oracle every kernel here is tested against (test/gpu-ops.test.ts).

import type { WeightFormat } from '../../core/dtype.ts';
import { DeviceLostError, EngineError, GpuValidationError } from '../../core/errors.ts';
import { VIEW_ALIGN, type AdamWParams, type Dropout, type Ops, type Projection } from '../ops.ts';
import { CommandStream, grid1d, keepAlive, rowsGrid, type Grid } from './command-stream.ts';
import { GpuMemory, USAGE, refusedAllocation, type GpuTensor, type GpuWeight, type MemoryLimits, type Region } from './memory.ts';
import type { PipelineCache } from './pipelines.ts';
import { KernelProfiler } from './profiler.ts';
import { GroupCache } from './groups.ts';
import { GpuLinear, type LinearHost } from './linear.ts';
import { crossEntropy } from './cross-entropy.ts';
import { RopeTables } from './rope-table.ts';
import type { MatmulPlanner, WebGpuInfo } from './variants.ts';

export type { GpuTensor, GpuWeight } from './memory.ts';
export type { WebGpuInfo } from './variants.ts';

/** Workgroups of the first globalNorm pass: enough to fill a GPU, few enough for one to add up. */
const NORM_PARTS = 256;
const MAP_READ = 1; // GPUMapMode.READ

export class WebGpuOps implements Ops<GpuTensor, GpuWeight> {
  readonly kind = 'webgpu' as const;
  private memory: GpuMemory;
  private stream: CommandStream;
  private failure: Error | null = null;
  private disposed = false;
  private dummy: GpuTensor;
  private scratch = new Map<string, GpuTensor>();
  private ropeTables: RopeTables;
  /** Buffers made by the constructor (uniform ring, stand-ins): kept by releaseAll. */
  private ownBuffers = 0;
  private staging: { buffer: GPUBuffer; busy: boolean }[] = [];
  /** Tensors made by alloc(): the only ones free() gives back (not views, nor arena parts, which the model owns for its lifetime). */
  private owned = new WeakSet<GpuTensor>();
  private timer: { querySet: GPUQuerySet; resolve: GPUBuffer } | null = null;
  private groups: GroupCache;
  private host: LinearHost;
  private linear: GpuLinear;
  /** Objects that must live as long as the device (see create.ts). */
  keepAlive: unknown[] = [];

  /** ceSliceElements: logits (M x vocabulary slice) the cross-entropy holds at once. */
  constructor(readonly device: GPUDevice, private pipelines: PipelineCache, limits: MemoryLimits,
    private ceSliceElements: number, readonly info: WebGpuInfo, private planner: MatmulPlanner) {
    this.memory = new GpuMemory(device, limits);
    this.stream = new CommandStream(device, this.memory);
    this.memory.onDestroy = (buffer) => this.stream.forget(buffer);
    pipelines.onError = (e) => (this.failure ??= e);
    this.dummy = this.alloc('f32', 64, 'unbound');
    this.groups = new GroupCache(this.memory, this.stream, (n, label) => this.alloc('f32', n, label),
      (dst, dOff, src, sOff, n) => this.copy(dst, dOff, src, sOff, n), (buffer) => this.release(buffer));
    this.host = {
      run: (name, bindings, params, grid, dtype = null, variant = '') => this.run(name, bindings, params, grid, dtype, variant),
      scratch: (name, n) => this.scratchTensor(name, n),
      dummy: this.dummy,
      dummyOut: this.alloc('f32', 64, 'unbound output'),
      groupWeights: (ws) => this.groups.weights(ws),
      packBiases: (biases, widths) => this.groups.biases(biases, widths),
      plan: (rows, cols, K, allowBig) => this.planner.plan(rows, cols, K, allowBig),
    };
    this.linear = new GpuLinear(this.host);
    this.ownBuffers = this.memory.count;
    this.ropeTables = new RopeTables((n, label) => this.alloc('f32', n, label), (t, data) => this.upload(t, data), (b) => this.release(b));
    void device.lost.then((lost) => {
      if (!this.disposed) this.failure ??= new DeviceLostError(`WebGPU device lost (${lost.reason}): ${lost.message || 'no message'}`);
    });
    const onError = (ev: GPUUncapturedErrorEvent) => {
      const kind = ev.error.constructor?.name ?? '';
      this.failure ??= kind.includes('OutOfMemory')
        ? refusedAllocation('a GPU operation', 0, this.memory.allocatedBytes(), ev.error.message)
        : new GpuValidationError(`WebGPU error: ${ev.error.message}`);
    };
    if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError as EventListener);
    else (device as { onuncapturederror: unknown }).onuncapturederror = onError;
  }

  /** Bytes of GPU memory this backend holds (buffers, weights, staging, uniform ring). */
  allocatedBytes(): number {
    return this.memory.allocatedBytes();
  }

  /** Launches encoded since creation: cheap progress and cost accounting for benchmarks. */
  get dispatchCount(): number {
    return this.stream.dispatches;
  }

  /** Bind groups created since creation; a repeated step with the same shapes creates none. */
  get bindGroupCount(): number {
    return this.stream.bindGroupsCreated;
  }

  /** Starts timing every launch by kernel family (needs 'timestamp-query'); false without it. */
  startProfile(): boolean {
    if (!this.device.features.has('timestamp-query')) return false;
    this.stream.submit();
    this.stream.profiler ??= new KernelProfiler(this.device, this.memory);
    this.stream.profiler.reset();
    return true;
  }

  /** Stops profiling: GPU milliseconds and launches by kernel family since startProfile(). */
  async stopProfile(): Promise<Record<string, { ms: number; launches: number }>> {
    const p = this.stream.profiler;
    if (!p) return {};
    this.stream.submit();
    this.stream.profiler = null;
    const report = await p.report();
    p.destroy();
    return report;
  }

  private check(): void {
    const err = this.failure ?? this.memory.failure;
    if (err) throw err;
    if (this.disposed) throw new EngineError('WebGPU backend used after dispose()');
  }

  private run(name: string, bindings: Record<string, Region>, params: Record<string, number>, grid: Grid, dtype: WeightFormat | null = null, variant = ''): void {
    this.check();
    this.stream.dispatch(this.pipelines.get(name, dtype, variant), bindings, params, grid);
  }

  /** A tensor kept across calls (kernel scratch), regrown only when a larger one is needed. */
  private scratchTensor(name: string, n: number): GpuTensor {
    const have = this.scratch.get(name);
    if (have && have.n >= n) return have;
    if (have) this.release(have.buffer);
    const t = this.alloc('f32', n, `scratch.${name}`);
    this.scratch.set(name, t);
    return t;
  }

  // ---- memory

  alloc(dtype: 'f32' | 'i32', n: number, label: string): GpuTensor {
    const t = this.memory.arena(dtype, { t: n }, label).t;
    this.owned.add(t);
    return t;
  }

  /** Gives back a tensor from alloc(); views, arena parts and tensors freed already are ignored. */
  free(t: GpuTensor): void {
    if (!this.owned.delete(t)) return;
    this.release(t.buffer);
  }

  /** Gives back a weight's buffers (not part of Ops: the model keeps its weights for its lifetime). */
  freeWeight(w: GpuWeight): void {
    this.groups.free(w);
  }

  /** Destroys a buffer once no unsubmitted command can still use it; its bytes count until then. */
  private release(buffer: GPUBuffer): void {
    this.stream.whenSubmitted(() => this.memory.destroy(buffer));
  }

  view(t: GpuTensor, offset: number, n: number): GpuTensor {
    if (offset % VIEW_ALIGN) throw new EngineError(`view of ${t.label} at element ${offset}: offsets must be multiples of ${VIEW_ALIGN} (256-byte binding alignment)`);
    if (offset + n > t.n) throw new EngineError(`view of ${t.label}: ${n} values at ${offset} overrun its ${t.n}`);
    return { buffer: t.buffer, offset: t.offset + offset * 4, size: Math.max(4, n * 4), dtype: t.dtype, n, label: `${t.label}[${offset}..]` };
  }

  arena(dtype: 'f32' | 'i32', sizes: Record<string, number>, label: string): Record<string, GpuTensor> {
    return this.memory.arena(dtype, sizes, label);
  }

  async prepareWeights(format: WeightFormat): Promise<void> {
    this.pipelines.prepare(format);
  }

  weight(data: Float32Array | Uint16Array | Uint32Array, dtype: WeightFormat, rows: number, cols: number, label: string): GpuWeight {
    this.check();
    if (dtype === 'nf4' && !this.pipelines.prepared.has('nf4')) throw new EngineError(`${label}: NF4 weights before the NF4 kernels were compiled (call prepareWeights('nf4') first)`);
    this.pipelines.prepare(dtype);
    this.stream.submit();
    return this.memory.weight(this.device.queue, data, dtype, rows, cols, label);
  }

  upload(dst: GpuTensor, src: Float32Array | Int32Array, dstOffset = 0): void {
    this.check();
    if (dstOffset + src.length > dst.n) throw new EngineError(`upload to ${dst.label}: ${src.length} values at offset ${dstOffset} overrun its ${dst.n}`);
    this.stream.submit();
    this.device.queue.writeBuffer(dst.buffer, dst.offset + dstOffset * 4, src.buffer, src.byteOffset, src.byteLength);
  }

  async read(src: GpuTensor, n = src.n, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(src, n, offset));
  }

  async readInt(src: GpuTensor, n = src.n, offset = 0): Promise<Int32Array> {
    return new Int32Array(await this.readBytes(src, n, offset));
  }

  private async readBytes(src: GpuTensor, n: number, offset: number): Promise<ArrayBuffer> {
    this.check();
    if (offset + n > src.n) throw new EngineError(`read of ${src.label}: ${n} values at offset ${offset} overrun its ${src.n}`);
    if (n === 0) return new ArrayBuffer(0);
    return this.readRange(src.buffer, src.offset + offset * 4, n * 4, src.label);
  }

  private async readRange(buffer: GPUBuffer, byteOffset: number, bytes: number, label: string): Promise<ArrayBuffer> {
    // the copy is encoded now, so it sees exactly the work queued before this call
    const stage = this.stagingBuffer(bytes);
    this.stream.copyBuffer(buffer, byteOffset, stage.buffer, 0, bytes);
    this.stream.submit();
    try {
      await keepAlive(stage.buffer.mapAsync(MAP_READ, 0, bytes));
      const out = stage.buffer.getMappedRange(0, bytes).slice(0);
      stage.buffer.unmap();
      return out;
    } catch (e) {
      this.check();
      throw new DeviceLostError(`reading ${label} back from the GPU failed: ${(e as Error).message}`);
    } finally {
      stage.busy = false;
    }
  }

  /**
   * GPU milliseconds of one compute pass holding the kernels `encode` launches, from timestamp
   * queries; null where the device lacks 'timestamp-query' or reports a non-increasing pair
   * (time it around flush() then). `encode` may only launch kernels (no copy, zero, upload or
   * read, which would end the pass), at most 4096 of them.
   */
  async timeOnGpu(encode: () => void): Promise<number | null> {
    if (!this.device.features.has('timestamp-query')) return null;
    this.check();
    this.stream.submit();
    this.timer ??= {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2, label: 'kernel timer' }),
      resolve: this.memory.createBuffer(16, USAGE.QUERY_RESOLVE | USAGE.COPY_SRC, 'kernel timer'),
    };
    const { querySet, resolve } = this.timer;
    this.stream.beginTimedPass(querySet);
    try {
      encode();
    } catch (e) {
      this.stream.endTimedPass(querySet, resolve);
      throw e;
    }
    if (!this.stream.endTimedPass(querySet, resolve))
      throw new EngineError('timeOnGpu: the timed work did not stay in one compute pass (a copy, zero, upload, read or over 4096 launches)');
    const [begin, end] = new BigUint64Array(await this.readRange(resolve, 0, 16, 'timestamps'));
    return end > begin ? Number(end - begin) / 1e6 : null;
  }

  private stagingBuffer(bytes: number): { buffer: GPUBuffer; busy: boolean } {
    let stage = this.staging.find((s) => !s.busy && s.buffer.size >= bytes);
    if (!stage) {
      const idle = this.staging.findIndex((s) => !s.busy);
      if (idle >= 0) this.memory.destroy(this.staging.splice(idle, 1)[0].buffer);
      const size = Math.max(bytes, 1 << 16);
      stage = { buffer: this.memory.createBuffer(size, USAGE.MAP_READ | USAGE.COPY_DST, 'read-back'), busy: false };
      this.staging.push(stage);
    }
    stage.busy = true;
    return stage;
  }

  zero(t: GpuTensor, n: number): void {
    this.check();
    if (n > t.n) throw new EngineError(`zero of ${t.label}: ${n} values overrun its ${t.n}`);
    this.stream.clear(t.buffer, t.offset, n * 4);
  }

  copy(dst: GpuTensor, dstOffset: number, src: GpuTensor, srcOffset: number, n: number): void {
    if (dstOffset + n > dst.n || srcOffset + n > src.n) throw new EngineError(`copy ${src.label} -> ${dst.label}: ${n} values overrun a tensor`);
    if (dst.buffer === src.buffer) {
      // the source is bound read-only, so it may not share a buffer with the destination: bounce through scratch
      const tmp = this.scratchTensor('copy', n);
      this.run('residual.copy', { dst: tmp, src }, { n, dstOffset: 0, srcOffset }, grid1d(n));
      this.run('residual.copy', { dst, src: tmp }, { n, dstOffset, srcOffset: 0 }, grid1d(n));
      return;
    }
    this.run('residual.copy', { dst, src }, { n, dstOffset, srcOffset }, grid1d(n));
  }

  async flush(): Promise<void> {
    this.check();
    this.stream.submit();
    await keepAlive(this.device.queue.onSubmittedWorkDone());
    await keepAlive(this.memory.settled());
    this.check();
  }

  /**
   * Gives back every buffer an engine made (weights, activations, caches, scratch), keeping the
   * device and its compiled pipelines for the next engine: several models on one device without
   * compiling twice (the golden tests, the GPU kit).
   */
  releaseAll(): void {
    this.check();
    this.stream.submit();
    this.scratch.clear();
    this.staging = [];
    this.timer = null;
    this.ropeTables = new RopeTables((n, label) => this.alloc('f32', n, label), (t, data) => this.upload(t, data), (b) => this.release(b));
    this.memory.destroyAfter(this.ownBuffers);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.memory.destroyAll();
    this.device.destroy();
  }

  // ---- layers

  embeddingForward(out: GpuTensor, ids: GpuTensor, wte: GpuWeight, N: number, C: number): void {
    for (const chunk of wte.chunks)
      this.run('embedding.forward', { out, ids, wt: chunk }, { N, C, r0: chunk.row0, rows: chunk.rows, stride: wte.stride }, grid1d(N * C), wte.dtype);
  }

  rmsnormForward(out: GpuTensor, rstd: GpuTensor, inp: GpuTensor, weight: GpuTensor, N: number, C: number, eps: number): void {
    this.run('rmsnorm.forward', { out, rstd, inp, weight }, { N, C, eps }, rowsGrid(N));
  }

  rmsnormBackward(dinp: GpuTensor, dout: GpuTensor, inp: GpuTensor, weight: GpuTensor, rstd: GpuTensor, N: number, C: number): void {
    this.run('rmsnorm.backward', { dinp, dout, inp, weight, rstd }, { N, C, eps: 0 }, rowsGrid(N));
  }

  matmulForward(out: GpuTensor, inp: GpuTensor, w: GpuWeight, bias: GpuTensor | null, N: number, In: number, O: number): void {
    this.check();
    this.linear.forward([out], inp, [{ w, O, bias, lora: null }], null, N, In, 0, 0);
  }

  matmulBackward(dinp: GpuTensor, dout: GpuTensor, w: GpuWeight, N: number, In: number, O: number): void {
    this.check();
    this.linear.backward(dinp, [dout], dinp, [{ w, O, bias: null, lora: null }], N, In, 0, 0, true);
  }

  linearForward(outs: GpuTensor[], inp: GpuTensor, projs: Projection<GpuTensor, GpuWeight>[], resid: GpuTensor | null,
    N: number, In: number, R: number, scale: number): void {
    this.check();
    this.linear.forward(outs, inp, projs, resid, N, In, R, scale);
  }

  linearBackward(dinp: GpuTensor, douts: GpuTensor[], inp: GpuTensor, projs: Projection<GpuTensor, GpuWeight>[],
    N: number, In: number, R: number, scale: number): void {
    this.check();
    this.linear.backward(dinp, douts, inp, projs, N, In, R, scale);
  }

  loraForward(out: GpuTensor, xa: GpuTensor, inp: GpuTensor, a: GpuTensor, b: GpuTensor,
    N: number, In: number, O: number, R: number, scale: number, dropout: Dropout): void {
    this.check();
    this.linear.loraForward(out, inp, { a, b, da: this.dummy, db: this.dummy, xa, dxa: this.dummy, dropout }, N, In, O, R, scale);
  }

  loraBackward(dinp: GpuTensor, da: GpuTensor, db: GpuTensor, dxa: GpuTensor, dout: GpuTensor, inp: GpuTensor, xa: GpuTensor,
    a: GpuTensor, b: GpuTensor, N: number, In: number, O: number, R: number, scale: number, dropout: Dropout): void {
    this.check();
    this.linear.loraBackward(dinp, dout, inp, { a, b, da, db, xa, dxa, dropout }, N, In, O, R, scale);
  }

  /** A RoPE launch: the table by position, or by token for a packed batch (read at t, posOffset 0). */
  private rope(entry: string, xs: Record<string, GpuTensor>, dims: Record<string, number>, heads: number, theta: number, posOffset: number, at?: Int32Array): void {
    const { table, positions } = at ? this.ropeTables.perToken(dims.HD, theta, at) : this.ropeTables.get(dims.HD, theta, posOffset + dims.T);
    this.run(entry, { ...xs, table }, { ...dims, positions, posOffset: at ? 0 : posOffset }, grid1d((dims.B * dims.T * heads * dims.HD) / 2));
  }

  ropeForward(x: GpuTensor, B: number, T: number, H: number, HD: number, theta: number, posOffset: number, at?: Int32Array): void {
    this.rope('rope.forward', { x }, { B, T, H, HD }, H, theta, posOffset, at);
  }

  ropeBackward(dx: GpuTensor, B: number, T: number, H: number, HD: number, theta: number, posOffset: number, at?: Int32Array): void {
    this.rope('rope.backward', { x: dx }, { B, T, H, HD }, H, theta, posOffset, at);
  }

  ropeQK(q: GpuTensor, k: GpuTensor, B: number, T: number, NH: number, NKV: number, HD: number, theta: number, posOffset: number, at: Int32Array | undefined, sign: 1 | -1): void {
    this.rope(`rope_qk.${sign > 0 ? 'forward' : 'backward'}`, { q, k }, { B, T, HQ: NH, HK: NKV, HD }, NH + NKV, theta, posOffset, at);
  }

  /** The head-dim variant of the attention kernels (64 and 128 unroll), '' for any other. */
  private attentionVariant(HD: number, NH: number, NKV: number): string {
    if (HD % 4 || HD > 128) throw new EngineError(`attention: head dim ${HD} must be a multiple of 4, at most 128`);
    if (NH % NKV) throw new EngineError(`attention: ${NH} query heads do not split into ${NKV} key/value heads`);
    return HD === 64 || HD === 128 ? `hd${HD}` : '';
  }

  attentionForward(out: GpuTensor, att: GpuTensor, q: GpuTensor, k: GpuTensor, v: GpuTensor, mask: GpuTensor,
    B: number, T: number, S: number, SMAX: number, NH: number, NKV: number, HD: number): void {
    if (S < T || S > SMAX) throw new EngineError(`attention: need T <= S <= SMAX, got T=${T} S=${S} SMAX=${SMAX}`);
    const params = { B, T, S, SMAX, NH, NKV, HD, scale: 1 / Math.sqrt(HD) };
    const variant = this.attentionVariant(HD, NH, NKV);
    this.run('attention.forward', { out, stats: att, q, k, v, mask }, params, [Math.ceil((T * NH) / NKV / 64), B * NKV], null, variant);
  }

  attentionBackward(dq: GpuTensor, dk: GpuTensor, dv: GpuTensor, _datt: GpuTensor, dout: GpuTensor, q: GpuTensor, k: GpuTensor,
    v: GpuTensor, out: GpuTensor, att: GpuTensor, mask: GpuTensor, B: number, T: number, NH: number, NKV: number, HD: number): void {
    const params = { B, T, S: T, SMAX: T, NH, NKV, HD, scale: 1 / Math.sqrt(HD) };
    const variant = this.attentionVariant(HD, NH, NKV);
    this.run('attention.backward_dq', { stats: att, q, k, v, mask, out, dout, dq }, params, [Math.ceil((T * NH) / NKV / 64), B * NKV], null, variant);
    this.run('attention.backward_dkv', { stats: att, q, k, v, mask, dout, dk, dv }, params, [Math.ceil(T / 16), B * NKV], null, variant);
  }

  swigluForward(out: GpuTensor, gate: GpuTensor, up: GpuTensor, n: number): void {
    this.run('swiglu.forward', { out, gate, up }, { n }, grid1d(n));
  }

  swigluBackward(dgate: GpuTensor, dup: GpuTensor, dout: GpuTensor, gate: GpuTensor, up: GpuTensor, n: number): void {
    this.run('swiglu.backward', { dgate, dup, dout, gate, up }, { n }, grid1d(n));
  }

  addInPlace(x: GpuTensor, y: GpuTensor, n: number): void {
    this.run('residual.add', { x, y }, { n, dstOffset: 0, srcOffset: 0 }, grid1d(n));
  }

  gatherRows(out: GpuTensor, inp: GpuTensor, idx: GpuTensor, M: number, C: number): void {
    this.run('rows.gather', { out, inp, idx }, { M, C }, grid1d(M * C));
  }

  scatterAddRows(dinp: GpuTensor, dout: GpuTensor, idx: GpuTensor, M: number, C: number): void {
    this.run('rows.scatter_add', { dinp, dout, idx }, { M, C }, grid1d(M * C));
  }

  argmaxRows(out: GpuTensor, logits: GpuTensor, B: number, V: number): void {
    this.run('argmax.rows', { logits, out }, { B, V }, rowsGrid(B));
  }

  crossEntropyForwardBackward(losses: GpuTensor, dh: GpuTensor, h: GpuTensor, w: GpuWeight, targets: GpuTensor,
    M: number, C: number, V: number, gradScale: number): void {
    this.check();
    crossEntropy(this.host, this.planner.small.key, this.ceSliceElements, losses, dh, h, w, targets, M, C, V, gradScale);
  }

  // ---- optimizer

  globalNorm(out: GpuTensor, x: GpuTensor, P: number): void {
    const partials = this.scratchTensor('norm.partials', NORM_PARTS);
    this.run('norm.partial_sums', { x, partials }, { P, parts: NORM_PARTS }, [NORM_PARTS, 1]);
    this.run('norm.finish', { partials, out }, { P, parts: NORM_PARTS }, [1, 1]);
  }

  adamw(param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, norm: GpuTensor, P: number, h: AdamWParams): void {
    const params = { P, lr: h.lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay, maxGradNorm: h.maxGradNorm,
      stepSize: h.lr / (1 - Math.pow(h.beta1, h.step)), bc2sqrt: Math.sqrt(1 - Math.pow(h.beta2, h.step)) };
    this.run('adamw.step', { param, grad, m, v, norm }, params, grid1d(P));
  }

  mergeLora(out: GpuTensor, w: GpuWeight, a: GpuTensor, b: GpuTensor, O: number, In: number, R: number, scale: number): void {
    for (const chunk of w.chunks)
      this.run('merge.merge', { out, a, b, wt: chunk }, { O, In, R, r0: chunk.row0, rows: chunk.rows, scale, stride: w.stride }, grid1d(chunk.rows * In), w.dtype);
  }
}
