import { describe, expect, it } from 'vitest';
import { epochOrder, exampleBatches, lrAt, makeMicroBatch, Trainer } from '../src/train/trainer.ts';
import { DEFAULT_LORA, DEFAULT_TRAIN, type TrainSettings } from '../src/train/recipe.ts';
import { createEngine } from '../src/engine/create.ts';
import { GREEDY, type TrainExample } from '../src/engine/engine.ts';
import { randomModel } from './helpers/random-model.ts';
import { hash32 } from '../src/engine/ops.ts';

/** A row: `prompt` tokens masked, then `answer` tokens with labels, then the stop token 2. */
function row(prompt: number[], answer: number[]): TrainExample {
  const ids = Int32Array.from([...prompt, ...answer, 2]);
  const labels = Int32Array.from([...prompt.map(() => -100), ...answer, 2]);
  return { ids, labels, truncated: 0 };
}

describe('schedule and data order', () => {
  it('linear decay with warmup follows transformers get_linear_schedule_with_warmup', () => {
    const s = { lr: 1e-3, schedule: 'linear' as const, warmupSteps: 4 };
    const total = 20;
    for (let k = 0; k < total; k++) {
      const want = k < 4 ? (1e-3 * k) / 4 : 1e-3 * Math.max(0, (total - k) / (total - 4));
      expect(lrAt(k, total, s)).toBeCloseTo(want, 12);
    }
    expect(lrAt(5, 10, { lr: 1, schedule: 'cosine', warmupSteps: 0 })).toBeCloseTo(0.5, 12);
    expect(lrAt(7, 10, { lr: 2, schedule: 'constant', warmupSteps: 0 })).toBe(2);
  });

  it('each epoch is a seeded permutation, different across epochs', () => {
    const a = epochOrder(50, 42, 0),
      b = epochOrder(50, 42, 0),
      c = epochOrder(50, 42, 1);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('micro-batches are right padded with masked labels', () => {
    const mb = makeMicroBatch([row([5, 6], [7]), row([5], [8, 9, 10])], 0);
    expect(mb.T).toBe(5);
    expect(Array.from(mb.inputIds)).toEqual([5, 6, 7, 2, 0, 5, 8, 9, 10, 2]);
    expect(Array.from(mb.attentionMask)).toEqual([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
    expect(Array.from(mb.labels)).toEqual([-100, -100, 7, 2, -100, -100, 8, 9, 10, 2]);
  });
});

function dataset(n: number): TrainExample[] {
  return Array.from({ length: n }, (_, i) =>
    row(
      [3, 10 + (hash32(i, 1) % 40), 10 + (hash32(i, 2) % 40)],
      [50 + (hash32(i, 3) % 40), 50 + (hash32(i, 4) % 40), 50 + (hash32(i, 5) % 40)],
    ),
  );
}

async function engineFor(lora = { ...DEFAULT_LORA, r: 4, alpha: 16, dropout: 0 }) {
  const { cfg, weights } = randomModel();
  const engine = await createEngine('cpu', { scalar: true });
  await engine.load(cfg, weights, { maxBatch: 4, maxSeq: 8, lora });
  return engine;
}

describe('training on the CPU engine', () => {
  const settings: TrainSettings = { ...DEFAULT_TRAIN, batchSize: 3, gradAccum: 2, epochs: 2, lr: 5e-3 };

  it('counts steps like the HF Trainer: ceil(micro-batches / accumulation) per epoch', async () => {
    const t = new Trainer(await engineFor(), exampleBatches(dataset(10), 0), settings);
    expect(t.microPerEpoch).toBe(4);
    expect(t.stepsPerEpoch).toBe(2);
    expect(t.totalSteps).toBe(4);
  });

  it('resuming from a position, LoRA weights and optimizer state gives the identical next losses', async () => {
    const data = dataset(10);
    const straight = await engineFor();
    await straight.initLora(7);
    const t1 = new Trainer(straight, exampleBatches(data, 0), { ...settings, epochs: 3 });
    const losses: number[] = [];
    while (!t1.done) losses.push((await t1.step()).loss);

    const first = await engineFor();
    await first.initLora(7);
    const t2 = new Trainer(first, exampleBatches(data, 0), { ...settings, epochs: 3 });
    for (let k = 0; k < 3; k++) await t2.step();
    const saved = { pos: t2.position(), lora: await first.getLora(), opt: await first.getOptimizerState() };

    const second = await engineFor();
    await second.setLora(saved.lora);
    await second.setOptimizerState(saved.opt);
    const t3 = new Trainer(second, exampleBatches(data, 0), { ...settings, epochs: 3 }, saved.pos);
    const resumed: number[] = [];
    while (!t3.done) resumed.push((await t3.step()).loss);
    expect(resumed).toEqual(losses.slice(3));
  });

  it('lowers the loss and, trained long enough on a few rows, greedy generation reproduces their answers', async () => {
    const data = dataset(4);
    const engine = await engineFor({ ...DEFAULT_LORA, r: 8, alpha: 16, dropout: 0.05 });
    await engine.initLora(3);
    const t = new Trainer(engine, exampleBatches(data, 0), {
      ...settings,
      batchSize: 4,
      gradAccum: 1,
      epochs: 200,
      lr: 3e-2,
    });
    const losses: number[] = [];
    while (!t.done) losses.push((await t.step()).loss);
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.1);
    for (const ex of data) {
      const promptLen = ex.labels.findIndex((l) => l !== -100);
      const gen = await engine.generate(ex.ids.slice(0, promptLen), { ...GREEDY, maxNewTokens: 6, stopTokens: [2] });
      expect(Array.from(gen.tokens)).toEqual(Array.from(ex.ids.slice(promptLen)));
    }
  });
});

describe('memory plan', () => {
  it('refuses a plan over the device budget and says what would fit', async () => {
    const { CpuBackend } = await import('../src/engine/cpu/backend.ts');
    const { LoraEngine } = await import('../src/engine/lora-engine.ts');
    const { OutOfMemoryError } = await import('../src/core/errors.ts');
    const { cfg, weights } = randomModel();
    const lora = { ...DEFAULT_LORA, r: 4, alpha: 16 };
    const probe = new LoraEngine(new CpuBackend());
    const small = await probe.load(cfg, weights, { maxBatch: 1, maxSeq: 16, lora });
    const budgeted = new (class extends CpuBackend {
      memoryBudget() {
        return small.total + 1;
      }
    })();
    const engine = new LoraEngine(budgeted);
    const err = await engine.load(cfg, weights, { maxBatch: 8, maxSeq: 256, lora }).catch((e) => e);
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err.message).toMatch(/would fit/);
    // the plan is what gets allocated (batch id buffers and f32 norm vectors aside)
    expect(Math.abs(small.allocated - small.total) / small.total).toBeLessThan(0.05);
  });
});
