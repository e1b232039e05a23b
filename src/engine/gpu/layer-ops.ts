// The WebGPU backend, part one: buffers, read-back, the command stream, its failure checks, and the
// plain kernels that are one launch over elements or rows (norms, SwiGLU, gathers, the optimizer).
// WebGpuOps (webgpu-ops.ts) extends this with the kernels that have planners or tables of their own;
// the split keeps each file readable, and those kernels need only alloc/run/check from here.

import type { WeightFormat } from '../../core/dtype.ts';
import { DeviceLostError, EngineError, GpuValidationError } from '../../core/errors.ts';
import { VIEW_ALIGN, type AdamWParams } from '../ops.ts';
import { CommandStream, grid1d, keepAlive, rowsGrid, type Grid } from './command-stream.ts';
import {
  GpuMemory,
  USAGE,
  refusedAllocation,
  type GpuTensor,
  type GpuWeight,
  type MemoryLimits,
  type Region,
} from './memory.ts';
import type { PipelineCache } from './pipelines.ts';
import { KernelProfiler } from './profiler.ts';
import { GroupCache } from './groups.ts';

const MAP_READ = 1; // GPUMapMode.READ
/** Workgroups of the first globalNorm pass: enough to fill a GPU, few enough for one to add up. */
const NORM_PARTS = 256;

/** Memory, launch plumbing and plain kernels of WebGpuOps; not used on its own. */
export class WebGpuLayerOps {
  protected memory: GpuMemory;
  protected stream: CommandStream;
  protected failure: Error | null = null;
  protected disposed = false;
  protected scratch = new Map<string, GpuTensor>();
  /** Buffers made by the constructor (uniform ring, stand-ins): kept by releaseAll. */
  protected ownBuffers = 0;
  private staging: { buffer: GPUBuffer; busy: boolean }[] = [];
  /** Tensors made by alloc(): the only ones free() gives back (not views, nor arena parts, which the model owns for its lifetime). */
  private owned = new WeakSet<GpuTensor>();
  private timer: { querySet: GPUQuerySet; resolve: GPUBuffer } | null = null;
  protected groups: GroupCache;
  /** Objects that must live as long as the device (see create.ts). */
  keepAlive: unknown[] = [];

