// safetensors: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
// Files are read tensor by tensor from a Blob (File) or an ArrayBuffer, so a 1 GB model is
// never held twice: a Blob slice is read only when its tensor is asked for.

import { SafetensorsError } from './errors.ts';
import { DTYPE_BYTES, type DType } from './dtype.ts';

export type TensorArray = Float32Array | Uint16Array | Int32Array | BigInt64Array;

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte range in the file. */
  start: number;
  end: number;
  file: string;
}

/** What one tensor source (single file or shards) offers. */
export interface TensorSource {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  /** F32 -> Float32Array, F16/BF16 -> Uint16Array (raw bits), I32 -> Int32Array, I64 -> BigInt64Array. */
  read(name: string): Promise<TensorArray>;
  /** The tensor's raw bytes into dst (exactly its size), a slice at a time: no copy of the whole tensor is made. */
  readInto?(name: string, dst: Uint8Array): Promise<void>;
}

const MAX_HEADER = 100 * 1024 * 1024;

type Bytes = Blob | ArrayBuffer | Uint8Array;

/** Bytes read from a Blob per step: a tensor read holds the tensor plus at most this much more. */
export const READ_CHUNK = 16 << 20;

async function slice(src: Bytes, start: number, end: number): Promise<Uint8Array> {
  if (src instanceof Blob) {
    if (end - start <= READ_CHUNK) return new Uint8Array(await src.slice(start, end).arrayBuffer());
    // Blob.arrayBuffer() of a large range can hold its bytes twice while it assembles them
    // (Node's file Blobs do); filling one buffer a chunk at a time keeps the peak near one tensor.
    const out = new Uint8Array(end - start);
    for (let o = start; o < end; o += READ_CHUNK)
      out.set(new Uint8Array(await src.slice(o, Math.min(end, o + READ_CHUNK)).arrayBuffer()), o - start);
    return out;
  }
  const u8 = src instanceof Uint8Array ? src : new Uint8Array(src);
  return u8.subarray(start, end);
}

function sizeOf(src: Bytes): number {
  return src instanceof Blob ? src.size : src.byteLength;
}

export class SafetensorsFile implements TensorSource {
  private constructor(
    readonly file: string,
    private readonly src: Bytes,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(src: Bytes, file = src instanceof File ? src.name : 'model.safetensors'): Promise<SafetensorsFile> {
    const size = sizeOf(src);
    if (size < 8) throw new SafetensorsError(file, `file is ${size} bytes, too short for a header length (truncated?)`);
    const lenBytes = await slice(src, 0, 8);
    const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER)) throw new SafetensorsError(file, `header length ${n} exceeds the 100 MB limit`);
    const headerLen = Number(n);
    if (8 + headerLen > size)
      throw new SafetensorsError(
        file,
        `header of ${headerLen} bytes runs past the end of the ${size}-byte file (truncated?)`,
      );
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await slice(src, 8, 8 + headerLen)));
    } catch (e) {
      throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      throw new SafetensorsError(file, 'header is not a JSON object');
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = parseMetadata(file, raw);
        continue;
      }
      tensors.set(name, parseEntry(file, name, raw, dataStart, size));
    }
    const sorted = [...tensors.values()].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].start < sorted[i - 1].end)
        throw new SafetensorsError(file, `data overlaps tensor "${sorted[i - 1].name}"`, sorted[i].name);
    }
    return new SafetensorsFile(file, src, tensors, metadata);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.file, 'no such tensor', name);
    return t;
  }

  async readBytes(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    return slice(this.src, t.start, t.end);
  }

  async read(name: string): Promise<TensorArray> {
    const t = this.info(name);
    return toTyped(t.dtype, await this.readBytes(name));
  }

  async readInto(name: string, dst: Uint8Array): Promise<void> {
    const t = this.info(name);
    if (dst.byteLength !== t.end - t.start)
      throw new SafetensorsError(this.file, `${t.end - t.start} bytes do not go into ${dst.byteLength}`, name);
    for (let at = t.start; at < t.end; at += READ_SLICE) {
      const end = Math.min(t.end, at + READ_SLICE);
      dst.set(await slice(this.src, at, end), at - t.start);
    }
  }
}

/** Bytes per read of a Blob slice in readInto: what is held besides the destination. */
const READ_SLICE = 16 << 20;

/** The format allows only string values; callers read fields like `format` as strings. */
function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new SafetensorsError(file, 'must be a JSON object of string values', '__metadata__');
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string')
      throw new SafetensorsError(file, `value of "${k}" must be a string, got ${JSON.stringify(v)}`, '__metadata__');
  }
  return raw as Record<string, string>;
}

