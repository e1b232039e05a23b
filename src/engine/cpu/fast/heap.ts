// Bump allocator over the kernels' linear memory. Tensors are typed-array views into it, so
// kernels read them in place. A shared memory's old buffers stay valid when it grows; a
// private one detaches them, so with a private memory only per-call staging lives here.

import { OutOfMemoryError } from '../../../core/errors.ts';
import { PAGE } from './wasm.ts';

export class WasmHeap {
  private top: number;
  /** Every buffer object the memory has exposed: views on any of them are "in" the heap. */
  private readonly buffers = new Set<ArrayBufferLike>();

  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
    private readonly maxPages: number,
  ) {
    this.top = base;
    this.buffers.add(memory.buffer);
  }

  get bytesInUse(): number {
    return this.top;
  }

  /** Byte address of a 64-byte aligned block (cache-line aligned for the SIMD loads). */
  allocBytes(bytes: number, label: string): number {
    const ptr = Math.ceil(this.top / 64) * 64;
    const end = ptr + bytes;
    if (end > this.maxPages * PAGE) {
      throw new OutOfMemoryError(
        `${label}: the fast CPU engine's ${this.maxPages / 16} MiB WebAssembly memory is full`,
        end,
        this.maxPages * PAGE,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // grow by at least 1/8 so a model's many allocations do not grow page by page
      const need = Math.ceil((end - have) / PAGE);
      const pages = Math.min(this.maxPages - have / PAGE, Math.max(need, Math.ceil(have / PAGE / 8)));
      try {
        this.memory.grow(pages);
      } catch {
        throw new OutOfMemoryError(`${label}: could not grow the fast CPU engine's memory to ${end} bytes`, end, have);
      }
      this.buffers.add(this.memory.buffer);
    }
    this.top = end;
    return ptr;
  }

  /** Marks the top so staging allocations can be released by reset(). */
  mark(): number {
    return this.top;
  }

  reset(mark: number): void {
    this.top = mark;
  }

  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  u32(ptr: number, n: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, n);
  }

  u16(ptr: number, n: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, ptr, n);
  }

  /** Address of a view's first element, or -1 when the view lives elsewhere. */
  addressOf(t: ArrayBufferView): number {
    return this.buffers.has(t.buffer) ? t.byteOffset : -1;
  }
}
