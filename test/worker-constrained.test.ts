// Constrained decoding across the worker boundary: the page sends a tool schema (plain data,
// structured-clone safe) and the worker compiles it against the loaded model's vocabulary.
// Oracle: the schema rules (textCallProblems) on what comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { createEngine } from '../src/engine/create.ts';
import { GREEDY } from '../src/engine/engine.ts';
import { memoryStore } from '../src/io/store.ts';
import { TrainingSession } from '../src/worker/session.ts';
import { parseToolSchema, textCallProblems } from '../src/data/schema.ts';
import { encodePrompt } from '../src/data/examples.ts';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import type { WorkerGenerateOptions } from '../src/worker/api.ts';

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
    const s = new TrainingSession({ modelStore: memoryStore(), checkpointStore: memoryStore(), createEngine: (k) => createEngine(k, { threads: 1 }) });
    const summary = await s.loadModel({ kind: 'local', files }, 'cpu', { maxBatch: 2, maxSeq: 64, lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], rslora: false } });
    const tok = ChatTokenizer.fromJson(summary.tokenizerJson, summary.tokenizerConfigJson ?? {});
    const users = ['请将以下会议语音指令转换为工具调用JSON：邀请王芳入会', '请将以下会议语音指令转换为工具调用JSON：把会议结束掉', '你好'];
    const prompts = users.map((user) => encodePrompt(tok, { user }, { system: schema.system }));
    const options: WorkerGenerateOptions = structuredClone({ ...GREEDY, maxNewTokens: 90, stopTokens: tok.eosTokenIds, toolSchema: schema });
    const out = await s.generateBatch(prompts, options);
    for (const r of out) {
      expect(tok.eosTokenIds).toContain(r.tokens.at(-1));
      expect(textCallProblems(schema, tok.decode(r.tokens, { skipSpecial: true }))).toEqual([]);
    }
    const one = await s.generate(prompts[2], options);
    expect(Array.from(one.tokens)).toEqual(Array.from(out[2].tokens));
    const free = await s.generateBatch(prompts, { ...options, toolSchema: undefined });
    expect(free.some((r) => textCallProblems(schema, tok.decode(r.tokens, { skipSpecial: true })).length > 0)).toBe(true);
    await expect(s.generate(prompts[0], { ...options, maxNewTokens: 5 })).rejects.toThrow(/too few for the shortest call/);
    await s.dispose();
  });
});
