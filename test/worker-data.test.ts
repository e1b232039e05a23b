// The worker's side of the error loop. Constrained decoding: the page sends a tool schema
// (plain data, structured-clone safe), the worker compiles it against the model's vocabulary;
// oracle: the schema rules (textCallProblems) on what comes back. Continue training: a run
// starts from the adapter the engine holds; oracle: with lr 0 it must come back bit for bit,
// which a fresh init (B = 0, new A) could not give.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { createEngine } from '../src/engine/create.ts';
import { GREEDY } from '../src/engine/engine.ts';
import { memoryStore } from '../src/io/store.ts';
import { TrainingSession } from '../src/worker/session.ts';
import { parseToolSchema, textCallProblems } from '../src/data/schema.ts';
import { encodePrompt } from '../src/data/examples.ts';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import type { WorkerGenerateOptions } from '../src/worker/api.ts';
import { DEFAULT_TRAIN } from '../src/train/recipe.ts';

let dir: string;
let files: File[];
const NAMES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors'];
const schema = parseToolSchema(readFileSync(new URL('../public/samples/meeting-schema.json', import.meta.url), 'utf8'));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'worker-constrained-'));
  await makeTinyModel({ preset: 'tiny', out: dir, seed: 4 });
  files = await Promise.all(NAMES.map(async (n) => new File([await readFile(join(dir, n))], n)));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('worker generate with a tool schema', () => {
  it('returns valid calls for every prompt; the options survive structured clone', async () => {
    const s = new TrainingSession({
      modelStore: memoryStore(),
      checkpointStore: memoryStore(),
      createEngine: (k) => createEngine(k, { threads: 1 }),
    });
    const summary = await s.loadModel({ kind: 'local', files }, 'cpu', {
      maxBatch: 2,
      maxSeq: 64,
      lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], rslora: false },
    });
    const tok = ChatTokenizer.fromJson(summary.tokenizerJson, summary.tokenizerConfigJson ?? {});
    const users = [
      '请将以下会议语音指令转换为工具调用JSON：邀请王芳入会',
      '请将以下会议语音指令转换为工具调用JSON：把会议结束掉',
      '你好',
    ];
    const prompts = users.map((user) => encodePrompt(tok, { user }, { system: schema.system }));
    const options: WorkerGenerateOptions = structuredClone({
      ...GREEDY,
      maxNewTokens: 90,
      stopTokens: tok.eosTokenIds,
      toolSchema: schema,
    });
    const out = await s.generateBatch(prompts, options);
    for (const r of out) {
      expect(tok.eosTokenIds).toContain(r.tokens.at(-1));
      expect(textCallProblems(schema, tok.decode(r.tokens, { skipSpecial: true }))).toEqual([]);
    }
    const one = await s.generate(prompts[2], options);
    expect(Array.from(one.tokens)).toEqual(Array.from(out[2].tokens));
    const free = await s.generateBatch(prompts, { ...options, toolSchema: undefined });
    expect(free.some((r) => textCallProblems(schema, tok.decode(r.tokens, { skipSpecial: true })).length > 0)).toBe(
      true,
    );
    await expect(s.generate(prompts[0], { ...options, maxNewTokens: 5 })).rejects.toThrow(
      /too few for the shortest call/,
    );
    await s.dispose();
  });
});

describe('worker continue training', () => {
  it('starts from the current adapter, not a fresh init, and is a run of its own', async () => {
    const s = new TrainingSession({
      modelStore: memoryStore(),
      checkpointStore: memoryStore(),
      createEngine: (k) => createEngine(k, { threads: 1 }),
    });
    await s.loadModel({ kind: 'local', files }, 'cpu', {
      maxBatch: 2,
      maxSeq: 32,
      lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false },
    });
    const ex = (seed: number) => {
      const ids = Int32Array.from({ length: 12 }, (_, i) => (seed * 131 + i * 17) % 8000);
      return { ids, labels: ids.map((x, i) => (i < 4 ? -100 : x)), truncated: 0 };
    };
    await s.setDataset([ex(1), ex(2), ex(3), ex(4)], []);
    const base = {
      ...DEFAULT_TRAIN,
      epochs: 1,
      batchSize: 2,
      gradAccum: 1,
      lr: 1e-2,
      warmupSteps: 0,
      evalEvery: 0,
      checkpointEvery: 0,
    };
    const first = await s.startTraining(base);
    expect(first.state).toBe('done');
    const trained = (await s.getAdapter()).tensors;
    // Grown data, lr 0: AdamW moves nothing, so the adapter must stay the trained one.
    await s.setDataset([ex(1), ex(2), ex(3), ex(4), ex(5), ex(6)], []);
    const cont = await s.startTraining({ ...base, lr: 0, continueFrom: 'run-1' });
    expect(cont.state).toBe('done');
    // A run of its own: another fingerprint than the first, reported for the page's run store.
    expect(cont.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(cont.fingerprint).not.toBe(first.fingerprint);
    expect(cont.runId).toBe(cont.fingerprint!.slice(0, 16));
    expect(cont.steps).toBe(3);
    const after = (await s.getAdapter()).tensors;
    for (const [k, v] of Object.entries(trained))
      expect(new Uint32Array(after[k].buffer), k).toEqual(new Uint32Array(v.buffer));
    // The same settings without continueFrom start over: the B matrices are zero again.
    await s.startTraining({ ...base, lr: 0, resume: false });
    const fresh = (await s.getAdapter()).tensors;
    const bName = Object.keys(fresh).find((k) => k.includes('lora_B'))!;
    expect(fresh[bName].every((x) => x === 0)).toBe(true);
    expect(trained[bName].some((x) => x !== 0)).toBe(true);
    await s.dispose();
  });
});
