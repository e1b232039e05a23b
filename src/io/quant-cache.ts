// Quantized weights in the model cache. The first QLoRA load of a cached model quantizes its
// seven projections (one tensor at a time, as the engine asks for them) and stores the NF4
// blocks next to the downloaded files; the next NF4 load reads those, 4.5 bits a value, instead
// of the 16-bit tensors. One record per model and quantization says what the entries hold: the
// quantization, the packed layout (src/core/nf4.ts) and the weight files they were made from, so
// entries of another download or another layout are never read.

import type { WeightDType } from '../core/dtype.ts';
import { NF4_BLOCK, NF4_LAYOUT, nf4Words, quantizeNf4 } from '../core/nf4.ts';
import type { TensorSource } from '../core/safetensors.ts';
import type { Key, KeyValueStore } from './store.ts';

export const quantRecordKey = (source: string, quant: 'nf4'): Key => ['quant', source, quant];
export const quantTensorKey = (source: string, quant: 'nf4', tensor: string): Key => ['quant', source, quant, tensor];

export interface QuantRecord {
  quant: 'nf4';
  /** The packed layout the entries use (NF4_LAYOUT); another layout is discarded, not read. */
  layout: string;
  block: number;
  /** Identity of the weight files the entries were quantized from (names, sizes, hashes). */
  weights: string;
  /** Tensors stored so far, and their bytes. */
  tensors: string[];
  bytes: number;
  updatedAt: number;
}

/** What a load reads to use the cache: NF4 blocks of a projection, from the cache or made and stored now. */
export interface Nf4Source {
  readNf4(name: string): Promise<Uint32Array>;
  /** Tensors read from the cache and quantized now, by this reader so far. */
  readonly stats: { cached: number; quantized: number };
}

/**
 * NF4 blocks for the projections of a cached model. `weightsId` names the weight files (see
 * weightsIdentity); a record made from other files is dropped with its entries first.
 */
export async function nf4Cache(
  store: KeyValueStore,
  source: string,
  weightsId: string,
  weights: TensorSource,
  dtype: WeightDType,
): Promise<Nf4Source> {
  const recKey = quantRecordKey(source, 'nf4');
  let rec = await store.get<QuantRecord>(recKey);
  if (rec && (rec.layout !== NF4_LAYOUT || rec.block !== NF4_BLOCK || rec.weights !== weightsId)) {
    await deleteQuantized(store, source);
    rec = undefined;
  }
  let record: QuantRecord = rec ?? {
    quant: 'nf4',
    layout: NF4_LAYOUT,
    block: NF4_BLOCK,
    weights: weightsId,
    tensors: [],
    bytes: 0,
    updatedAt: Date.now(),
  };
  const stats = { cached: 0, quantized: 0 };
  return {
    stats,
    async readNf4(name: string): Promise<Uint32Array> {
      const t = weights.tensors.get(name);
      const n = t ? t.shape.reduce((a, b) => a * b, 1) : -1;
      if (record.tensors.includes(name)) {
        const hit = await store.get<Uint32Array>(quantTensorKey(source, 'nf4', name));
        if (hit instanceof Uint32Array && hit.length === nf4Words(n)) {
          stats.cached++;
          return hit;
        }
      }
      const words = quantizeNf4((await weights.read(name)) as Float32Array | Uint16Array, dtype, name);
      stats.quantized++;
      record = {
        ...record,
        tensors: [...record.tensors.filter((x) => x !== name), name],
        bytes: record.bytes + words.byteLength,
        updatedAt: Date.now(),
      };
      // entry and record in one transaction: a crash leaves either both or neither
      await store.setMany([
        [quantTensorKey(source, 'nf4', name), words],
        [recKey, record],
      ]);
      return words;
    },
  };
}

/** The weight files of a model as one string: a re-download with other content gets another identity. */
export function weightsIdentity(files: { name: string; size: number; sha256?: string }[]): string {
  return files
    .filter((f) => f.name.endsWith('.safetensors'))
    .map((f) => `${f.name}:${f.size}:${f.sha256 ?? ''}`)
    .sort()
    .join('|');
}

/** What quantizations a cached model holds, with their bytes (for the cache list). */
export async function quantizedOf(
  store: KeyValueStore,
  source: string,
): Promise<{ quant: 'nf4'; tensors: number; bytes: number } | undefined> {
  const rec = await store.get<QuantRecord>(quantRecordKey(source, 'nf4'));
  return rec ? { quant: rec.quant, tensors: rec.tensors.length, bytes: rec.bytes } : undefined;
}

export async function deleteQuantized(store: KeyValueStore, source: string): Promise<void> {
  const keys = await store.keys();
  await store.delMany(keys.filter((k) => k[0] === 'quant' && k[1] === source));
}
