// LoRA alpha and dropout are per run, like lr: a run given them on a model loaded with others
// trains exactly as a model loaded with them (the oracle), without a second load, and the
// adapter exported afterwards carries the run's alpha.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { createEngine } from '../src/engine/create.ts';
import { memoryStore } from '../src/io/store.ts';
import { TrainingSession } from '../src/worker/session.ts';
import { randomExamples } from './helpers/examples.ts';
import type { LoadSettings, TrainSettings } from '../src/worker/api.ts';
import { DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';

let dir: string;
let files: File[];
const NAMES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'run-options-'));
  await makeTinyModel({ preset: 'tiny', out: dir, seed: 7 });
  files = await Promise.all(NAMES.map(async (n) => new File([await readFile(join(dir, n))], n)));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const lora = (alpha: number, dropout: number): LoadSettings['lora'] => ({
  r: 4,
  alpha,
  dropout,
  targets: ['q_proj', 'v_proj', 'down_proj'],
  rslora: false,
});
const TRAIN: TrainSettings = {
  epochs: 2,
  batchSize: 2,
  gradAccum: 1,
  lr: 5e-3,
  schedule: 'linear',
  warmupSteps: 0,
  ...DEFAULT_OPTIMIZER,
  seed: 5,
  evalEvery: 0,
  checkpointEvery: 0,
};
const data = randomExamples(6, 3, 8189);

async function session(alpha: number, dropout: number) {
  let loads = 0;
  const s = new TrainingSession({
    modelStore: memoryStore(),
    checkpointStore: memoryStore(),
    createEngine: (k) => (loads++, createEngine(k, { threads: 1 })),
  });
  await s.loadModel({ kind: 'local', files }, 'cpu', { maxBatch: 2, maxSeq: 24, lora: lora(alpha, dropout) });
  await s.setDataset(data, []);
  return { s, loads: () => loads };
}

describe('alpha and dropout per run', () => {
  it('a run given alpha 20 and dropout 0.3 equals a load with them, bit for bit, with no reload', async () => {
    const oracle = await session(20, 0.3);
    const want = await oracle.s.startTraining({ ...TRAIN });
    const other = await session(8, 0);
    const got = await other.s.startTraining({ ...TRAIN, alpha: 20, dropout: 0.3 });
    expect(got.history.map((h) => h.loss)).toEqual(want.history.map((h) => h.loss));
    expect(got.history.map((h) => h.gradNorm)).toEqual(want.history.map((h) => h.gradNorm));
    expect((await other.s.getAdapter()).tensors).toEqual((await oracle.s.getAdapter()).tensors);
    expect(other.loads()).toBe(1);
    // the adapter as trained: its alpha is the run's, in what getAdapter and the export say
    expect((await other.s.getAdapter()).lora).toMatchObject({ alpha: 20, dropout: 0.3 });
    const cfg = (await other.s.exportFiles('adapter')).find((f) => f.name === 'adapter_config.json')!;
    expect(JSON.parse(await cfg.blob.text())).toMatchObject({ lora_alpha: 20, lora_dropout: 0.3 });
    // and the evaluation loss after training is the oracle's (the scale stayed the run's)
    expect((await other.s.evaluate(data)).loss).toBe((await oracle.s.evaluate(data)).loss);
  });

  it('a different dropout changes the run (it is not ignored), and a different alpha too', async () => {
    const base = await (await session(8, 0)).s.startTraining({ ...TRAIN });
    const drop = await (await session(8, 0)).s.startTraining({ ...TRAIN, dropout: 0.5 });
    const alpha = await (await session(8, 0)).s.startTraining({ ...TRAIN, alpha: 64 });
    expect(drop.history[1].loss).not.toBe(base.history[1].loss);
    expect(alpha.history[1].loss).not.toBe(base.history[1].loss);
    // a setting of the run is part of its identity: its checkpoint is not another's
    expect(drop.fingerprint).not.toBe(base.fingerprint);
  });

  it('an adapter put back with its own alpha generates with that alpha', async () => {
    const a = await session(20, 0);
    await a.s.startTraining({ ...TRAIN });
    const tensors = (await a.s.getAdapter()).tensors;
    const b = await session(8, 0);
    await b.s.setAdapter(tensors, 20);
    expect((await b.s.evaluate(data)).loss).toBe((await a.s.evaluate(data)).loss);
  });
});