function parseEntry(file: string, name: string, raw: unknown, dataStart: number, size: number): TensorInfo {
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e !== 'object' || e === null) throw new SafetensorsError(file, 'entry is not an object', name);
  if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES))
    throw new SafetensorsError(file, `unsupported dtype ${JSON.stringify(e.dtype)}`, name);
  const dtype = e.dtype as DType;
  if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new SafetensorsError(file, 'shape is not a list of non-negative integers', name);
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0])
    throw new SafetensorsError(file, 'data_offsets must be [begin, end] with begin <= end', name);
  const shape = e.shape as number[];
  const start = dataStart + off[0];
  const end = dataStart + off[1];
  if (end > size)
    throw new SafetensorsError(file, `data [${start}, ${end}) lies outside the ${size}-byte file (truncated?)`, name);
  const expect = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  if (end - start !== expect)
    throw new SafetensorsError(
      file,
      `shape [${shape}] of ${dtype} needs ${expect} bytes, data_offsets give ${end - start}`,
      name,
    );
  return { name, dtype, shape, start, end, file };
}

/** View the bytes as the dtype's array, copying only when the offset is misaligned. */
export function toTyped(dtype: DType, bytes: Uint8Array): TensorArray {
  const width = DTYPE_BYTES[dtype];
  const b = bytes.byteOffset % width === 0 ? bytes : bytes.slice();
  const n = b.byteLength / width;
  switch (dtype) {
    case 'F32':
      return new Float32Array(b.buffer, b.byteOffset, n);
    case 'F16':
    case 'BF16':
      return new Uint16Array(b.buffer, b.byteOffset, n);
    case 'I32':
      return new Int32Array(b.buffer, b.byteOffset, n);
    case 'I64':
      return new BigInt64Array(b.buffer, b.byteOffset, n);
  }
}

/** Shards listed by `model.safetensors.index.json`; `open` fetches a shard by its file name. */
export class ShardedSafetensors implements TensorSource {
  private constructor(
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
    private readonly byFile: Map<string, SafetensorsFile>,
    private readonly indexName: string,
  ) {}

  static async open(
    indexJson: string,
    openShard: (file: string) => Promise<Bytes>,
    indexName = 'model.safetensors.index.json',
  ): Promise<ShardedSafetensors> {
    let index: { weight_map?: Record<string, string>; metadata?: Record<string, string> };
    try {
      index = JSON.parse(indexJson);
    } catch (e) {
      throw new SafetensorsError(indexName, `not valid JSON (${(e as Error).message})`);
    }
    if (!index.weight_map || typeof index.weight_map !== 'object')
      throw new SafetensorsError(indexName, 'missing "weight_map"');
    const byFile = new Map<string, SafetensorsFile>();
    for (const f of new Set(Object.values(index.weight_map)))
      byFile.set(f, await SafetensorsFile.open(await openShard(f), f));
    const tensors = new Map<string, TensorInfo>();
    for (const [name, f] of Object.entries(index.weight_map)) {
      const t = byFile.get(f)!.tensors.get(name);
      if (!t) throw new SafetensorsError(f, `listed in ${indexName} but not in the shard`, name);
      tensors.set(name, t);
    }
    return new ShardedSafetensors(tensors, index.metadata ?? {}, byFile, indexName);
  }

  async read(name: string): Promise<TensorArray> {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.indexName, 'no such tensor', name);
    return this.byFile.get(t.file)!.read(name);
  }

  async readInto(name: string, dst: Uint8Array): Promise<void> {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.indexName, 'no such tensor', name);
    return this.byFile.get(t.file)!.readInto(name, dst);
  }
}

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16' | 'I32';
  shape: number[];
  /** Raw little-endian bytes of the tensor, or a typed array holding exactly them. */
  data: ArrayBufferView;
}

/** Header bytes for tensors written in the given order; data follows with no gaps. */
export function encodeHeader(entries: Omit<TensorToWrite, 'data'>[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  const out = new Uint8Array(8 + json.length + pad);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length + pad), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length);
  return out;
}

/** The whole file as parts (header, then each tensor's bytes): `new Blob(parts)` copies nothing twice. */
export function encodeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array[] {
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== n)
      throw new SafetensorsError(
        '(writing)',
        `shape [${t.shape}] of ${t.dtype} needs ${n} bytes, got ${t.data.byteLength}`,
        t.name,
      );
  }
  const parts = [encodeHeader(tensors, metadata)];
  for (const t of tensors) parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return parts;
}

export function concatParts(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