  constructor(
    readonly device: GPUDevice,
    protected pipelines: PipelineCache,
    limits: MemoryLimits,
  ) {
    this.memory = new GpuMemory(device, limits);
    this.stream = new CommandStream(device, this.memory);
    this.memory.onDestroy = (buffer) => this.stream.forget(buffer);
    pipelines.onError = (e) => (this.failure ??= e);
    this.groups = new GroupCache(
      this.memory,
      this.stream,
      (n, label) => this.alloc('f32', n, label),
      (dst, dOff, src, sOff, n) => this.copy(dst, dOff, src, sOff, n),
      (buffer) => this.release(buffer),
    );
    void device.lost.then((lost) => {
      if (!this.disposed)
        this.failure ??= new DeviceLostError(`WebGPU device lost (${lost.reason}): ${lost.message || 'no message'}`);
    });
    const onError = (ev: GPUUncapturedErrorEvent) => {
      const kind = ev.error.constructor?.name ?? '';
      this.failure ??= kind.includes('OutOfMemory')
        ? refusedAllocation('a GPU operation', 0, this.memory.allocatedBytes(), ev.error.message)
        : new GpuValidationError(`WebGPU error: ${ev.error.message}`);
    };
    if (typeof device.addEventListener === 'function')
      device.addEventListener('uncapturederror', onError as EventListener);
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

  protected check(): void {
    const err = this.failure ?? this.memory.failure;
    if (err) throw err;
    if (this.disposed) throw new EngineError('WebGPU backend used after dispose()');
  }

  protected run(
    name: string,
    bindings: Record<string, Region>,
    params: Record<string, number>,
    grid: Grid,
    dtype: WeightFormat | null = null,
    variant = '',
  ): void {
    this.check();
    this.stream.dispatch(this.pipelines.get(name, dtype, variant), bindings, params, grid);
  }

  /** A tensor kept across calls (kernel scratch), regrown only when a larger one is needed. */
  protected scratchTensor(name: string, n: number): GpuTensor {
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
  protected release(buffer: GPUBuffer): void {
    this.stream.whenSubmitted(() => this.memory.destroy(buffer));
  }

  view(t: GpuTensor, offset: number, n: number): GpuTensor {
    if (offset % VIEW_ALIGN)
      throw new EngineError(
        `view of ${t.label} at element ${offset}: offsets must be multiples of ${VIEW_ALIGN} (256-byte binding alignment)`,
      );
    if (offset + n > t.n) throw new EngineError(`view of ${t.label}: ${n} values at ${offset} overrun its ${t.n}`);
    return {
      buffer: t.buffer,
      offset: t.offset + offset * 4,
      size: Math.max(4, n * 4),
      dtype: t.dtype,
      n,
      label: `${t.label}[${offset}..]`,
    };
  }

  arena(dtype: 'f32' | 'i32', sizes: Record<string, number>, label: string): Record<string, GpuTensor> {
    return this.memory.arena(dtype, sizes, label);
  }

  async prepareWeights(format: WeightFormat): Promise<void> {
    this.pipelines.prepare(format);
  }

  weight(
    data: Float32Array | Uint16Array | Uint32Array,
    dtype: WeightFormat,
    rows: number,
    cols: number,
    label: string,
  ): GpuWeight {
    this.check();
    if (dtype === 'nf4' && !this.pipelines.prepared.has('nf4'))
      throw new EngineError(
        `${label}: NF4 weights before the NF4 kernels were compiled (call prepareWeights('nf4') first)`,
      );
    this.pipelines.prepare(dtype);
    this.stream.submit();
    return this.memory.weight(this.device.queue, data, dtype, rows, cols, label);
  }

  upload(dst: GpuTensor, src: Float32Array | Int32Array, dstOffset = 0): void {
    this.check();
    if (dstOffset + src.length > dst.n)
      throw new EngineError(`upload to ${dst.label}: ${src.length} values at offset ${dstOffset} overrun its ${dst.n}`);
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
    if (offset + n > src.n)
      throw new EngineError(`read of ${src.label}: ${n} values at offset ${offset} overrun its ${src.n}`);
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
      throw new EngineError(
        'timeOnGpu: the timed work did not stay in one compute pass (a copy, zero, upload, read or over 4096 launches)',
      );
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
    if (dstOffset + n > dst.n || srcOffset + n > src.n)
      throw new EngineError(`copy ${src.label} -> ${dst.label}: ${n} values overrun a tensor`);
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
    this.memory.destroyAfter(this.ownBuffers);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.memory.destroyAll();
    this.device.destroy();
  }

  // ---- layers: one launch over elements or rows

  embeddingForward(out: GpuTensor, ids: GpuTensor, wte: GpuWeight, N: number, C: number): void {
    for (const chunk of wte.chunks)
      this.run(
        'embedding.forward',
        { out, ids, wt: chunk },
        { N, C, r0: chunk.row0, rows: chunk.rows, stride: wte.stride },
        grid1d(N * C),
        wte.dtype,
      );
  }

  rmsnormForward(
    out: GpuTensor,
    rstd: GpuTensor,
    inp: GpuTensor,
    weight: GpuTensor,
    N: number,
    C: number,
    eps: number,
  ): void {
    this.run('rmsnorm.forward', { out, rstd, inp, weight }, { N, C, eps }, rowsGrid(N));
  }

  rmsnormBackward(
    dinp: GpuTensor,
    dout: GpuTensor,
    inp: GpuTensor,
    weight: GpuTensor,
    rstd: GpuTensor,
    N: number,
    C: number,
  ): void {
    this.run('rmsnorm.backward', { dinp, dout, inp, weight, rstd }, { N, C, eps: 0 }, rowsGrid(N));
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

  // ---- optimizer

  globalNorm(out: GpuTensor, x: GpuTensor, P: number): void {
    const partials = this.scratchTensor('norm.partials', NORM_PARTS);
    this.run('norm.partial_sums', { x, partials }, { P, parts: NORM_PARTS }, [NORM_PARTS, 1]);
    this.run('norm.finish', { partials, out }, { P, parts: NORM_PARTS }, [1, 1]);
  }

  adamw(
    param: GpuTensor,
    grad: GpuTensor,
    m: GpuTensor,
    v: GpuTensor,
    norm: GpuTensor,
    P: number,
    h: AdamWParams,
  ): void {
    const params = {
      P,
      lr: h.lr,
      beta1: h.beta1,
      beta2: h.beta2,
      eps: h.eps,
      weightDecay: h.weightDecay,
      maxGradNorm: h.maxGradNorm,
      stepSize: h.lr / (1 - Math.pow(h.beta1, h.step)),
      bc2sqrt: Math.sqrt(1 - Math.pow(h.beta2, h.step)),
    };
    this.run('adamw.step', { param, grad, m, v, norm }, params, grid1d(P));
  }
}
