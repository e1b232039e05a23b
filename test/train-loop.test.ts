// The training loop the worker and the CLI share, driven directly: a run stopped after N steps
// leaves a checkpoint in any CheckpointSink, and the next run continues it to the same end as an
// uninterrupted run; a checkpoint of other settings is not resumed; failures become outcomes.
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/create.ts';
import type { Engine, TrainExample } from '../src/engine/engine.ts';
import { hash32 } from '../src/engine/ops.ts';
import type { Checkpoint } from '../src/train/checkpoint.ts';
import { runTraining, type CheckpointSink, type RunTrainingOptions, type TrainProgress } from '../src/train/loop.ts';
import { DEFAULT_LORA, DEFAULT_TRAIN } from '../src/train/recipe.ts';
import { randomModel } from './helpers/random-model.ts';

const lora = { ...DEFAULT_LORA, r: 4, alpha: 8, dropout: 0.1 };
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
  checkpointEvery: 0,
};

async function engine(): Promise<Engine> {
  const { cfg, weights } = randomModel();
  const e = await createEngine('cpu', { scalar: true });
  await e.load(cfg, weights, { maxBatch: 2, maxSeq: 6, lora });
  return e;
}

/** A sink that keeps copies, the way a folder or IndexedDB would. */
function memorySink(): CheckpointSink & { saved: Checkpoint[] } {
  const saved: Checkpoint[] = [];
  return {
    saved,
    load: async (runId) => structuredClone(saved.filter((c) => c.meta.runId === runId).at(-1)),
    save: async (c) => void saved.push(structuredClone(c)),
    delete: async (runId) => void saved.splice(0, saved.length, ...saved.filter((c) => c.meta.runId !== runId)),
  };
}

const run = async (o: Partial<RunTrainingOptions>) =>
  runTraining({
    engine: await engine(),
    train: data,
    eval: data.slice(0, 2),
    settings,
    padId: 0,
    lora,
    modelKey: 'random',
    runId: 'r',
    ...o,
  });

describe('runTraining', () => {
  it('stops after N steps with a checkpoint, and the next run continues to the uninterrupted result', async () => {
    const straight = await run({});
    expect(straight).toMatchObject({ state: 'done', steps: 6, totalSteps: 6 });
    expect(straight.evalLoss).toBeGreaterThan(0);

    const sink = memorySink();
    const first = await run({ checkpoints: sink, stopAfter: 2 });
    expect(first).toMatchObject({ state: 'stopped', steps: 2 });
    expect(sink.saved.map((c) => c.meta.position.step)).toEqual([2]);
    const events: TrainProgress[] = [];
    const second = await run({ checkpoints: sink, onProgress: (p) => events.push(p) });
    expect(second.resumedFrom).toBe(2);
    expect(events[0].message).toMatch(/resumed from the checkpoint at step 2/);
    expect(second.history.map((h) => h.loss)).toEqual(straight.history.map((h) => h.loss));
    expect(second.history.map((h) => h.lr)).toEqual(straight.history.map((h) => h.lr));

    // Other settings are another run: its checkpoint is not continued.
    const other = await run({ checkpoints: sink, settings: { ...settings, lr: 2e-2 } });
    expect(other.resumedFrom).toBeUndefined();
  });

  it('reports a failing step as an error outcome, or rethrows it when asked', async () => {
    const failing = await engine();
    failing.step = async () => {
      throw new RangeError('boom');
    };
    const events: TrainProgress[] = [];
    const out = await runTraining({
      engine: failing,
      train: data,
      eval: [],
      settings,
      padId: 0,
      lora,
      modelKey: 'm',
      onProgress: (p) => events.push(p),
    });
    expect(out).toMatchObject({ state: 'error', steps: 0, error: 'boom', errorName: 'RangeError' });
    expect(events.at(-1)).toMatchObject({ state: 'error', message: 'boom' });
    await expect(
      runTraining({
        engine: failing,
        train: data,
        eval: [],
        settings,
        padId: 0,
        lora,
        modelKey: 'm',
        throwErrors: true,
      }),
    ).rejects.toThrow(RangeError);
  });
});
