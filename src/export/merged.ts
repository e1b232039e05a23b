// A merged Hugging Face model folder: every adapted projection becomes W + s·B·A, everything
// else is copied as stored when it already has the output dtype (converted otherwise, since
// loaders want one dtype for all weights). model.safetensors is written as a stream — the header first (all
// shapes are known up front), then one tensor at a time — so at most one tensor is held beyond
// what the source already keeps. After a QLoRA run (quant 'nf4') the seven projections are the
// NF4-dequantized weights the run trained and evaluated against, merged or not.

import { LORA_TARGETS, moduleOf, projShape, type LoraTarget, type Qwen2Config } from '../core/config.ts';
import { DTYPE_BYTES, narrow, widen } from '../core/dtype.ts';
import { AdapterError, ModelConfigError } from '../core/errors.ts';
import { assertFinite, checkedRead } from '../core/finite.ts';
import { dequantizeNf4, isQuantizedTensor, quantizeNf4, type Quantization } from '../core/nf4.ts';
import { encodeHeader, type TensorInfo, type TensorSource } from '../core/safetensors.ts';
import { loraScale, peftName, type LoraSettings } from '../engine/engine.ts';
import { CountingSink, writeFile, type FolderSink } from './sink.ts';

/** Files a model folder may carry that the merged folder keeps unchanged (config.json is rewritten). */
export const PASSTHROUGH_FILES = [
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
  'added_tokens.json',
  'LICENSE',
] as const;

export interface MergeSource {
  /** config.json as found, so fields Webtune does not parse survive. */
  rawConfig: Record<string, unknown>;
  config: Qwen2Config;
  weights: TensorSource;
  /** Contents of the PASSTHROUGH_FILES the source has; absent ones are skipped. */
  extraFiles?: Record<string, string | Uint8Array>;
}

export interface MergeAdapter {
  settings: LoraSettings;
  tensors: Record<string, Float32Array>;
}

