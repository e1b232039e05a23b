// GPU time per kernel family (the .wgsl file: matmul, attention, lora, ...) from timestamp
// queries: while profiling, the command stream gives every launch its own compute pass whose
// start and end times land in a query set; each submit resolves them and reads them back.
// Separate passes cost some overlap between launches, so shares are what to read, not totals.

import { USAGE, type GpuMemory } from './memory.ts';

const PAIRS = 2048; // launches timed per submit
const MAP_READ = 1;

export class KernelProfiler {
  private querySet: GPUQuerySet;
  private resolveBuf: GPUBuffer;
  private names: string[] = [];
  private pending: Promise<void>[] = [];
  private encoded: { read: GPUBuffer; names: string[] }[] = [];
  private totals = new Map<string, { ms: number; launches: number }>();

  constructor(
    device: GPUDevice,
    private memory: GpuMemory,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * PAIRS, label: 'profiler' });
    this.resolveBuf = memory.createBuffer(16 * PAIRS, USAGE.QUERY_RESOLVE | USAGE.COPY_SRC, 'profiler resolve');
  }

  /** Timestamp writes for the next launch's pass, or null once the set is full (that launch goes untimed). */
  get full(): boolean {
    return this.names.length === PAIRS;
  }

  next(name: string): GPUComputePassTimestampWrites | null {
    if (this.names.length === PAIRS) return null;
    const i = this.names.length;
    this.names.push(name.split('.')[0]);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Encodes the copy of this submit's timestamps to a buffer the host can read. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.names.length;
    if (!n) return;
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuf, 0);
    const read = this.memory.createBuffer(16 * n, USAGE.MAP_READ | USAGE.COPY_DST, 'profiler read');
    encoder.copyBufferToBuffer(this.resolveBuf, 0, read, 0, 16 * n);
    this.encoded.push({ read, names: this.names });
    this.names = [];
  }

  /** After the submit: the copies are queued, so their buffers may be mapped. */
  submitted(): void {
    for (const { read, names } of this.encoded) this.pending.push(this.collect(read, names));
    this.encoded = [];
  }

  private async collect(read: GPUBuffer, names: string[]): Promise<void> {
    await read.mapAsync(MAP_READ);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    this.memory.destroy(read);
    names.forEach((name, i) => {
      const ms = t[2 * i + 1] > t[2 * i] ? Number(t[2 * i + 1] - t[2 * i]) / 1e6 : 0;
      const e = this.totals.get(name) ?? { ms: 0, launches: 0 };
      e.ms += ms;
      e.launches++;
      this.totals.set(name, e);
    });
  }

  /** Milliseconds and launches by family since the last reset, once every read-back is in. */
  async report(): Promise<Record<string, { ms: number; launches: number }>> {
    const timer = setInterval(() => {}, 50); // Node's Dawn lets the process exit under a pending map
    try {
      await Promise.all(this.pending);
    } finally {
      clearInterval(timer);
    }
    this.pending = [];
    return Object.fromEntries(this.totals);
  }

  reset(): void {
    this.totals.clear();
  }

  destroy(): void {
    this.querySet.destroy();
    this.memory.destroy(this.resolveBuf);
  }
}
