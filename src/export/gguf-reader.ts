// Reads a GGUF file back: metadata, tensor descriptors and F32 tensor data. Used to check what
// the writer produced, and to tell a user what is inside a GGUF adapter.

import { AdapterError } from '../core/errors.ts';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufType, type GgufScalar } from './gguf.ts';

export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  /** Absolute byte offset in the file. */
  start: number;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufScalar | GgufScalar[]>;
  /** The declared type of each metadata value (for arrays: the item type is in arrayTypes). */
  types: Map<string, GgufType>;
  arrayTypes: Map<string, GgufType>;
  tensors: Map<string, GgufTensorInfo>;
  alignment: number;
  dataStart: number;
  read(name: string): Float32Array;
}

class Reader {
  private view: DataView;
  pos = 0;
  constructor(private readonly bytes: Uint8Array, private readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, what: string) {
    if (this.pos + n > this.bytes.length) throw new AdapterError(`${this.file}: truncated while reading ${what} at byte ${this.pos}`);
  }
  u8(what = 'u8') { this.need(1, what); return this.view.getUint8(this.pos++); }
  u32(what = 'u32') { this.need(4, what); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  u64(what = 'u64') { this.need(8, what); const v = this.view.getBigUint64(this.pos, true); this.pos += 8; return v; }
  count(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new AdapterError(`${this.file}: ${what} ${v} is too large`);
    return Number(v);
  }
  string(what = 'string'): string {
    const n = this.count(`${what} length`);
    this.need(n, what);
    const s = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  scalar(type: GgufType, what: string): GgufScalar {
    const d = this.view;
    const take = (n: number) => { this.need(n, what); const o = this.pos; this.pos += n; return o; };
    switch (type) {
      case GgufType.UINT8: return d.getUint8(take(1));
      case GgufType.INT8: return d.getInt8(take(1));
      case GgufType.BOOL: return d.getUint8(take(1)) !== 0;
      case GgufType.UINT16: return d.getUint16(take(2), true);
      case GgufType.INT16: return d.getInt16(take(2), true);
      case GgufType.UINT32: return d.getUint32(take(4), true);
      case GgufType.INT32: return d.getInt32(take(4), true);
      case GgufType.FLOAT32: return d.getFloat32(take(4), true);
      case GgufType.UINT64: return d.getBigUint64(take(8), true);
      case GgufType.INT64: return d.getBigInt64(take(8), true);
      case GgufType.FLOAT64: return d.getFloat64(take(8), true);
      case GgufType.STRING: return this.string(what);
      default: throw new AdapterError(`${this.file}: ${what} has unknown value type ${type}`);
    }
  }
}

const ELEMENT_BYTES: Partial<Record<number, number>> = { [GgmlType.F32]: 4, [GgmlType.F16]: 2, [GgmlType.BF16]: 2 };

export function readGguf(bytes: Uint8Array, file = 'adapter.gguf'): GgufFile {
  const r = new Reader(bytes, file);
  const magic = r.u32('magic');
  if (magic !== GGUF_MAGIC) throw new AdapterError(`${file}: not a GGUF file (magic 0x${magic.toString(16)})`);
  const version = r.u32('version');
  if (version < 2 || version > 3) throw new AdapterError(`${file}: GGUF version ${version} is not supported`);
  const nTensors = r.count('tensor count');
  const nKv = r.count('metadata count');
  const metadata = new Map<string, GgufScalar | GgufScalar[]>();
  const types = new Map<string, GgufType>();
  const arrayTypes = new Map<string, GgufType>();
  for (let i = 0; i < nKv; i++) {
    const key = r.string('metadata key');
    const type = r.u32(`type of ${key}`) as GgufType;
    types.set(key, type);
    if (type === GgufType.ARRAY) {
      const itemType = r.u32(`item type of ${key}`) as GgufType;
      const n = r.count(`length of ${key}`);
      const items: GgufScalar[] = [];
      for (let j = 0; j < n; j++) items.push(r.scalar(itemType, key));
      arrayTypes.set(key, itemType);
      metadata.set(key, items);
    } else metadata.set(key, r.scalar(type, key));
  }
  const alignment = Number(metadata.get('general.alignment') ?? GGUF_DEFAULT_ALIGNMENT);
  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = r.string('tensor name');
    const nd = r.u32(`dims of ${name}`);
    const dims: number[] = [];
    for (let j = 0; j < nd; j++) dims.push(r.count(`dim of ${name}`));
    const type = r.u32(`type of ${name}`);
    const offset = r.count(`offset of ${name}`);
    if (offset % alignment) throw new AdapterError(`${file}: tensor ${name} offset ${offset} is not a multiple of the alignment ${alignment}`);
    infos.push({ name, dims, type, offset });
  }
  const dataStart = Math.ceil(r.pos / alignment) * alignment;
  const tensors = new Map<string, GgufTensorInfo>();
  for (const t of infos) {
    const width = ELEMENT_BYTES[t.type];
    const start = dataStart + t.offset;
    if (width !== undefined && start + width * t.dims.reduce((a, b) => a * b, 1) > bytes.length)
      throw new AdapterError(`${file}: tensor ${t.name} runs past the end of the file (truncated?)`);
    tensors.set(t.name, { name: t.name, dims: t.dims, type: t.type, start });
  }
  return {
    version, metadata, types, arrayTypes, tensors, alignment, dataStart,
    read(name: string): Float32Array {
      const t = tensors.get(name);
      if (!t) throw new AdapterError(`${file}: no tensor ${name}`);
      if (t.type !== GgmlType.F32) throw new AdapterError(`${file}: tensor ${name} has ggml type ${t.type}; only F32 is read here`);
      const n = t.dims.reduce((a, b) => a * b, 1);
      return new Float32Array(bytes.slice(t.start, t.start + 4 * n).buffer);
    },
  };
}
