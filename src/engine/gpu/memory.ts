// GPU memory: every buffer is created here so the bytes can be counted, each tensor of an
// arena gets a buffer of its own (so launches can bind inputs read-only), and frozen weights are
// split by rows into chunks no larger than one storage binding (the bf16 embedding of
// Qwen2.5-0.5B is 272 MB). NF4 weights are split only between their 64-value blocks, so a chunk
// is a whole run of blocks.

import type { WeightFormat } from '../../core/dtype.ts';
import { EngineError, OutOfMemoryError } from '../../core/errors.ts';
import { NF4_BLOCK, NF4_BLOCK_WORDS, nf4Bytes, nf4RowStep } from '../../core/nf4.ts';
import { checkWeightData } from '../ops.ts';

// GPUBufferUsage values, spelled out because Node's webgpu package does not define the globals.
export const USAGE = {
  MAP_READ: 0x1,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  QUERY_RESOLVE: 0x200,
} as const;
const STORAGE_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;

/** A bindable byte range of one buffer. */
export interface Region {
  buffer: GPUBuffer;
  offset: number; // bytes, a multiple of minStorageBufferOffsetAlignment
  size: number; // bytes
}

export interface GpuTensor extends Region {
  dtype: 'f32' | 'i32';
  n: number; // elements
  label: string;
}

/** Rows row0 .. row0+rows of a weight, packed (two 16-bit values per u32, f32, or NF4 blocks), rows `stride` apart. */
export interface WeightChunk extends Region {
  row0: number;
  rows: number;
}

export interface GpuWeight {
  dtype: WeightFormat;
  rows: number;
  cols: number;
  /** Elements from one row to the next: cols rounded up to a multiple of 8. */
  stride: number;
  label: string;
  chunks: WeightChunk[];
}

export interface MemoryLimits {
  maxBufferSize: number;
  maxBindingSize: number;
  maxWeightChunkBytes: number;
  alignment: number;
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * The device refused a buffer. WebGPU cannot say how much memory is free, so the error carries
 * what was asked for in all (plannedBytes) and what the device did give (availableBytes, a
 * lower bound), and what the user can change.
 */
export function refusedAllocation(label: string, bytes: number, held: number, reason: string): OutOfMemoryError {
  const what = bytes
    ? `${label} needs ${mib(bytes)} on top of the ${mib(held)} already held (${mib(held + bytes)} in all), and the GPU refused`
    : `${label} failed with ${mib(held)} held`;
  return new OutOfMemoryError(
    `GPU out of memory: ${what} (${reason}). ` +
      'Train with a shorter max length or a smaller batch, or close other tabs and programs that use the GPU, then try again.',
    held + bytes,
    held,
  );
}

export class GpuMemory {
  private live = new Set<GPUBuffer>();
  private bytes = 0;
  /** Set when the device refused an allocation; reported at the next flush. */
  failure: Error | null = null;
  /** The device's answers (out of memory or not) to allocations not yet confirmed. */
  private pending = new Set<Promise<void>>();

  constructor(
    private device: GPUDevice,
    readonly limits: MemoryLimits,
  ) {}

  allocatedBytes(): number {
    return this.bytes;
  }

