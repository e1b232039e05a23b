// The model catalog and the fit check. Oracles: parameter counts worked out by hand from the
// published shapes (and equal to the counts Hugging Face shows), the WebAssembly 4 GiB and the
// adapter's binding limit; and a model refused before download, proven by the hub's request log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CATALOG, catalogConfig, catalogModel, downloadBytes } from '../src/core/catalog.ts';
import { paramCount, projShape } from '../src/core/config.ts';
import { OutOfMemoryError } from '../src/core/errors.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { assertFits, checkFit, cpuLimits, WASM_MEMORY_BYTES } from '../src/engine/fit.ts';
import { planMemory } from '../src/engine/plan.ts';
import { createEngine } from '../src/engine/create.ts';
import { openModel } from '../src/io/model-files.ts';
import { memoryStore } from '../src/io/store.ts';
import { TrainingSession } from '../src/worker/session.ts';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { startIoServer, type IoServer } from '../e2e/io-server.ts';

const at = (maxBatch: number, maxSeq: number) => ({ maxBatch, maxSeq, lora: DEFAULT_LORA });
const GPU_1GIB = { kind: 'webgpu' as const, maxBufferSize: 2 ** 30, maxBindingSize: 2 ** 30 };

describe('catalog', () => {
  it('offers the five models by repo id, each config parsing to its published shape', () => {
    expect(CATALOG.map((m) => m.repo)).toEqual([
      'Qwen/Qwen2.5-0.5B-Instruct',
      'Qwen/Qwen2.5-1.5B-Instruct',
      'Qwen/Qwen3-0.6B',
      'Qwen/Qwen3-1.7B',
      'Qwen/Qwen3-4B-Instruct-2507',
    ]);
    expect(catalogModel(' qwen/qwen3-4b-instruct-2507 ')?.repo).toBe('Qwen/Qwen3-4B-Instruct-2507');
    expect(catalogModel('someone/else')).toBeUndefined();
    // Hugging Face's parameter counts: 494M, 1.54B, 4.02B; by hand for 4B: embed 151936*2560
    // + 36 x (q,o 2*4096*2560 + k,v 2*1024*2560 + mlp 3*9728*2560 + norms 2*2560 + q/k norms 2*128) + 2560.
    const counts = CATALOG.map((m) => paramCount(catalogConfig(m)));
    expect(counts[0]).toBe(494_032_768);
    expect(counts[4]).toBe(4_022_468_096);
    const q4 = catalogConfig(CATALOG[4]);
    expect(q4).toMatchObject({
      architecture: 'qwen3',
      hiddenSize: 2560,
      intermediateSize: 9728,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 128,
      vocabSize: 151936,
      ropeTheta: 5e6,
      maxPositionEmbeddings: 262144,
      tieWordEmbeddings: true,
    });
    expect(projShape(q4, 'q_proj')).toEqual([4096, 2560]);
    expect(CATALOG.filter((m) => m.thinking).map((m) => m.repo)).toEqual(['Qwen/Qwen3-0.6B', 'Qwen/Qwen3-1.7B']);
  });

  it('estimates downloads from the stored BF16 tensors, a stored tied head included', () => {
    // Qwen3-0.6B's safetensors holds lm_head too: (596,049,920 + 151936*1024) * 2 bytes = 1.503 GB, as published
    const tok = 11 * 2 ** 20;
    expect(downloadBytes(CATALOG[2]) - tok).toBe((596_049_920 + 151936 * 1024) * 2);
    expect(downloadBytes(CATALOG[0]) - tok).toBe(494_032_768 * 2);
  });
});

