// QLoRA loads through the worker session and the model cache: the first NF4 load of a cached
// model quantizes each projection once and stores it, with a record that says which
// quantization and layout the entries hold; the next NF4 load reads those instead of the
// 16-bit tensors and computes the same losses. Oracle: a load of the same files with the cache
// off (the engine quantizes every tensor itself).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { NF4_LAYOUT, isQuantizedTensor, nf4Words } from '../src/core/nf4.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { createEngine } from '../src/engine/create.ts';
import { deleteCachedModel, listCachedModels } from '../src/io/cache.ts';
import { quantRecordKey, type QuantRecord } from '../src/io/quant-cache.ts';
import { memoryStore, type KeyValueStore } from '../src/io/store.ts';
import { TrainingSession } from '../src/worker/session.ts';
import type { LoadSettings } from '../src/worker/api.ts';

let dir: string;
const BASE = 'http://models.test/tiny';
const NAMES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors'];
let served: Record<string, Uint8Array>;
/** Tensors read from model.safetensors since the last reset. */
let reads: string[];

beforeAll(async () => {
  // every tensor read out of a safetensors file, cached or not
  const read = SafetensorsFile.prototype.read;
  vi.spyOn(SafetensorsFile.prototype, 'read').mockImplementation(function (this: SafetensorsFile, name: string) {
    reads?.push(name);
    return read.call(this, name);
  });
  dir = await mkdtemp(join(tmpdir(), 'quant-cache-'));
  await makeTinyModel({ preset: 'tiny', out: dir, seed: 7 });
  served = Object.fromEntries(
    await Promise.all(NAMES.map(async (n) => [n, new Uint8Array(await readFile(join(dir, n)))] as const)),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const fetchFn = async (url: string) => {
  const name = url.slice(BASE.length + 1);
  const body = served[name];
  return body
    ? new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-length': String(body.length) } })
    : new Response('', { status: 404 });
};

const LOAD: LoadSettings = {
  maxBatch: 2,
  maxSeq: 16,
  quant: 'nf4',
  lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'down_proj'], rslora: false },
};
const batch = {
  B: 2,
  T: 8,
  inputIds: Int32Array.from({ length: 16 }, (_, i) => (i * 131 + 7) % 8000),
  attentionMask: new Int32Array(16).fill(1),
  labels: Int32Array.from({ length: 16 }, (_, i) => (i % 8 < 3 ? -100 : (i * 131 + 7) % 8000)),
};

function session(store: KeyValueStore) {
  return new TrainingSession({
    modelStore: store,
    checkpointStore: memoryStore(),
    fetchFn: fetchFn as typeof fetch,
    createEngine: (k) => createEngine(k, { threads: 1 }),
  });
}

async function lossOf(s: TrainingSession): Promise<number> {
  return (
    await s.evaluate([
      { ids: batch.inputIds.slice(0, 8), labels: batch.labels.slice(0, 8), truncated: 0 },
      { ids: batch.inputIds.slice(8), labels: batch.labels.slice(8), truncated: 0 },
    ])
  ).loss;
}

describe('NF4 weights in the model cache', () => {
  it('are made on the first NF4 load, read instead of the 16-bit projections on the next, and say what they hold', async () => {
    const store = memoryStore();
    reads = [];
    const first = session(store);
    const s1 = await first.loadModel({ kind: 'url', baseUrl: BASE }, 'cpu', LOAD);
    expect(s1).toMatchObject({ quant: 'nf4', nf4FromCache: 0 });
    const projections = reads.filter(isQuantizedTensor);
    expect(projections.length).toBe(14); // each projection read once as 16-bit, to quantize it
    const loss1 = await lossOf(first);
    await first.dispose();

    const rec = await store.get<QuantRecord>(quantRecordKey(s1.sourceKey, 'nf4'));
    const model = await SafetensorsFile.open(served['model.safetensors']);
    reads = [];
    expect(rec).toMatchObject({ quant: 'nf4', layout: NF4_LAYOUT, block: 64 });
    expect(rec!.tensors.sort()).toEqual(projections.sort());
    const words = projections.reduce((a, n) => a + nf4Words(model.info(n).shape.reduce((x, y) => x * y, 1)), 0);
    expect(rec!.bytes).toBe(words * 4);
    const listed = (await listCachedModels(store)).find((m) => m.sourceKey === s1.sourceKey)!;
    expect(listed.quantized).toEqual({ quant: 'nf4', tensors: 14, bytes: words * 4 });

    reads = [];
    const second = session(store);
    const s2 = await second.loadModel({ kind: 'url', baseUrl: BASE }, 'cpu', LOAD);
    expect(s2.nf4FromCache).toBe(14);
    expect(reads.filter(isQuantizedTensor)).toEqual([]); // no 16-bit projection read
    expect(await lossOf(second)).toBe(loss1);
    await second.dispose();

    // the oracle: the same files with the cache off, every tensor quantized by the engine
    const fresh = session(memoryStore());
    await fresh.loadModel({ kind: 'url', baseUrl: BASE }, 'cpu', { ...LOAD, useCache: false });
    expect(await lossOf(fresh)).toBe(loss1);
    const full = session(memoryStore());
    await full.loadModel({ kind: 'url', baseUrl: BASE }, 'cpu', { ...LOAD, quant: 'none' });
    expect(Math.abs((await lossOf(full)) - loss1)).toBeGreaterThan(1e-5);
    await fresh.dispose();
    await full.dispose();

    await deleteCachedModel(store, s1.sourceKey);
    expect((await store.keys()).filter((k) => k[0] === 'quant')).toEqual([]);
  });

  it('drops entries of another layout or other weight files instead of reading them', async () => {
    const store = memoryStore();
    const s1 = await (async () => {
      const s = session(store);
      const sm = await s.loadModel({ kind: 'url', baseUrl: BASE }, 'cpu', LOAD);
      await s.dispose();
      return sm;
    })();
    const key = quantRecordKey(s1.sourceKey, 'nf4');
    const rec = (await store.get<QuantRecord>(key))!;
    for (const stale of [
      { ...rec, layout: 'nf4/some-older-layout' },
      { ...rec, weights: 'model.safetensors:123:another-download' },
    ]) {
      await store.setMany([[key, stale]]);
      reads = [];
      const s = session(store);
      expect((await s.loadModel({ kind: 'url', baseUrl: BASE }, 'cpu', LOAD)).nf4FromCache).toBe(0);
      expect(reads.filter(isQuantizedTensor).length).toBe(14);
      expect(await store.get<QuantRecord>(key)).toMatchObject({ layout: NF4_LAYOUT, weights: rec.weights });
      await s.dispose();
    }
  });
});