  createBuffer(size: number, usage: number, label: string): GPUBuffer {
    const bytes = alignUp(Math.max(size, 4), 4);
    if (bytes > this.limits.maxBufferSize)
      throw new OutOfMemoryError(
        `${label}: ${bytes} bytes exceed the largest GPU buffer (${this.limits.maxBufferSize})`,
        bytes,
        this.limits.maxBufferSize,
      );
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size: bytes, usage, label });
    const held = this.bytes;
    const answer: Promise<void> = this.device
      .popErrorScope()
      .then(
        (err) => {
          if (err && !this.failure) this.failure = refusedAllocation(label, bytes, held, err.message);
        },
        () => {}, // a lost device: reported by its own handler
      )
      .finally(() => this.pending.delete(answer));
    this.pending.add(answer);
    this.live.add(buffer);
    this.bytes += bytes;
    return buffer;
  }

  /** Resolves once the device has answered every allocation made so far, so `failure` is final. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** Called before a buffer is destroyed (the command stream drops bind groups naming it). */
  onDestroy: ((buffer: GPUBuffer) => void) | null = null;

  destroy(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) return;
    this.onDestroy?.(buffer);
    this.bytes -= buffer.size;
    buffer.destroy();
  }

  /** Destroys every buffer made after the first `keep` (the owner's own come first). */
  destroyAfter(keep: number): void {
    for (const b of [...this.live].slice(keep)) this.destroy(b);
  }

  /** Buffers alive now, in the order they were made. */
  get count(): number {
    return this.live.size;
  }

  destroyAll(): void {
    for (const b of [...this.live]) this.destroy(b);
  }

  /**
   * Each tensor of the table in a buffer of its own: a kernel may bind a buffer read-only only
   * when no writable binding of the same launch names it, so inputs and outputs must not share one.
   */
  arena(dtype: 'f32' | 'i32', sizes: Record<string, number>, label: string): Record<string, GpuTensor> {
    const { maxBindingSize } = this.limits;
    const out: Record<string, GpuTensor> = {};
    for (const [name, n] of Object.entries(sizes)) {
      if (!Number.isInteger(n) || n < 0)
        throw new EngineError(`${label}.${name}: size ${n} is not a non-negative integer`);
      const bytes = Math.max(4, n * 4);
      if (bytes > maxBindingSize)
        throw new OutOfMemoryError(
          `${label}.${name}: ${bytes} bytes exceed the largest GPU storage binding (${maxBindingSize}); use a smaller batch or sequence`,
          bytes,
          maxBindingSize,
        );
    }
    for (const [name, n] of Object.entries(sizes)) {
      const bytes = Math.max(4, n * 4);
      const buffer = this.createBuffer(bytes, STORAGE_USAGE, `${label}.${name}`);
      out[name] = { buffer, offset: 0, size: bytes, dtype, n, label: `${label}.${name}` };
    }
    return out;
  }

  /**
   * A frozen weight in chunks of whole rows, each row padded with zeros to `stride` (a multiple
   * of 8 elements) so the kernels read eight values as one aligned 16-byte load. NF4 blocks run
   * across rows unpadded (stride = cols): src/core/nf4.ts quantizes the flat weight.
   */
  weight(
    queue: GPUQueue,
    data: Float32Array | Uint16Array | Uint32Array,
    dtype: WeightFormat,
    rows: number,
    cols: number,
    label: string,
  ): GpuWeight {
    checkWeightData(data, dtype, rows, cols, label);
    if (dtype === 'nf4') return this.nf4Weight(queue, data as Uint32Array, rows, cols, label);
    const elemBytes = dtype === 'f32' ? 4 : 2;
    const stride = alignUp(cols, 8);
    const bindingRows = Math.floor(this.limits.maxWeightChunkBytes / (stride * elemBytes));
    if (bindingRows < 1)
      throw new OutOfMemoryError(
        `${label}: one row of ${cols} values exceeds a GPU storage binding`,
        stride * elemBytes,
        this.limits.maxWeightChunkBytes,
      );
    const chunks: WeightChunk[] = [];
    for (let row0 = 0; row0 < rows; row0 += bindingRows) {
      const n = Math.min(bindingRows, rows - row0);
      const size = n * stride * elemBytes;
      const buffer = this.createBuffer(size, STORAGE_USAGE, `${label}[${row0}..]`);
      let src = data.subarray(row0 * cols, (row0 + n) * cols);
      if (stride !== cols) {
        const padded = dtype === 'f32' ? new Float32Array(n * stride) : new Uint16Array(n * stride);
        for (let r = 0; r < n; r++) padded.set((src as Float32Array).subarray(r * cols, (r + 1) * cols), r * stride);
        src = padded;
      }
      queue.writeBuffer(buffer, 0, src.buffer, src.byteOffset, src.byteLength);
      chunks.push({ buffer, offset: 0, size, row0, rows: n });
    }
    return { dtype, rows, cols, stride, label, chunks };
  }

  /** NF4 blocks split by rows: each chunk starts on a block, so its kernels index it from 0. */
  private nf4Weight(queue: GPUQueue, data: Uint32Array, rows: number, cols: number, label: string): GpuWeight {
    const step = nf4RowStep(cols);
    const bindingRows = Math.floor(this.limits.maxWeightChunkBytes / nf4Bytes(step * cols)) * step;
    if (bindingRows < 1)
      throw new OutOfMemoryError(
        `${label}: ${step} rows of ${cols} NF4 values exceed a GPU storage binding`,
        nf4Bytes(step * cols),
        this.limits.maxWeightChunkBytes,
      );
    const chunks: WeightChunk[] = [];
    for (let row0 = 0; row0 < rows; row0 += bindingRows) {
      const n = Math.min(bindingRows, rows - row0) * cols;
      const w0 = ((row0 * cols) / NF4_BLOCK) * NF4_BLOCK_WORDS;
      const src = data.subarray(w0, w0 + (n / NF4_BLOCK) * NF4_BLOCK_WORDS);
      // whole vec4s: the kernels bind array<vec4<u32>>, whose length rounds the binding down
      const size = alignUp(src.byteLength, 16);
      const buffer = this.createBuffer(size, STORAGE_USAGE, `${label}[${row0}..]`);
      queue.writeBuffer(buffer, 0, src.buffer, src.byteOffset, src.byteLength);
      chunks.push({ buffer, offset: 0, size, row0, rows: n / cols });
    }
    return { dtype: 'nf4', rows, cols, stride: cols, label, chunks };
  }
}
