// A few workers that instantiate the kernel module over the same shared memory and help
// with each job. Synchronous from the caller's view: the caller opens a job and works on
// it itself (threads claim units of a job, see kernels.c); when no unit is left it closes
// the job and waits only for workers that are inside it. A worker the OS has not
// scheduled yet finds the job closed and skips it, so on a busy machine the caller never
// waits for a sleeping thread, only for one in the middle of a unit. Atomics.wait is
// allowed in Node's main thread and inside the training Web Worker.
//
// Control block (Int32 words at `ctrl`): GEN (bumped per job; workers sleep on it),
// ACTIVE (workers inside a job), QUIT, JOB (address), FAILED, OPEN (GEN of the open job, -1),
// HELPED (units the workers computed, for tests and tuning).
// A worker counts itself ACTIVE before it checks OPEN and the caller closes OPEN before it
// reads ACTIVE, so (all accesses sequentially consistent) either the worker sees the job
// closed or the caller sees the worker and waits for it.

import { EngineError } from '../../../core/errors.ts';

const GEN = 0,
  ACTIVE = 1,
  QUIT = 2,
  JOB = 3,
  FAILED = 4,
  OPEN = 5,
  HELPED = 6;
const CLOSED = -1;
export const CONTROL_BYTES = 64;

/**
 * The worker body, as source so the same text starts a Node worker (eval) and a browser
 * Blob worker, with no module resolution or bundler involved in either.
 */
const WORKER_SOURCE = `
function start(data, ready) {
  const { module, memory, ctrl, tid, gen: gen0 } = data;
  const run = new WebAssembly.Instance(module, { env: { memory } }).exports.run_job;
  const flags = new Int32Array(memory.buffer, ctrl, 16);
  let gen = gen0;
  ready();
  for (;;) {
    Atomics.wait(flags, ${GEN}, gen);
    gen = Atomics.load(flags, ${GEN});
    if (Atomics.load(flags, ${QUIT})) break;
    Atomics.add(flags, ${ACTIVE}, 1);
    if (Atomics.load(flags, ${OPEN}) === gen) {
      try {
        Atomics.add(flags, ${HELPED}, run(Atomics.load(flags, ${JOB}), tid));
      } catch (e) {
        Atomics.store(flags, ${FAILED}, 1);
      }
    }
    if (Atomics.sub(flags, ${ACTIVE}, 1) === 1) Atomics.notify(flags, ${ACTIVE});
  }
}
if (typeof require === 'function') {
  const { parentPort, workerData } = require('node:worker_threads');
  start(workerData, () => parentPort.postMessage('ready'));
} else {
  self.onmessage = (e) => start(e.data, () => self.postMessage('ready'));
}
`;

interface PoolWorker {
  terminate(): unknown;
}

type RunJob = (job: number, tid: number) => unknown;

export class ThreadPool {
  private disposed = false;

  private constructor(
    private readonly flags: Int32Array,
    private readonly runOnCaller: RunJob,
    private readonly workers: PoolWorker[],
  ) {}

  /** Work units computed by the workers so far (the caller computes the rest). */
  get unitsByWorkers(): number {
    return Atomics.load(this.flags, HELPED);
  }

  /** Threads that run each job: the caller plus the workers. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /** Starts `threads - 1` workers and waits until each has instantiated the module. */
  static async create(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    ctrl: number,
    runOnCaller: RunJob,
    threads: number,
  ): Promise<ThreadPool> {
    const flags = new Int32Array(memory.buffer, ctrl, CONTROL_BYTES / 4);
    Atomics.store(flags, OPEN, CLOSED);
    const gen = Atomics.load(flags, GEN);
    const workers: PoolWorker[] = [];
    try {
      for (let tid = 1; tid < threads; tid++) workers.push(await startWorker({ module, memory, ctrl, tid, gen }));
    } catch (e) {
      for (const w of workers) w.terminate();
      throw new EngineError(`fast CPU engine: could not start worker threads (${(e as Error).message})`);
    }
    return new ThreadPool(flags, runOnCaller, workers);
  }

  /** Runs the job at address `job` on every thread; returns when all are done. */
  run(job: number): void {
    if (this.disposed) throw new EngineError('fast CPU engine: used after dispose()');
    const f = this.flags;
    if (this.workers.length === 0) {
      this.runOnCaller(job, 0);
      return;
    }
    const gen = (Atomics.load(f, GEN) + 1) & 0x7fffffff;
    Atomics.store(f, JOB, job);
    Atomics.store(f, OPEN, gen);
    Atomics.store(f, GEN, gen);
    Atomics.notify(f, GEN);
    let callerError: unknown = null;
    try {
      this.runOnCaller(job, 0);
    } catch (e) {
      callerError = e;
    }
    // no unit is left: late workers must not start, and the job block is reused only once
    // the workers inside it are out, whatever happened here
    Atomics.store(f, OPEN, CLOSED);
    for (let a = Atomics.load(f, ACTIVE); a !== 0; a = Atomics.load(f, ACTIVE)) Atomics.wait(f, ACTIVE, a);
    const workerFailed = Atomics.exchange(f, FAILED, 0) !== 0;
    if (callerError) throw callerError;
    if (workerFailed)
      throw new EngineError('fast CPU engine: a kernel trapped in a worker thread (out-of-bounds address?)');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.flags, QUIT, 1);
    Atomics.add(this.flags, GEN, 1);
    Atomics.notify(this.flags, GEN);
    for (const w of this.workers) w.terminate();
  }
}

interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: number;
  tid: number;
  gen: number;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

async function startWorker(init: WorkerInit): Promise<PoolWorker> {
  if (isNode) {
    const name = 'node:worker_threads';
    const { Worker } = (await import(/* @vite-ignore */ name)) as typeof import('node:worker_threads');
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: init });
    // a forgotten dispose() must not keep the process alive
    w.unref();
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    return w;
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url);
  try {
    await new Promise<void>((resolve, reject) => {
      w.onmessage = () => resolve();
      w.onerror = (e) => reject(new Error(e.message));
      w.postMessage(init);
    });
  } finally {
    URL.revokeObjectURL(url);
  }
  return w;
}
