// GGUF v3 files (llama.cpp): a header, typed key/value metadata, tensor descriptors, then
// tensor data, each tensor starting on a multiple of general.alignment. Dimensions are in ggml
// order (ne[0] = the contiguous one), the reverse of PyTorch's shape.

import { LORA_TARGETS, projShape, type LoraTarget, type Qwen2Config } from '../core/config.ts';
import { AdapterError } from '../core/errors.ts';
import { peftName, type LoraSettings } from '../engine/engine.ts';
import type { ByteSink } from './sink.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** The ggml tensor types written here (ggml.h's enum ggml_type). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  BF16 = 30,
}

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue =
  | { type: Exclude<GgufType, GgufType.ARRAY>; value: GgufScalar }
  | { type: GgufType.ARRAY; itemType: Exclude<GgufType, GgufType.ARRAY>; value: GgufScalar[] };

export interface GgufTensorToWrite {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  dims: number[];
  type: GgmlType.F32;
  data: Float32Array;
}

const SCALAR_BYTES: Partial<Record<GgufType, number>> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.BOOL]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

/** Growable little-endian byte writer for the header part (small: no tensor data goes here). */
class HeaderWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  u32(v: number) {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number | bigint) {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  scalar(type: GgufType, v: GgufScalar) {
    if (type === GgufType.STRING) return this.string(String(v));
    const n = SCALAR_BYTES[type];
    if (!n) throw new AdapterError(`GGUF: cannot write a scalar of type ${GgufType[type]}`);
    this.reserve(n);
    const d = this.view,
      o = this.length;
    switch (type) {
      case GgufType.UINT8:
        d.setUint8(o, Number(v));
        break;
      case GgufType.INT8:
        d.setInt8(o, Number(v));
        break;
      case GgufType.BOOL:
        d.setUint8(o, v ? 1 : 0);
        break;
      case GgufType.UINT16:
        d.setUint16(o, Number(v), true);
        break;
      case GgufType.INT16:
        d.setInt16(o, Number(v), true);
        break;
      case GgufType.UINT32:
        d.setUint32(o, Number(v), true);
        break;
      case GgufType.INT32:
        d.setInt32(o, Number(v), true);
        break;
      case GgufType.FLOAT32:
        d.setFloat32(o, Number(v), true);
        break;
      case GgufType.UINT64:
        d.setBigUint64(o, BigInt(v), true);
        break;
      case GgufType.INT64:
        d.setBigInt64(o, BigInt(v), true);
        break;
      case GgufType.FLOAT64:
        d.setFloat64(o, Number(v), true);
        break;
    }
    this.length += n;
  }
  padTo(alignment: number) {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** Writes header and descriptors, then each tensor's bytes, straight into the sink. */
export async function writeGguf(
  sink: ByteSink,
  metadata: [string, GgufValue][],
  tensors: GgufTensorToWrite[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): Promise<void> {
  const h = new HeaderWriter();
  h.u32(GGUF_MAGIC);
  h.u32(GGUF_VERSION);
  h.u64(tensors.length);
  h.u64(metadata.length);
  for (const [key, v] of metadata) {
    h.string(key);
    h.u32(v.type);
    if (v.type === GgufType.ARRAY) {
      h.u32(v.itemType);
      h.u64(v.value.length);
      for (const item of v.value) h.scalar(v.itemType, item);
    } else h.scalar(v.type, v.value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new AdapterError(`GGUF: tensor ${t.name} has ${t.data.length} values, dims [${t.dims}] need ${n}`);
    h.string(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(t.type);
    h.u64(offset);
    offsets.push(offset);
    offset = alignUp(offset + t.data.byteLength, alignment);
  }
  h.padTo(alignment);
  await sink.write(h.bytes());
  let written = 0;
  for (let i = 0; i < tensors.length; i++) {
    if (offsets[i] > written) await sink.write(new Uint8Array(offsets[i] - written));
    const d = tensors[i].data;
    await sink.write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    written = offsets[i] + d.byteLength;
  }
  if (offset > written) await sink.write(new Uint8Array(offset - written));
  await sink.close();
}

/** llama.cpp's tensor names for the projections, the same for qwen2 and qwen3 (gguf-py's tensor map). */
export const GGUF_PROJ: Record<LoraTarget, string> = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};

/**
 * PEFT A (r, in) and B (out, r) as convert_lora_to_gguf.py writes them: same bytes, ggml dims
 * [in, r] and [r, out], named blk.N.<proj>.weight.lora_a / .lora_b.
 */
export function loraGgufTensors(
  cfg: Qwen2Config,
  settings: LoraSettings,
  tensors: Record<string, Float32Array>,
): GgufTensorToWrite[] {
  const out: GgufTensorToWrite[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const t of LORA_TARGETS) {
      if (!settings.targets.includes(t)) continue;
      const [o, i] = projShape(cfg, t);
      const a = tensors[peftName(l, t, 'A')];
      const b = tensors[peftName(l, t, 'B')];
      if (!a || !b) throw new AdapterError(`${peftName(l, t, a ? 'B' : 'A')}: missing from the adapter being exported`);
      const base = `blk.${l}.${GGUF_PROJ[t]}.weight`;
      out.push({ name: `${base}.lora_a`, dims: [i, settings.r], type: GgmlType.F32, data: a });
      out.push({ name: `${base}.lora_b`, dims: [settings.r, o], type: GgmlType.F32, data: b });
    }
  }
  return out;
}

/**
 * llama.cpp scales by alpha / rank; for rsLoRA (alpha / sqrt(rank)) the stored alpha is
 * alpha * sqrt(rank) so the applied scale stays the one that was trained.
 */
export function ggufLoraAlpha(settings: LoraSettings): number {
  return settings.rslora ? settings.alpha * Math.sqrt(settings.r) : settings.alpha;
}

export async function writeLoraGguf(
  sink: ByteSink,
  cfg: Qwen2Config,
  settings: LoraSettings,
  tensors: Record<string, Float32Array>,
  name = 'Webtune LoRA adapter',
): Promise<void> {
  const s = (value: string): GgufValue => ({ type: GgufType.STRING, value });
  const u32 = (value: number): GgufValue => ({ type: GgufType.UINT32, value });
  const metadata: [string, GgufValue][] = [
    // llama.cpp's architecture names are the config's model_type: "qwen2" or "qwen3"
    ['general.architecture', s(cfg.architecture)],
    ['general.type', s('adapter')],
    ['general.name', s(name)],
    ['general.file_type', u32(0)], // LLAMA_FTYPE_ALL_F32
    ['general.quantization_version', u32(2)],
    ['general.alignment', u32(GGUF_DEFAULT_ALIGNMENT)],
    ['adapter.type', s('lora')],
    ['adapter.lora.alpha', { type: GgufType.FLOAT32, value: ggufLoraAlpha(settings) }],
  ];
  await writeGguf(sink, metadata, loraGgufTensors(cfg, settings, tensors));
}
