// The fast kernels at the level of addresses: writes a job block (layout = the structs in
// kernels.c) and runs it on one thread or on the pool. FastCpuOps maps tensors to addresses.

import type { WeightFormat } from '../../../core/dtype.ts';
import { EngineError } from '../../../core/errors.ts';
import { dropoutThreshold } from '../../ops.ts';
import { WasmHeap } from './heap.ts';
import { CONTROL_BYTES, ThreadPool } from './pool.ts';
import { enableRelaxedSimdInNode, loadKernels, relaxedSimdSupported, sharedMemorySupported } from './wasm.ts';

/**
 * Below this many multiply-adds (~0.2 ms of one core) a job runs on the caller alone: a
 * worker takes tens of microseconds to wake, and on a busy machine a worker preempted inside
 * a unit of a tiny job stalls the caller for a whole timeslice (token-by-token decoding ran
 * 1.5x faster with this at 4M than at 256K).
 */
const DEFAULT_PARALLEL_MIN = 1 << 22;
/** Per-thread packing scratch: KC * JB * 4 bytes in kernels.c. */
const PACK_BYTES = 256 * 64 * 4;
/** Int32 words of the JobHeader in kernels.c: kind, nthreads, scratch, scratchStride, next. */
const HEADER_WORDS = 5;
/** Units the threads claim in kernels.c: JB columns or MB rows of a GEMM. */
const JB = 64,
  MB = 32;
const SPLIT_J = 0,
  SPLIT_M = 1;
const JOB_BYTES = 128;
/** The module's shadow stack sits in [0, 64 KiB) (--stack-first); the heap starts above it. */
const HEAP_BASE = 65536;

const JOB_GEMM = 1,
  JOB_DROPOUT = 2,
  JOB_MASKED_ADD = 3,
  JOB_ATTN_FWD = 4,
  JOB_ATTN_BWD = 5,
  JOB_SOFTMAX_CHUNK = 6;
const JOB_SWIGLU_FWD = 7,
  JOB_SWIGLU_BWD = 8,
  JOB_RMSNORM_FWD = 9,
  JOB_RMSNORM_BWD = 10;
const DTYPE_CODE: Record<WeightFormat, number> = { f32: 0, bf16: 1, f16: 2, nf4: 3 };

/** C[m, j] = (accumulate ? C[m, j] : bias[j] or 0) + alpha * sum_k A(m, k) B(k, j); addresses in bytes, strides in elements. */
export interface GemmArgs {
  M: number;
  J: number;
  K: number;
  /** A(m, k) = f32 at A + 4 * (m * sAm + k * sAk) */
  A: number;
  sAm: number;
  sAk: number;
  /** B(k, j) at B + size * (k * sBk + j * sBj); NF4: element k * sBk + j * sBj of the blocks at B (src/core/nf4.ts) */
  B: number;
  bdtype: WeightFormat;
  sBk: number;
  sBj: number;
  C: number;
  ldc: number;
  alpha: number;
  accumulate: boolean;
  /** Address of J f32 added on a non-accumulating call; 0 for none. */
  bias: number;
}

export interface FastKernelOptions {
  /** Threads including the caller; default 2 (this project targets two cores). Forced to 1 without shared memory. */
  threads?: number;
  /** Default: relaxed SIMD when the engine has it (Node 20: turned on by its V8 flag). */
  relaxed?: boolean;
  /** Default: shared when SharedArrayBuffer is available. */
  shared?: boolean;
  /** Smallest job (multiply-adds, or elements for dropout) worth splitting; tests pass 0 to split every job. */
  parallelMin?: number;
}

export class FastKernels {
  private readonly job: number;
  private jobI: Int32Array;
  private jobF: Float32Array;
  private readonly scratch: number;
  private disposed = false;

  private constructor(
    readonly heap: WasmHeap,
    private readonly runJob: (job: number, tid: number) => number,
    private readonly pool: ThreadPool | null,
    readonly shared: boolean,
    readonly relaxed: boolean,
    readonly threads: number,
    private readonly parallelMin: number,
  ) {
    this.job = heap.allocBytes(JOB_BYTES, 'job block');
    this.jobI = heap.i32(this.job, JOB_BYTES / 4);
    this.jobF = heap.f32(this.job, JOB_BYTES / 4);
    this.scratch = heap.allocBytes(PACK_BYTES * threads, 'packing scratch');
  }

