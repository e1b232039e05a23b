// A checkpoint that does not fit in browser storage (IndexedDB's QuotaExceededError) no longer
// ends the run: training goes on to the same result as a run that saved everything, the progress
// says what the checkpoint needed (oracle: the bytes the same checkpoint takes where it fits),
// the previous checkpoint stays loadable, and a run whose last save fails still ends 'done'.
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/create.ts';
import type { TrainExample } from '../src/engine/engine.ts';
import { hash32 } from '../src/engine/ops.ts';
import { memoryStore, type KeyValueStore } from '../src/io/store.ts';
import { CheckpointStore } from '../src/train/checkpoint.ts';
import { runTraining, type TrainProgress } from '../src/train/loop.ts';
import { DEFAULT_LORA, DEFAULT_TRAIN } from '../src/train/recipe.ts';
import { randomModel } from './helpers/random-model.ts';

const lora = { ...DEFAULT_LORA, r: 4, alpha: 8, dropout: 0 };
const data: TrainExample[] = Array.from({ length: 6 }, (_, i) => {
  const ids = Int32Array.from({ length: 6 }, (_, t) => 3 + (hash32(i, t) % 90));
  return { ids, labels: Int32Array.from(ids, (id, t) => (t < 2 ? -100 : id)), truncated: 0 };
});
const settings = {
  ...DEFAULT_TRAIN,
  epochs: 2,
  batchSize: 2,
  gradAccum: 1,
  lr: 1e-2,
  warmupSteps: 1,
  checkpointEvery: 2,
};

async function run(store: KeyValueStore, onProgress?: (p: TrainProgress) => void) {
  const { cfg, weights } = randomModel();
  const engine = await createEngine('cpu', { scalar: true });
  await engine.load(cfg, weights, { maxBatch: 2, maxSeq: 6, lora });
  return runTraining({
    engine,
    train: data,
    eval: [],
    settings,
    padId: 0,
    lora,
    modelKey: 'random',
    runId: 'q',
    checkpoints: new CheckpointStore(store),
    onProgress,
  });
}

/** A store whose quota is full after `fits` checkpoint writes, as IndexedDB says it. */
function fullAfter(fits: number): KeyValueStore {
  const inner = memoryStore();
  let writes = 0;
  return {
    ...inner,
    async setMany(entries) {
      if (entries.some(([k]) => k[0] === 'ckpt-data') && ++writes > fits)
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return inner.setMany(entries);
    },
  };
}

describe('a checkpoint that does not fit', () => {
  it('keeps training to the same result, says how much space it needed, and keeps the previous checkpoint', async () => {
    const roomy = memoryStore();
    const straight = await run(roomy);
    const infos = await new CheckpointStore(roomy).list();
    expect(straight.state).toBe('done');

    const store = fullAfter(1);
    const events: TrainProgress[] = [];
    const out = await run(store, (p) => events.push(p));
    expect(out.state).toBe('done');
    expect(out.history.map((h) => h.loss)).toEqual(straight.history.map((h) => h.loss));
    const failed = events.filter((e) => e.checkpointFailed);
    expect(failed.map((e) => e.checkpointFailed!.step)).toEqual([4, 6]);
    // The step-6 checkpoint needs what the same checkpoint took where it fit (the store keeps the latest).
    expect(infos[0].step).toBe(6);
    expect(failed[1].checkpointFailed!.bytes).toBe(infos[0].bytes);
    expect(failed[0].checkpointFailed!.bytes).toBeGreaterThan(0.9 * infos[0].bytes);
    expect(failed[0].message).toMatch(/needs [\d.]+ MiB of browser storage and the quota is full/);
    expect(out.checkpointFailed).toMatchObject({ step: 6, bytes: infos[0].bytes });
    // The checkpoint of step 2 is still there and loads.
    const kept = await new CheckpointStore(store).load('q');
    expect(kept?.meta.position.step).toBe(2);
  });
});
