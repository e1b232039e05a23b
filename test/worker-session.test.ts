// The worker's session in Node on the scalar CPU engine and a tiny model. The oracle for every
// resume is an uninterrupted run of the same settings: its losses, grad norms and final
// adapter must come back bit for bit after a checkpoint, a pause, a stop or a simulated crash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { createEngine } from '../src/engine/create.ts';
import { memoryStore, type KeyValueStore } from '../src/io/store.ts';
import { TrainingSession } from '../src/worker/session.ts';
import { randomExamples } from './helpers/examples.ts';
import type { LoadSettings, TrainOutcome, TrainProgress, TrainSettings } from '../src/worker/api.ts';
import { DatasetError, DeviceLostError, EngineError } from '../src/core/errors.ts';
import { DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';

let dir: string;
let files: File[];
const NAMES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'worker-session-'));
  await makeTinyModel({ preset: 'tiny', out: dir, seed: 7 });
  files = await Promise.all(NAMES.map(async (n) => new File([await readFile(join(dir, n))], n)));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const examples = (n: number, seed: number) => randomExamples(n, seed, 8189);

const LOAD: LoadSettings = {
  maxBatch: 2,
  maxSeq: 24,
  lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'down_proj'], rslora: false },
};
// 8 examples, batch 2, accumulation 2: two steps per epoch, 6 steps; warmup then linear decay.
const TRAIN: TrainSettings = {
  epochs: 3,
  batchSize: 2,
  gradAccum: 2,
  lr: 5e-3,
  schedule: 'linear',
  warmupSteps: 1,
  ...DEFAULT_OPTIMIZER,
  seed: 11,
  evalEvery: 0,
  checkpointEvery: 2,
};
const data = examples(8, 3);
const evalData = examples(3, 99);

async function session(checkpointStore: KeyValueStore = memoryStore()) {
  const s = new TrainingSession({
    modelStore: memoryStore(),
    checkpointStore,
    createEngine: (k) => createEngine(k, { threads: 1 }),
  });
  await s.loadModel({ kind: 'local', files }, 'cpu', LOAD);
  await s.setDataset(data, evalData);
  return s;
}