  static async create(opts: FastKernelOptions = {}): Promise<FastKernels> {
    const shared = opts.shared ?? sharedMemorySupported();
    const relaxed = opts.relaxed === false ? false : relaxedSimdSupported() || (await enableRelaxedSimdInNode());
    if (opts.relaxed && !relaxed)
      throw new EngineError('fast CPU kernels: relaxed SIMD was asked for but this WebAssembly engine lacks it');
    const threads = shared ? Math.max(1, Math.floor(opts.threads ?? 2)) : 1;
    const rt = await loadKernels({ shared, relaxed });
    const heap = new WasmHeap(rt.memory, HEAP_BASE, rt.maxPages);
    const ctrl = heap.allocBytes(CONTROL_BYTES, 'thread control block');
    const instance = await WebAssembly.instantiate(rt.module, { env: { memory: rt.memory } });
    const runJob = instance.exports.run_job as (job: number, tid: number) => number;
    const pool = threads > 1 ? await ThreadPool.create(rt.module, rt.memory, ctrl, runJob, threads) : null;
    return new FastKernels(heap, runJob, pool, shared, relaxed, threads, opts.parallelMin ?? DEFAULT_PARALLEL_MIN);
  }

  /** Job views are re-made when a private memory grew (growing detaches its old buffer). */
  private jobViews(): { i: Int32Array; f: Float32Array } {
    if (this.jobI.byteLength === 0) {
      this.jobI = this.heap.i32(this.job, JOB_BYTES / 4);
      this.jobF = this.heap.f32(this.job, JOB_BYTES / 4);
    }
    return { i: this.jobI, f: this.jobF };
  }

  /**
   * Writes the header and the job's fields (i32, or f32 where given as { f32 }) in struct
   * order, then runs it; `next` starts at 0 so the threads claim units from the first.
   */
  private run(kind: number, nthreads: number, fields: Array<number | { f32: number }>): void {
    if (this.disposed) throw new EngineError('fast CPU engine: used after dispose()');
    const { i, f } = this.jobViews();
    i[0] = kind;
    i[1] = nthreads;
    i[2] = this.scratch;
    i[3] = PACK_BYTES;
    i[4] = 0;
    fields.forEach((v, n) => {
      if (typeof v === 'number') i[HEADER_WORDS + n] = v;
      else f[HEADER_WORDS + n] = v.f32;
    });
    try {
      if (nthreads > 1 && this.pool) this.pool.run(this.job);
      else this.runJob(this.job, 0);
    } catch (e) {
      if (e instanceof EngineError) throw e;
      throw new EngineError(
        `fast CPU engine: job ${kind} trapped (${(e as Error).message}): an address or size outside the kernels' memory`,
      );
    }
  }

  gemm(g: GemmArgs): void {
    if (g.M <= 0 || g.J <= 0) return;
    if (g.K <= 0) throw new EngineError(`gemm: K must be positive (M ${g.M}, J ${g.J}, K ${g.K})`);
    const macs = g.M * g.J * g.K;
    let nthreads = macs >= this.parallelMin ? this.threads : 1;
    // split the columns when each thread gets two blocks or more, else the longer side
    const unitsJ = Math.ceil(g.J / JB),
      unitsM = Math.ceil(g.M / MB);
    let split = SPLIT_J;
    if (unitsJ < 2 * nthreads) {
      if (unitsM >= unitsJ && unitsM >= 2) split = SPLIT_M;
      else if (unitsJ < 2) nthreads = 1;
    }
    this.run(JOB_GEMM, nthreads, [
      g.M,
      g.J,
      g.K,
      g.A,
      g.sAm,
      g.sAk,
      g.B,
      DTYPE_CODE[g.bdtype],
      g.sBk,
      g.sBj,
      g.C,
      g.ldc,
      { f32: g.alpha },
      g.accumulate ? 1 : 0,
      g.bias,
      split,
    ]);
  }

