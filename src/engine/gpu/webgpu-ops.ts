// The WebGPU backend of the kernel interface (../ops.ts): each call encodes WGSL dispatches
// into the command stream; nothing waits until read() or flush(). The scalar CpuOps is the
// oracle every kernel here is tested against (test/gpu-ops.test.ts).

import type { WeightFormat } from '../../core/dtype.ts';
import { DeviceLostError, EngineError, GpuValidationError } from '../../core/errors.ts';
import { VIEW_ALIGN, dropoutThreshold, type AdamWParams, type Dropout, type Ops } from '../ops.ts';
import { CommandStream, grid1d, rowsGrid, type Grid } from './command-stream.ts';
import { GpuMemory, USAGE, refusedAllocation, type GpuTensor, type GpuWeight, type MemoryLimits, type Region } from './memory.ts';
import type { PipelineCache } from './pipelines.ts';

export type { GpuTensor, GpuWeight } from './memory.ts';

export interface WebGpuInfo {
  device: string;
  features: string[];
  maxBufferSize: number;
  maxBindingSize: number;
}

/**
 * Node's Dawn binding can let the process exit while a GPU promise is pending (nothing else
 * keeps the event loop alive), so a timer holds the loop open until the promise settles.
 */
async function keepAlive<R>(p: Promise<R>): Promise<R> {
  const timer = setInterval(() => {}, 50);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

/** Workgroups of the first globalNorm pass: enough to fill a GPU, few enough for one to add up. */
const NORM_PARTS = 256;
const MM_TILE = 64; // TM in shaders/matmul.wgsl: output rows and columns per workgroup
const MAP_READ = 1; // GPUMapMode.READ

export class WebGpuOps implements Ops<GpuTensor, GpuWeight> {
  readonly kind = 'webgpu' as const;
  private memory: GpuMemory;
  private stream: CommandStream;
  private failure: Error | null = null;
  private disposed = false;
  private dummy: GpuTensor;
  private scratch = new Map<string, GpuTensor>();
  private ropeTables = new Map<string, { table: GpuTensor; positions: number }>();
  private staging: { buffer: GPUBuffer; busy: boolean }[] = [];
  /** Tensors made by alloc(): the only ones free() gives back (views and arena parts share a buffer). */
  private owned = new WeakSet<GpuTensor>();
  private timer: { querySet: GPUQuerySet; resolve: GPUBuffer } | null = null;
  /** Objects that must live as long as the device (see create.ts). */
  keepAlive: unknown[] = [];

  /** ceSliceElements: logits (M x vocabulary slice) the cross-entropy holds at once. */
  constructor(readonly device: GPUDevice, private pipelines: PipelineCache, limits: MemoryLimits,
    private ceSliceElements: number, readonly info: WebGpuInfo) {
    this.memory = new GpuMemory(device, limits);
    this.stream = new CommandStream(device, this.memory);
    this.dummy = this.alloc('f32', 64, 'unbound');
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

  private check(): void {
    const err = this.failure ?? this.memory.failure;
    if (err) throw err;
    if (this.disposed) throw new EngineError('WebGPU backend used after dispose()');
  }

  private run(name: string, bindings: Record<string, Region>, params: Record<string, number>, grid: Grid, dtype: WeightFormat | null = null): void {
    this.check();
    this.stream.dispatch(this.pipelines.get(name, dtype), bindings, params, grid);
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
    for (const chunk of w.chunks) this.release(chunk.buffer);
    w.chunks = [];
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
    if (format === 'nf4') await this.pipelines.addFormat('nf4');
  }

  weight(data: Float32Array | Uint16Array | Uint32Array, dtype: WeightFormat, rows: number, cols: number, label: string): GpuWeight {
    this.check();
    if (dtype === 'nf4' && !this.pipelines.has('matmul.forward', 'nf4')) throw new EngineError(`${label}: NF4 weights before the NF4 kernels were compiled (call prepareWeights('nf4') first)`);
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
    const overlapping = dst.buffer === src.buffer && dst.offset < src.offset + src.size && src.offset < dst.offset + dst.size;
    if (overlapping) {
      // overlapping ranges of one buffer cannot both be bound for writing: bounce through scratch
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

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.memory.destroyAll();
    this.device.destroy();
  }

  // ---- layers

  embeddingForward(out: GpuTensor, ids: GpuTensor, wte: GpuWeight, N: number, C: number): void {
    for (const chunk of wte.chunks)
      this.run('embedding.forward', { out, ids, wt: chunk }, { N, C, r0: chunk.row0, rows: chunk.rows }, grid1d(N * C), wte.dtype);
  }

  rmsnormForward(out: GpuTensor, rstd: GpuTensor, inp: GpuTensor, weight: GpuTensor, N: number, C: number, eps: number): void {
    this.run('rmsnorm.forward', { out, rstd, inp, weight }, { N, C, eps }, rowsGrid(N));
  }

  rmsnormBackward(dinp: GpuTensor, dout: GpuTensor, inp: GpuTensor, weight: GpuTensor, rstd: GpuTensor, N: number, C: number): void {
    this.run('rmsnorm.backward', { dinp, dout, inp, weight, rstd }, { N, C, eps: 0 }, rowsGrid(N));
  }

  matmulForward(out: GpuTensor, inp: GpuTensor, w: GpuWeight, bias: GpuTensor | null, N: number, In: number, O: number): void {
    for (const chunk of w.chunks) {
      const params = { N, In, O, o0: chunk.row0, w0: 0, rows: chunk.rows, hasBias: bias ? 1 : 0 };
      this.run('matmul.forward', { out, inp, wt: chunk, bias: bias ?? this.dummy }, params, [Math.ceil(chunk.rows / MM_TILE), Math.ceil(N / MM_TILE)], w.dtype);
    }
  }

  matmulBackward(dinp: GpuTensor, dout: GpuTensor, w: GpuWeight, N: number, In: number, O: number): void {
    for (const chunk of w.chunks) {
      const params = { N, In, O, o0: chunk.row0, w0: 0, rows: chunk.rows, hasBias: 0 };
      this.run('matmul.backward', { dinp, dout, wt: chunk }, params, [Math.ceil(In / MM_TILE), Math.ceil(N / MM_TILE)], w.dtype);
    }
  }

  private loraParams(N: number, In: number, O: number, R: number, scale: number, dropout: Dropout): Record<string, number> {
    if (N > 65535) throw new EngineError(`LoRA over ${N} tokens: at most 65535 per call`);
    const on = dropout.p > 0;
    return { N, In, O, R, scale, seed: dropout.seed >>> 0, threshold: dropoutThreshold(dropout.p), keepScale: on ? 1 / (1 - dropout.p) : 1, dropOn: on ? 1 : 0 };
  }

  loraForward(out: GpuTensor, xa: GpuTensor, inp: GpuTensor, a: GpuTensor, b: GpuTensor,
    N: number, In: number, O: number, R: number, scale: number, dropout: Dropout): void {
    const params = this.loraParams(N, In, O, R, scale, dropout);
    this.run('lora.xa_forward', { xa, inp, a }, params, [N, R]);
    this.run('lora.out_forward', { out, xa, b }, params, grid1d(N * O));
  }

  loraBackward(dinp: GpuTensor, da: GpuTensor, db: GpuTensor, dxa: GpuTensor, dout: GpuTensor, inp: GpuTensor, xa: GpuTensor,
    a: GpuTensor, b: GpuTensor, N: number, In: number, O: number, R: number, scale: number, dropout: Dropout): void {
    const params = this.loraParams(N, In, O, R, scale, dropout);
    this.run('lora.dxa_backward', { dxa, dout, b }, params, [N, R]);
    this.run('lora.db_backward', { db, dout, xa }, params, grid1d(O * R));
    this.run('lora.da_backward', { da, dxa, inp }, params, grid1d(R * In));
    this.run('lora.dinp_backward', { dinp, dxa, a }, params, grid1d(N * In));
  }

  /** cos/sin of every (position, pair) in f64, rounded once to f32; grown by doubling. */
  private ropeTable(HD: number, theta: number, positionsNeeded: number): { table: GpuTensor; positions: number } {
    const key = `${HD}:${theta}`;
    const have = this.ropeTables.get(key);
    if (have && have.positions >= positionsNeeded) return have;
    let positions = 1024;
    while (positions < positionsNeeded) positions *= 2;
    const half = HD / 2;
    const data = new Float32Array(2 * positions * half);
    for (let j = 0; j < half; j++) {
      const invFreq = 1 / Math.pow(theta, (2 * j) / HD);
      for (let p = 0; p < positions; p++) {
        data[p * half + j] = Math.cos(p * invFreq);
        data[(positions + p) * half + j] = Math.sin(p * invFreq);
      }
    }
    if (have) this.release(have.table.buffer);
    const table = this.alloc('f32', data.length, `rope.${key}`);
    this.upload(table, data);
    const entry = { table, positions };
    this.ropeTables.set(key, entry);
    return entry;
  }

  private rope(entry: string, x: GpuTensor, B: number, T: number, H: number, HD: number, theta: number, posOffset: number): void {
    const { table, positions } = this.ropeTable(HD, theta, posOffset + T);
    this.run(entry, { x, table }, { B, T, H, HD, posOffset, positions }, grid1d((B * T * H * HD) / 2));
  }

  ropeForward(x: GpuTensor, B: number, T: number, H: number, HD: number, theta: number, posOffset: number): void {
    this.rope('rope.forward', x, B, T, H, HD, theta, posOffset);
  }

  ropeBackward(dx: GpuTensor, B: number, T: number, H: number, HD: number, theta: number, posOffset: number): void {
    this.rope('rope.backward', dx, B, T, H, HD, theta, posOffset);
  }

  attentionForward(out: GpuTensor, att: GpuTensor, q: GpuTensor, k: GpuTensor, v: GpuTensor, mask: GpuTensor,
    B: number, T: number, S: number, SMAX: number, NH: number, NKV: number, HD: number): void {
    if (S < T || S > SMAX) throw new EngineError(`attention: need T <= S <= SMAX, got T=${T} S=${S} SMAX=${SMAX}`);
    const params = { B, T, S, SMAX, NH, NKV, HD, scale: 1 / Math.sqrt(HD) };
    this.run('attention.forward', { out, att, q, k, v, mask }, params, [T, B * NH]);
  }

  attentionBackward(dq: GpuTensor, dk: GpuTensor, dv: GpuTensor, datt: GpuTensor, dout: GpuTensor, q: GpuTensor, k: GpuTensor,
    v: GpuTensor, att: GpuTensor, B: number, T: number, NH: number, NKV: number, HD: number): void {
    const params = { B, T, S: T, SMAX: T, NH, NKV, HD, scale: 1 / Math.sqrt(HD) };
    this.run('attention.backward_rows', { datt, dout, v, att, k, dq }, params, [T, B * NH]);
    this.run('attention.backward_kv', { att, datt, dout, q, dk, dv }, params, grid1d(B * T * NKV * HD));
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

  crossEntropyForwardBackward(losses: GpuTensor, dh: GpuTensor, h: GpuTensor, w: GpuWeight, targets: GpuTensor,
    M: number, C: number, V: number, gradScale: number): void {
    if (w.rows !== V || w.cols !== C) throw new EngineError(`cross-entropy: weight ${w.label} is (${w.rows}, ${w.cols}), expected (${V}, ${C})`);
    if (M === 0) return;
    const slice = Math.max(16, Math.min(V, Math.floor(this.ceSliceElements / M / 16) * 16));
    const logits = this.scratchTensor('ce.logits', M * slice);
    const stats = this.scratchTensor('ce.stats', 4 * M);
    const base = { M, C, V, vc: 0, v0: 0, r0: 0, rows: 0, gradScale };
    this.run('crossentropy.init', { stats }, base, grid1d(M), w.dtype);
    this.zero(dh, M * C);
    let first = true;
    for (const chunk of w.chunks) {
      for (let r = 0; r < chunk.rows; r += slice) {
        const vc = Math.min(slice, chunk.rows - r);
        const mm = { N: M, In: C, O: vc, o0: 0, w0: r, rows: vc, hasBias: 0 };
        this.run('matmul.forward', { out: logits, inp: h, wt: chunk, bias: this.dummy }, mm, [Math.ceil(vc / MM_TILE), Math.ceil(M / MM_TILE)], w.dtype);
        this.run('crossentropy.update', { logits, stats, targets }, { ...base, vc, v0: chunk.row0 + r }, rowsGrid(M), w.dtype);
        if (!first) this.run('crossentropy.rescale', { dh, stats }, base, grid1d(M * C), w.dtype);
        this.run('matmul.backward', { dinp: dh, dout: logits, wt: chunk }, mm, [Math.ceil(C / MM_TILE), Math.ceil(M / MM_TILE)], w.dtype);
        first = false;
      }
    }
    this.run('crossentropy.finalize', { dh, stats, targets, losses }, base, grid1d(M * C), w.dtype);
    for (const chunk of w.chunks)
      this.run('crossentropy.onehot', { dh, targets, wt: chunk }, { ...base, r0: chunk.row0, rows: chunk.rows }, grid1d(M * C), w.dtype);
  }

  // ---- optimizer

  globalNorm(out: GpuTensor, x: GpuTensor, P: number): void {
    const partials = this.scratchTensor('norm.partials', NORM_PARTS);
    this.run('norm.partial_sums', { x, partials }, { P, parts: NORM_PARTS }, [NORM_PARTS, 1]);
    this.run('norm.finish', { partials, out }, { P, parts: NORM_PARTS }, [1, 1]);
  }

  adamw(param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, norm: GpuTensor, P: number, h: AdamWParams): void {
    const params = {
      P, lr: h.lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay,
      stepSize: h.lr / (1 - Math.pow(h.beta1, h.step)), bc2sqrt: Math.sqrt(1 - Math.pow(h.beta2, h.step)), maxGradNorm: h.maxGradNorm,
    };
    this.run('adamw.step', { param, grad, m, v, norm }, params, grid1d(P));
  }

  mergeLora(out: GpuTensor, w: GpuWeight, a: GpuTensor, b: GpuTensor, O: number, In: number, R: number, scale: number): void {
    for (const chunk of w.chunks)
      this.run('merge.merge', { out, a, b, wt: chunk }, { O, In, R, r0: chunk.row0, rows: chunk.rows, scale }, grid1d(chunk.rows * In), w.dtype);
  }
}