async function copyStore(src: KeyValueStore): Promise<KeyValueStore> {
  const dst = memoryStore();
  const keys = await src.keys();
  const values = await src.getMany(keys);
  await dst.setMany(keys.map((k, i) => [k, values[i]]));
  return dst;
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

let reference: { outcome: TrainOutcome; lora: Record<string, Float32Array> };
async function uninterrupted() {
  if (!reference) {
    const s = await session();
    const outcome = await s.startTraining({ ...TRAIN, checkpointEvery: 0 });
    reference = { outcome, lora: (await s.getAdapter()).tensors };
  }
  return reference;
}

function expectSameRun(got: TrainOutcome, want: TrainOutcome) {
  expect(got.state).toBe('done');
  expect(got.history.map((h) => h.step)).toEqual(want.history.map((h) => h.step));
  // Exact: the same kernels on the same inputs in the same order.
  expect(got.history.map((h) => h.loss)).toEqual(want.history.map((h) => h.loss));
  expect(got.history.map((h) => h.gradNorm)).toEqual(want.history.map((h) => h.gradNorm));
  expect(got.history.map((h) => h.lr)).toEqual(want.history.map((h) => h.lr));
}

describe('training session', () => {
  it('trains the tiny model: finite, decreasing loss on its data, warmup then linear lr', async () => {
    const { outcome } = await uninterrupted();
    expect(outcome.state).toBe('done');
    expect(outcome.steps).toBe(6);
    const losses = outcome.history.map((h) => h.loss);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[5]).toBeLessThan(losses[0]);
    // HF: warmup step 0 -> 0, then lr * (1 - (k - 1) / 5).
    const want = [0, 5e-3, 5e-3 * 0.8, 5e-3 * 0.6, 5e-3 * 0.4, 5e-3 * 0.2];
    outcome.history.forEach((h, i) => expect(h.lr, `step ${i + 1}`).toBeCloseTo(want[i], 15));
    expect(outcome.evalLoss).toBeGreaterThan(0);
  });

  it('after a crash, resumes from the last periodic checkpoint with identical next losses and adapter', async () => {
    const ref = await uninterrupted();
    const store = memoryStore();
    let crashImage: KeyValueStore | undefined;
    const copies: Promise<void>[] = [];
    const s = await session(store);
    await s.startTraining(TRAIN, (p) => {
      // The state IndexedDB would hold if the tab died right after step 3 (checkpoint of step 2).
      if (p.step === 3 && p.state === 'running') copies.push(copyStore(store).then((c) => void (crashImage = c)));
    });
    await Promise.all(copies);
    const fresh = await session(crashImage!);
    expect((await fresh.listCheckpoints()).map((c) => c.step)).toEqual([2]);
    const events: TrainProgress[] = [];
    const out = await fresh.startTraining(TRAIN, (p) => events.push(p));
    expect(out.resumedFrom).toBe(2);
    expect(events[0].resumedFrom).toBe(2);
    expect(events.filter((e) => e.state === 'running' && e.step > 2).map((e) => e.loss)).toEqual(
      ref.outcome.history.slice(2).map((h) => h.loss),
    );
    expectSameRun(out, ref.outcome);
    const lora = (await fresh.getAdapter()).tensors;
    for (const k of Object.keys(ref.lora)) expect(bits(lora[k]), k).toEqual(bits(ref.lora[k]));
  });

  it('a lost GPU device mid-run reloads the model on a fresh engine and resumes from the last checkpoint', async () => {
    const ref = await uninterrupted();
    let engines = 0;
    const s = new TrainingSession({
      modelStore: memoryStore(),
      checkpointStore: memoryStore(),
      createEngine: async (k) => {
        const engine = await createEngine(k, { threads: 1 });
        // The first engine's device is "lost" during its 4th optimizer step (after the checkpoint of step 2).
        if (engines++ === 0) {
          let steps = 0;
          const step = engine.step.bind(engine);
          engine.step = async (...args) => {
            if (++steps === 4) throw new DeviceLostError('GPU device lost: test');
            return step(...args);
          };
        }
        return engine;
      },
    });
    await s.loadModel({ kind: 'local', files }, 'cpu', LOAD);
    await s.setDataset(data, evalData);
    const events: TrainProgress[] = [];
    const out = await s.startTraining(TRAIN, (p) => events.push(p));
    expect(engines).toBe(2);
    expect(events.some((e) => e.state === 'error')).toBe(false);
    expect(events.some((e) => /device was lost/.test(e.message ?? ''))).toBe(true);
    expect(out.resumedFrom).toBe(2);
    expectSameRun(out, ref.outcome);
  });

  it('pause takes effect before the next step and checkpoints; swapping adapters while paused and resuming continues the same run', async () => {
    const ref = await uninterrupted();
    const s = await session();
    const events: TrainProgress[] = [];
    let paused = false;
    const run = s.startTraining({ ...TRAIN, checkpointEvery: 0 }, (p) => {
      events.push(p);
      if (p.step === 1 && p.state === 'running' && !paused) {
        paused = true;
        void s.pause();
      }
      if (p.state === 'paused') {
        // What the playground does while paused: compare with the base model, restore, go on.
        void (async () => {
          const tuned = (await s.getAdapter()).tensors;
          const base = Object.fromEntries(
            Object.entries(tuned).map(([k, v]) => [k, k.includes('lora_B') ? new Float32Array(v.length) : v]),
          );
          await s.setAdapter(base);
          await s.generate(data[0].ids.slice(0, 4), {
            maxNewTokens: 2,
            temperature: 0,
            topK: 0,
            topP: 1,
            stopTokens: [],
            seed: 0,
          });
          await s.setAdapter(tuned);
          await s.resume();
        })();
      }
    });
    const out = await run;
    const pausedAt = events.filter((e) => e.state === 'paused');
    expect(pausedAt.map((e) => [e.step, e.checkpointedAt])).toEqual([[1, 1]]);
    expect((await s.listCheckpoints()).length).toBe(1);
    expect(events.filter((e) => e.state === 'running' && e.step === 2)).toHaveLength(1);
    expectSameRun(out, ref.outcome);
  });

  it('stop ends the run after the current step; starting again continues from there', async () => {
    const ref = await uninterrupted();
    const s = await session();
    const first = await s.startTraining({ ...TRAIN, checkpointEvery: 0 }, (p) => {
      if (p.step === 4 && p.state === 'running') void s.stop();
    });
    expect(first.state).toBe('stopped');
    expect(first.steps).toBe(4);
    const second = await s.startTraining({ ...TRAIN, checkpointEvery: 0 });
    expect(second.resumedFrom).toBe(4);
    expectSameRun(second, ref.outcome);
  });

  it('does not resume another run: changed settings or resume:false start from step 0', async () => {
    const ref = await uninterrupted();
    const store = memoryStore();
    const s = await session(store);
    await s.startTraining(TRAIN, (p) => p.step === 2 && p.state === 'running' && void s.stop());
    const other = await s.startTraining({ ...TRAIN, lr: 1e-3, epochs: 1 });
    expect(other.resumedFrom).toBeUndefined();
    expect(other.history[0].step).toBe(1);
    const again = await s.startTraining({ ...TRAIN, resume: false });
    expect(again.resumedFrom).toBeUndefined();
    expectSameRun(again, ref.outcome);
  });

  it('refuses bad datasets by row and field, and a second concurrent run', async () => {
    const s = await session();
    const bad = [...data, { ids: Int32Array.of(1, 9000), labels: Int32Array.of(-100, 1), truncated: 0 }];
    const e = await s.setDataset(bad, []).catch((x) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect(e.issues).toEqual([
      { index: 8, field: 'train', message: 'token 9000 at position 1 is outside the vocabulary (8192)' },
    ]);
    const long = { ids: new Int32Array(30), labels: new Int32Array(30), truncated: 0 };
    await expect(s.setDataset(data, [long])).rejects.toThrow(/more than the max length 24/);
    const run = s.startTraining({ ...TRAIN, epochs: 1 });
    await expect(s.startTraining(TRAIN)).rejects.toThrow(EngineError);
    await run;
  });

  it('evaluates, generates and exports the trained adapter as PEFT files', async () => {
    const s = await session();
    const before = await s.evaluate();
    await s.startTraining({ ...TRAIN, epochs: 2, checkpointEvery: 0 });
    const after = await s.evaluate(data);
    expect(before.examples).toBe(3);
    expect(after.tokens).toBe(data.reduce((a, ex) => a + ex.labels.slice(1).filter((l) => l !== -100).length, 0));
    const streamed: number[] = [];
    const g = await s.generate(
      data[0].ids.slice(0, 5),
      { maxNewTokens: 4, temperature: 0, topK: 0, topP: 1, stopTokens: [], seed: 0 },
      (id) => streamed.push(id),
    );
    expect(g.tokens.length).toBe(4);
    expect(streamed).toEqual([...g.tokens]);
    const out = await s.exportFiles('adapter');
    expect(out.map((f) => f.name).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const st = await SafetensorsFile.open(out.find((f) => f.name === 'adapter_model.safetensors')!.blob);
    const lora = (await s.getAdapter()).tensors;
    for (const [k, v] of Object.entries(lora)) expect(await st.read(k)).toEqual(v);
    expect(JSON.parse(await out.find((f) => f.name === 'adapter_config.json')!.blob.text())).toMatchObject({
      r: 4,
      lora_alpha: 8,
      peft_type: 'LORA',
    });
  });
});