  /**
   * dst[e] = src[e] * (kept ? 1/(1-p) : 0) for e < n, element e being flat index e0 + e of the
   * dropout call (ops.ts dropoutKeep); with `add`, dst[e] += that instead.
   */
  dropout(dst: number, src: number, n: number, seed: number, e0: number, p: number, add: boolean): void {
    if (n <= 0) return;
    const nthreads = n >= this.parallelMin / 4 ? this.threads : 1;
    this.run(add ? JOB_MASKED_ADD : JOB_DROPOUT, nthreads, [
      dst,
      src,
      n,
      seed | 0,
      e0 | 0,
      dropoutThreshold(p) | 0,
      { f32: 1 / (1 - p) },
    ]);
  }

  /** CpuOps.attentionForward on addresses; threads take (b, head) pairs. */
  attentionForward(
    out: number,
    att: number,
    q: number,
    k: number,
    v: number,
    mask: number,
    B: number,
    T: number,
    S: number,
    SMAX: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    const nthreads = T * S * HD * B * NH >= this.parallelMin ? Math.min(this.threads, B * NH) : 1;
    this.run(JOB_ATTN_FWD, nthreads, [out, att, q, k, v, mask, B, T, S, SMAX, NH, NKV, HD]);
  }

  /** CpuOps.attentionBackward on addresses; threads take (b, kv head) groups, which own their dk/dv rows. */
  attentionBackward(
    dq: number,
    dk: number,
    dv: number,
    datt: number,
    dout: number,
    q: number,
    k: number,
    v: number,
    att: number,
    B: number,
    T: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    const nthreads = T * T * HD * B * NH >= this.parallelMin ? Math.min(this.threads, B * NKV) : 1;
    this.run(JOB_ATTN_BWD, nthreads, [dq, dk, dv, datt, dout, q, k, v, att, B, T, NH, NKV, HD]);
  }

  /**
   * One vocabulary chunk of an online softmax: for each of M rows, folds logits L[m, 0:nv]
   * (row stride ldl) into the running rowMax/rowSum (f32), replaces them by exp(L - max)
   * and rescales the accumulated gradient row dh[m, 0:C] when the max moved.
   */
  softmaxChunk(
    L: number,
    ldl: number,
    nv: number,
    M: number,
    rowMax: number,
    rowSum: number,
    dh: number,
    C: number,
  ): void {
    const nthreads = M * nv * 8 >= this.parallelMin ? Math.min(this.threads, M) : 1;
    this.run(JOB_SOFTMAX_CHUNK, nthreads, [L, ldl, nv, M, rowMax, rowSum, dh, C]);
  }

  /** out = silu(gate) * up over n elements. */
  swigluForward(out: number, gate: number, up: number, n: number): void {
    this.swiglu(JOB_SWIGLU_FWD, out, gate, up, n, 0, 0);
  }

  /** dgate, dup from dout (n elements). */
  swigluBackward(dgate: number, dup: number, dout: number, gate: number, up: number, n: number): void {
    this.swiglu(JOB_SWIGLU_BWD, dout, gate, up, n, dgate, dup);
  }

  private swiglu(kind: number, out: number, gate: number, up: number, n: number, dgate: number, dup: number): void {
    if (n <= 0) return;
    const nthreads = n * 8 >= this.parallelMin ? this.threads : 1;
    this.run(kind, nthreads, [out, gate, up, n, dgate, dup]);
  }

  /** out (N,C) = weight * inp * rstd, rstd (N) = 1/sqrt(mean(inp²) + eps). */
  rmsnormForward(out: number, rstd: number, inp: number, weight: number, N: number, C: number, eps: number): void {
    const nthreads = N * C * 4 >= this.parallelMin ? this.threads : 1;
    this.run(JOB_RMSNORM_FWD, nthreads, [out, rstd, inp, weight, N, C, { f32: eps }, 0]);
  }

  /** dinp (N,C) += the RMSNorm input gradient from dout, given the forward's rstd. */
  rmsnormBackward(dinp: number, dout: number, inp: number, weight: number, rstd: number, N: number, C: number): void {
    const nthreads = N * C * 8 >= this.parallelMin ? this.threads : 1;
    this.run(JOB_RMSNORM_BWD, nthreads, [dinp, rstd, inp, weight, N, C, { f32: 0 }, dout]);
  }

  /** Work units the pool's workers computed so far (0 without a pool). */
  get unitsByWorkers(): number {
    return this.pool?.unitsByWorkers ?? 0;
  }

  dispose(): void {
    this.disposed = true;
    this.pool?.dispose();
  }
}
