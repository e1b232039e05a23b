// Imported rows kept compact: each row as its JSON bytes in ~1 MiB chunks with an end offset per
// row, decoded only when a screen asks for it (by index). A million rows are then ~100 MB of
// ArrayBuffers the garbage collector never walks, instead of a million small objects on the page's
// heap whose mark-compact pauses were 200-600 ms tasks (issue 23). The chunks are written where the
// file is parsed (the import worker) and handed over as transferable buffers.

import type { DatasetRow } from './dataset.ts';

/** One packed piece of rows: their JSON bytes back to back, and where each row ends. */
export interface RowChunk {
  bytes: Uint8Array;
  ends: Uint32Array;
}

/** Bytes a chunk is closed at (a longer row gets a chunk of its own size). */
const CHUNK_BYTES = 1 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Packs rows into chunks; `emit` gets each full one (and the last on flush). */
export class RowPacker {
  private buf = new Uint8Array(CHUNK_BYTES);
  private used = 0;
  private ends: number[] = [];
  /** The tools the rows' answers call (expected.tool_name), for the eval-file checks. */
  readonly tools = new Set<string>();
  count = 0;

  constructor(private readonly emit: (c: RowChunk) => void) {}

  add(row: DatasetRow): void {
    const bytes = encoder.encode(JSON.stringify(row));
    if (this.used + bytes.length > this.buf.length) {
      this.flush();
      if (bytes.length > this.buf.length) this.buf = new Uint8Array(bytes.length);
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
    this.ends.push(this.used);
    this.count++;
    if (row.expected) this.tools.add(row.expected.tool_name);
  }

  flush(): void {
    if (!this.ends.length) return;
    // A copy of the used part: the chunk is transferred (detached) or kept, the buffer reused.
    this.emit({ bytes: this.buf.slice(0, this.used), ends: Uint32Array.from(this.ends) });
    if (this.buf.length > CHUNK_BYTES) this.buf = new Uint8Array(CHUNK_BYTES);
    this.used = 0;
    this.ends = [];
  }

  /** The file is read again from the start (another encoding): what was packed is dropped. */
  reset(): void {
    this.used = 0;
    this.ends = [];
    this.count = 0;
    this.tools.clear();
  }
}

/** Rows by index over packed chunks. `length`, `slice` and `get` read like an array's. */
export class RowStore {
  private readonly chunks: RowChunk[] = [];
  /** Index of each chunk's first row. */
  private readonly firsts: number[] = [];
  length = 0;
  readonly tools: Set<string>;

  constructor(tools: Iterable<string> = []) {
    this.tools = new Set(tools);
  }

  static of(rows: readonly DatasetRow[]): RowStore {
    const store = new RowStore();
    const packer = new RowPacker((c) => store.append(c));
    for (const r of rows) packer.add(r);
    packer.flush();
    for (const t of packer.tools) store.tools.add(t);
    return store;
  }

  append(c: RowChunk): void {
    this.chunks.push(c);
    this.firsts.push(this.length);
    this.length += c.ends.length;
  }

  clear(): void {
    this.chunks.length = 0;
    this.firsts.length = 0;
    this.length = 0;
  }

  /** Bytes held (the rows' JSON). */
  get bytes(): number {
    return this.chunks.reduce((n, c) => n + c.bytes.length, 0);
  }

  get(i: number): DatasetRow {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`row ${i} of ${this.length}`);
    let lo = 0,
      hi = this.firsts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.firsts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    const c = this.chunks[lo],
      k = i - this.firsts[lo];
    return JSON.parse(decoder.decode(c.bytes.subarray(k ? c.ends[k - 1] : 0, c.ends[k]))) as DatasetRow;
  }

  slice(start = 0, end = this.length): DatasetRow[] {
    const out: DatasetRow[] = [];
    for (let i = Math.max(0, start); i < Math.min(end, this.length); i++) out.push(this.get(i));
    return out;
  }

  /** Every row as objects: for work that needs them all at once (training), never for a screen. */
  all(): DatasetRow[] {
    return this.slice();
  }

  /** Visits every row in slices, giving the event loop a turn between them (no long task). */
  async forEach(fn: (r: DatasetRow, i: number) => void, slice = 5000): Promise<void> {
    for (let at = 0; at < this.length; at += slice) {
      if (at > 0) await new Promise((resolve) => setTimeout(resolve, 0));
      const end = Math.min(this.length, at + slice);
      for (let i = at; i < end; i++) fn(this.get(i), i);
    }
  }
}