export interface MergeOptions {
  /** Dtype of every float tensor written; those already in it are copied byte for byte. */
  dtype?: 'BF16' | 'F32';
  /** The base the adapter was trained on: 'nf4' writes the projections dequantized (code * absmax). */
  quant?: Quantization;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** W (O, In) + scale · B (O, R) @ A (R, In), accumulated in f32. */
export function mergeProjection(
  w: Float32Array,
  a: Float32Array,
  b: Float32Array,
  O: number,
  In: number,
  R: number,
  scale: number,
): Float32Array {
  const out = new Float32Array(w);
  for (let o = 0; o < O; o++) {
    const row = o * In;
    for (let r = 0; r < R; r++) {
      const coef = scale * b[o * R + r];
      if (coef === 0) continue;
      const ar = r * In;
      for (let i = 0; i < In; i++) out[row + i] += coef * a[ar + i];
    }
  }
  return out;
}

const PROJ_NAME = /^model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.weight$/;

function adaptedTarget(name: string, settings: LoraSettings): { layer: number; target: LoraTarget } | null {
  const m = PROJ_NAME.exec(name);
  if (!m || !(LORA_TARGETS as readonly string[]).includes(m[3])) return null;
  const target = m[3] as LoraTarget;
  if (moduleOf(target) !== m[2] || !settings.targets.includes(target)) return null;
  return { layer: Number(m[1]), target };
}

function asF32(data: ArrayBufferView, dtype: string, name: string): Float32Array {
  if (dtype === 'F32') return data as Float32Array;
  if (dtype === 'BF16' || dtype === 'F16') return widen(data as Uint16Array, dtype === 'BF16' ? 'bf16' : 'f16');
  throw new ModelConfigError(name, `dtype ${dtype} cannot be merged (expected F32, F16 or BF16)`);
}

/** A projection as the engine saw it when loaded with quant 'nf4': quantized, then dequantized. */
function nf4RoundTrip(data: ArrayBufferView, dtype: string, name: string): Float32Array {
  const d = dtype === 'F32' ? 'f32' : dtype === 'BF16' ? 'bf16' : dtype === 'F16' ? 'f16' : null;
  if (!d) throw new ModelConfigError(name, `dtype ${dtype} cannot be quantized to NF4 (expected F32, F16 or BF16)`);
  const src = data as Float32Array | Uint16Array;
  return dequantizeNf4(quantizeNf4(src, d, name), 0, src.length, new Float32Array(src.length));
}

const bytesOf = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

export async function writeMergedModel(
  folder: FolderSink,
  src: MergeSource,
  adapter: MergeAdapter,
  opts: MergeOptions = {},
): Promise<void> {
  const outDtype = opts.dtype ?? 'BF16';
  const { settings, tensors } = adapter;
  const scale = loraScale(settings);
  // Check the whole adapter before writing a byte, so a bad one leaves no half-written folder.
  for (let l = 0; l < src.config.numLayers; l++)
    for (const t of settings.targets)
      for (const ab of ['A', 'B'] as const) {
        const [o, i] = projShape(src.config, t);
        const want = ab === 'A' ? settings.r * i : o * settings.r;
        const got = tensors[peftName(l, t, ab)];
        if (!got) throw new AdapterError(`${peftName(l, t, ab)}: missing from the adapter being merged`);
        if (got.length !== want)
          throw new AdapterError(`${peftName(l, t, ab)}: has ${got.length} values, the base model needs ${want}`);
        assertFinite(
          'adapter',
          peftName(l, t, ab),
          got,
          'f32',
          ab === 'A' ? [settings.r, want / settings.r] : [want / settings.r, settings.r],
        );
      }

  const order: TensorInfo[] = [...src.weights.tensors.values()].sort((x, y) =>
    x.file === y.file ? x.start - y.start : x.file < y.file ? -1 : 1,
  );
  const isFloat = (d: string) => d === 'F32' || d === 'F16' || d === 'BF16';
  const entries = order.map((t) => ({
    name: t.name,
    dtype: (isFloat(t.dtype) ? outDtype : t.dtype) as 'F32' | 'F16' | 'BF16' | 'I32',
    shape: t.shape,
  }));
  const header = encodeHeader(entries, { format: 'pt' });
  const total =
    header.length + entries.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype], 0);

  // A NaN in the base would be copied into every merged tensor: refuse it, naming the element.
  const readChecked = checkedRead(src.weights);
  const sink = new CountingSink(await folder.create('model.safetensors'));
  await sink.write(header);
  opts.onProgress?.(sink.bytes, total);
  for (const t of order) {
    const raw = await readChecked(t.name);
    const hit = adaptedTarget(t.name, settings);
    const dequantized = opts.quant === 'nf4' && isQuantizedTensor(t.name) ? nf4RoundTrip(raw, t.dtype, t.name) : null;
    if (!hit && dequantized) {
      await sink.write(bytesOf(outDtype === 'BF16' ? narrow(dequantized, 'bf16') : dequantized));
    } else if (!hit) {
      if (!isFloat(t.dtype) || t.dtype === outDtype) await sink.write(bytesOf(raw));
      else {
        const f = asF32(raw, t.dtype, t.name);
        await sink.write(bytesOf(outDtype === 'BF16' ? narrow(f, 'bf16') : f));
      }
    } else {
      const [O, In] = projShape(src.config, hit.target);
      const w = dequantized ?? asF32(raw, t.dtype, t.name);
      const merged = mergeProjection(
        w,
        tensors[peftName(hit.layer, hit.target, 'A')],
        tensors[peftName(hit.layer, hit.target, 'B')],
        O,
        In,
        settings.r,
        scale,
      );
      await sink.write(bytesOf(outDtype === 'BF16' ? narrow(merged, 'bf16') : merged));
    }
    opts.onProgress?.(sink.bytes, total);
  }
  await sink.close();
  if (sink.bytes !== total)
    throw new AdapterError(`model.safetensors: wrote ${sink.bytes} bytes, the header promised ${total}`);
  for (const name of PASSTHROUGH_FILES) {
    const content = src.extraFiles?.[name];
    if (content !== undefined) await writeFile(folder, name, content);
  }
  // config.json last: a folder cut short has none, so no loader takes old or partial weights for a model.
  const config = { ...src.rawConfig, torch_dtype: outDtype === 'BF16' ? 'bfloat16' : 'float32' };
  await writeFile(folder, 'config.json', JSON.stringify(config, null, 2) + '\n');
}
