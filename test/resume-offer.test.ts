// Which saved run the page offers to resume: only the one Start would continue, i.e. the run of
// this model, data and settings (its fingerprint), never merely the newest checkpoint of the
// model. Oracle: runs stopped at known steps with known settings, and startTraining itself,
// which must resume exactly the offered checkpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { createEngine } from '../src/engine/create.ts';
import type { TrainExample } from '../src/engine/engine.ts';
import { memoryStore } from '../src/io/store.ts';
import { DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';
import type { TrainSettings } from '../src/worker/api.ts';
import { TrainingSession } from '../src/worker/session.ts';

let dir: string;
let files: File[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resume-offer-'));
  await makeTinyModel({ preset: 'tiny', out: dir, seed: 2 });
  const names = [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'generation_config.json',
    'model.safetensors',
  ];
  files = await Promise.all(names.map(async (n) => new File([await readFile(join(dir, n))], n)));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const rows = (n: number, salt: number): TrainExample[] =>
  Array.from({ length: n }, (_, i) => {
    const ids = Int32Array.from({ length: 10 }, (_, t) => (i * 31 + t * 7 + salt) % 8000);
    return { ids, labels: ids.map((id, t) => (t < 4 ? -100 : id)), truncated: 0 };
  });

const A: TrainSettings = {
  epochs: 2,
  batchSize: 2,
  gradAccum: 1,
  lr: 1e-3,
  schedule: 'linear',
  warmupSteps: 0,
  ...DEFAULT_OPTIMIZER,
  seed: 1,
  evalEvery: 0,
  checkpointEvery: 2,
};

describe('the resume offer', () => {
  it('is the checkpoint of this model, data and settings only, and is what Start continues', async () => {
    const checkpointStore = memoryStore();
    const s = new TrainingSession({
      modelStore: memoryStore(),
      checkpointStore,
      createEngine: (k) => createEngine(k, { threads: 1 }),
    });
    await s.loadModel({ kind: 'local', files }, 'cpu', {
      maxBatch: 2,
      maxSeq: 16,
      lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false },
    });
    const data = rows(8, 0);
    await s.setDataset(data, []);
    const stopAt = (k: number) => (p: { step: number; state: string }) =>
      p.step === k && p.state === 'running' && void s.stop();
    // Run A stops at step 3; run B (another learning rate), saved later, stops at step 5.
    expect((await s.startTraining(A, stopAt(3))).state).toBe('stopped');
    const B = { ...A, lr: 2e-3 };
    expect((await s.startTraining(B, stopAt(5))).state).toBe('stopped');
    expect((await s.listCheckpoints()).map((c) => c.step).sort()).toEqual([3, 5]);

    expect(await s.matchCheckpoint(A)).toMatchObject({
      step: 3,
      totalSteps: 8,
      identity: { rows: 8, settings: { lr: 1e-3, epochs: 2 } },
    });
    expect(await s.matchCheckpoint(B)).toMatchObject({ step: 5 });
    // A setting nobody trained with, or other data: nothing to offer (the newest checkpoint is B's).
    expect(await s.matchCheckpoint({ ...A, lr: 5e-4 })).toBeUndefined();
    expect(await s.matchCheckpoint({ ...A, seed: 2 })).toBeUndefined();
    // The cadences change no step: the same run.
    expect(await s.matchCheckpoint({ ...A, checkpointEvery: 3, evalEvery: 1 })).toMatchObject({ step: 3 });
    await s.setDataset(rows(8, 1), []);
    expect(await s.matchCheckpoint(A)).toBeUndefined();

    // Start continues exactly what was offered.
    await s.setDataset(data, []);
    const outcome = await s.startTraining(A);
    expect(outcome).toMatchObject({ state: 'done', resumedFrom: 3, steps: 8 });
  });
});
