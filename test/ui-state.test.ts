import { describe, expect, it } from 'vitest';
import { exampleBatches, Trainer } from '../src/train/trainer.ts';
import type { Engine, TrainExample } from '../src/engine/engine.ts';
import { BUILTIN_PRESET, DEFAULT_LORA, DEFAULT_RECIPE, DEFAULT_TRAIN, stepCount } from '../src/train/recipe.ts';
import { initialState } from '../src/ui/app/state.ts';

const rows = (n: number): TrainExample[] =>
  Array.from({ length: n }, () => ({ ids: new Int32Array([1, 2]), labels: new Int32Array([-100, 2]), truncated: 0 }));

describe('stepCount (the one count the page announces and the trainer runs)', () => {
  // HF Trainer: ceil(rows / batch) micro-batches an epoch, ceil(micro-batches / accumulation)
  // optimizer steps an epoch, ceil(epochs x that) in all; worked out by hand.
  for (const [n, batchSize, gradAccum, epochs, perEpoch, total] of [
    [200, 4, 4, 8, 13, 104],
    [12, 2, 1, 2, 6, 12],
    [13, 4, 4, 3, 1, 3],
    [1, 4, 4, 1, 1, 1],
    [17, 3, 2, 5, 3, 15],
    [10, 3, 2, 1.25, 2, 3],
  ]) {
    it(`${n} rows, batch ${batchSize}, accumulation ${gradAccum}, ${epochs} epochs: ${total} steps`, () => {
      expect(stepCount(n, { batchSize, gradAccum, epochs })).toMatchObject({
        stepsPerEpoch: perEpoch,
        totalSteps: total,
      });
      const trainer = new Trainer({} as Engine, exampleBatches(rows(n), 0), {
        ...DEFAULT_TRAIN,
        batchSize,
        gradAccum,
        epochs,
      });
      expect(trainer.totalSteps).toBe(total);
    });
  }
  it('is 13 steps per epoch for the seed recipe on 200 rows (ceil(ceil(200/4)/4))', () => {
    expect(stepCount(200, DEFAULT_RECIPE).totalSteps).toBe(13 * 8);
  });
});

describe('defaults', () => {
  it('are the PyTorch + PEFT seed recipe', () => {
    expect(DEFAULT_RECIPE).toMatchObject({
      r: 8,
      alpha: 32,
      dropout: 0.1,
      batchSize: 4,
      gradAccum: 4,
      lr: 1e-4,
      epochs: 8,
      maxLength: 384,
      schedule: 'linear',
      warmupSteps: 0,
      weightDecay: 0,
      maxGradNorm: 1,
      seed: 42,
    });
    expect(DEFAULT_RECIPE.targets).toEqual(DEFAULT_LORA.targets);
    expect(initialState('zh').systemPrompt).toBe('现在你要扮演会议语音助手');
    // The page opens on the built-in tiny model, with that model's preset over the seed recipe.
    expect(initialState('zh').train).toEqual({ ...DEFAULT_RECIPE, ...BUILTIN_PRESET });
  });
});

describe('fileStem', () => {
  it('names downloads after the model', async () => {
    const { fileStem } = await import('../src/ui/evaluate/results.ts');
    expect(fileStem('Qwen/Qwen2.5-0.5B-Instruct')).toBe('Qwen2.5-0.5B-Instruct');
    expect(fileStem('tiny (built in)')).toBe('tiny-built-in');
    expect(fileStem('我的 模型/')).toBe('我的-模型');
    expect(fileStem('(())')).toBe('model');
  });
});

describe('mapInSlices', () => {
  it('maps like Array.map and lets other tasks run between slices', async () => {
    const { mapInSlices } = await import('../src/ui/data/datasets.ts');
    const items = Array.from({ length: 130 }, (_, i) => i);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const out = await mapInSlices(items, (x) => x * x, 50);
    clearInterval(timer);
    expect(out).toEqual(items.map((x) => x * x));
    // 130 items in slices of 50: two yields, so the interval got at least one turn.
    expect(ticks).toBeGreaterThanOrEqual(1);
  });
});