describe('fit', () => {
  it('the CPU engine holds 4 GiB: Qwen2.5-0.5B fits the seed settings, Qwen3-4B in 16 bits does not', () => {
    expect(WASM_MEMORY_BYTES).toBe(4 * 2 ** 30);
    const small = catalogConfig(CATALOG[0]);
    expect(checkFit(small, at(4, 384), planMemory('cpu', small, at(4, 384), 'bf16'), cpuLimits()).fits).toBe(true);
    const big = catalogConfig(CATALOG[4]);
    const plan = planMemory('cpu', big, at(1, 384), 'bf16');
    const r = checkFit(big, at(1, 384), plan, cpuLimits());
    expect(r.fits).toBe(false);
    expect(r.problems).toEqual([{ kind: 'memory', need: plan.total, limit: 2 ** 32 }]);
    // the weights alone: 4,022,468,096 params x 2 bytes > 4 GiB
    expect(plan.parts.weights).toBe(4_022_468_096 * 2);
  });

  it('WebGPU: weights split by rows, but one tensor bound whole must fit the largest binding', () => {
    const cfg = catalogConfig(CATALOG[2]);
    expect(checkFit(cfg, at(4, 384), planMemory('webgpu', cfg, at(4, 384), 'bf16'), GPU_1GIB).fits).toBe(true);
    // batch 16 x 4096: gate|up, one buffer for the fused launch, = 2 x 65536 x 3072 floats = 1.5 GiB
    // (flash attention keeps no (B, NH, T, T) probabilities on WebGPU: two floats per query row)
    const r = checkFit(cfg, at(16, 4096), planMemory('webgpu', cfg, at(16, 4096), 'bf16'), GPU_1GIB);
    expect(r.problems).toEqual([{ kind: 'binding', tensor: 'gateUp', need: 2 * 65536 * 3072 * 4, limit: 2 ** 30 }]);
    expect(() => assertFits(cfg, at(16, 4096), GPU_1GIB)).toThrow(
      /gateUp tensor needs 1536 MiB in one buffer, more than the GPU's largest storage binding \(1024 MiB\)/,
    );
  });
});

describe('refused before download', () => {
  let dir: string;
  let hub: IoServer;
  beforeAll(async () => {
    // a tiny model folder whose config.json claims Qwen3-4B's shape
    dir = await mkdtemp(join(tmpdir(), 'catalog-fit-'));
    await makeTinyModel({ preset: 'tiny', out: dir });
    await writeFile(join(dir, 'config.json'), JSON.stringify(CATALOG[4].config));
    hub = await startIoServer(dir);
  });
  afterAll(async () => {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('openModel reads config.json first and a refusing check stops it: no other file is requested or kept', async () => {
    const store = memoryStore();
    const n = hub.log.length;
    const src = { kind: 'hf' as const, repo: 'test/tiny', revision: 'main', endpoint: `${hub.url}/hf` };
    const e = await openModel(src, {
      store,
      skipSpaceCheck: true,
      checkConfig: (json) =>
        void assertFits(catalogConfig({ ...CATALOG[4], config: JSON.parse(json) }), at(1, 384), cpuLimits()),
    }).catch((x) => x);
    expect(e).toBeInstanceOf(OutOfMemoryError);
    const files = hub.log
      .slice(n)
      .filter((r) => r.path.includes('/resolve/'))
      .map((r) => r.path.split('/').pop());
    expect(files).toEqual(['config.json']);
    expect(await store.keys()).toEqual([]);
  });

  it('the worker refuses a model the CPU engine cannot hold, with the reason, before reading its weights', async () => {
    const names = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
    const read: string[] = [];
    const files = await Promise.all(
      names.map(async (f) => {
        const file = new File([await readFile(join(dir, f))], f);
        // a File whose content is read records it: the weights must never be
        const text = file.text.bind(file),
          slice = file.slice.bind(file);
        return Object.assign(file, {
          text: () => (read.push(f), text()),
          slice: (...a: Parameters<Blob['slice']>) => (read.push(f), slice(...a)),
        });
      }),
    );
    const s = new TrainingSession({
      modelStore: memoryStore(),
      checkpointStore: memoryStore(),
      createEngine: (k) => createEngine(k, { threads: 1 }),
    });
    const e = await s.loadModel({ kind: 'local', files }, 'cpu', { ...at(1, 384), useCache: false }).catch((x) => x);
    expect(e).toBeInstanceOf(OutOfMemoryError);
    expect(e.message).toMatch(
      /needs \d+ MiB and the engine can hold 4096 MiB.*CPU engine \(4 GiB of WebAssembly memory\)/,
    );
    expect(read).toEqual(['config.json']);
  });
});
