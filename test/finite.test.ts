// NaN and infinity where they hide: in base weights (page and CLI), in a loaded adapter, in an
// adapter_config out of range, and in a run whose updates explode while the loss stays finite.
// Oracles: bad values written by hand at known elements, and the advice each cause must get
// (a NaN in the base is never blamed on the learning rate).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { cli } from './helpers/cli.ts';
import { NonFiniteError, NonFiniteWeightError } from '../src/core/errors.ts';
import { coordinates, firstNonFinite } from '../src/core/finite.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { createEngine } from '../src/engine/create.ts';
import { memoryStore } from '../src/io/store.ts';
import { explainNonFinite, loraNorm, UpdateWatch } from '../src/train/health.ts';
import { decodeCheckpoint } from '../src/train/checkpoint.ts';
import { TrainingSession } from '../src/worker/session.ts';

let tmp: string, good: string, data: string;
const Q = 'model.layers.1.self_attn.q_proj.weight';

/** A copy of the tiny model with `bits` (bf16) written at element `index` of `tensor`. */
async function poisoned(name: string, tensor: string, index: number, bits: number): Promise<string> {
  const dir = join(tmp, name);
  await cp(good, dir, { recursive: true });
  const path = join(dir, 'model.safetensors');
  const bytes = new Uint8Array(readFileSync(path));
  const info = (await SafetensorsFile.open(bytes)).info(tensor);
  new DataView(bytes.buffer).setUint16(info.start + 2 * index, bits, true);
  writeFileSync(path, bytes);
  return dir;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-finite-'));
  good = join(tmp, 'good');
  await makeTinyModel({ preset: 'tiny', out: good, seed: 9 });
  data = join(tmp, 'd.json');
  writeFileSync(
    data,
    JSON.stringify(
      JSON.parse(readFileSync(new URL('../public/samples/meeting-eval.json', import.meta.url), 'utf8')).slice(0, 8),
    ),
  );
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const train = (model: string, out: string, ...more: string[]) =>
  cli(
    'train',
    '--model',
    model,
    '--data',
    data,
    '--out',
    out,
    '--batch',
    '2',
    '--accum',
    '1',
    '--epochs',
    '1',
    '--quiet',
    ...more,
  );

describe('NaN and infinity in base weights', () => {
  it('the CLI refuses them on load, naming file, tensor, element and coordinates, and never blames the learning rate', async () => {
    // q_proj of layer 1 is (64, 64): element 70 is row 1, column 6.
    const nan = await poisoned('nan', Q, 70, 0x7fc0);
    const r = await train(nan, join(tmp, 'never'));
    expect(r.code).toBe(3);
    expect(r.err).toContain(`NonFiniteWeightError: ${join(nan, 'model.safetensors')} [${Q}]: element 70 (1, 6) is NaN`);
    expect(r.err).not.toMatch(/learning rate/);
    expect(existsSync(join(tmp, 'never'))).toBe(false);
    const inf = await poisoned('inf', 'model.norm.weight', 3, 0xff80);
    const e = await cli('eval', '--model', inf, '--data', data, '--quiet');
    expect(e.err).toContain('[model.norm.weight]: element 3 is -Infinity');
  });

  it("the page's worker refuses them on load too", async () => {
    const nan = await poisoned('nan-page', Q, 5, 0x7f81);
    const names = [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
      'model.safetensors',
    ];
    const files = await Promise.all(names.map(async (n) => new File([await readFile(join(nan, n))], n)));
    const s = new TrainingSession({
      modelStore: memoryStore(),
      checkpointStore: memoryStore(),
      createEngine: (k) => createEngine(k, { threads: 1 }),
    });
    const load = s.loadModel({ kind: 'local', files }, 'cpu', {
      maxBatch: 1,
      maxSeq: 16,
      lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], rslora: false },
    });
    await expect(load).rejects.toThrow(NonFiniteWeightError);
    await expect(load).rejects.toThrow(`[${Q}]: element 5 (0, 5) is NaN`);
  });

  it('bf16 and f16 bits are read by their exponent; coordinates are row-major', () => {
    expect(firstNonFinite(Uint16Array.of(0x3f80, 0x7f7f, 0xff80), 'bf16')).toBe(2);
    expect(firstNonFinite(Uint16Array.of(0x3c00, 0x7bff, 0x7e00), 'f16')).toBe(2);
    expect(firstNonFinite(Float32Array.of(1, 3.4e38, -0), 'f32')).toBe(-1);
    expect(firstNonFinite(Float32Array.of(1, Infinity), 'f32')).toBe(1);
    expect(coordinates(70, [64, 64])).toEqual([1, 6]);
    expect(coordinates(23, [2, 3, 4])).toEqual([1, 2, 3]);
  });
});

describe('adapters', () => {
  async function adapterWith(
    name: string,
    patch: (config: Record<string, unknown>, weights: Uint8Array) => Promise<void> | void,
  ): Promise<string> {
    const dir = join(tmp, name);
    await cp(join(tmp, 'adapter'), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    const weights = new Uint8Array(readFileSync(join(dir, 'adapter_model.safetensors')));
    await patch(config, weights);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'adapter_model.safetensors'), weights);
    return dir;
  }

  beforeAll(async () => {
    expect((await train(good, join(tmp, 'adapter'), '--stop-after', '1', '--lr', '1e-3')).code).toBe(0);
  });

  it('a NaN in a loaded adapter is refused by eval and by the merged export, which writes nothing', async () => {
    const name = 'base_model.model.model.layers.0.mlp.down_proj.lora_B.weight';
    const bad = await adapterWith('nan-adapter', async (_c, w) => {
      const info = (await SafetensorsFile.open(w)).info(name);
      new DataView(w.buffer).setFloat32(info.start + 4 * 9, NaN, true);
    });
    const e = await cli('eval', '--model', good, '--adapter', bad, '--data', data, '--quiet');
    expect(e.code).toBe(3);
    expect(e.err).toContain(`adapter_model.safetensors [${name}]: element 9 (1, 1) is NaN`);
    const out = join(tmp, 'merged-from-nan');
    const m = await cli('export', '--model', good, '--adapter', bad, '--format', 'merged', '--out', out);
    expect(m.code).toBe(3);
    expect(existsSync(out)).toBe(false);
  });

  it('lora_alpha of -32 or 1e308 is refused, naming the field', async () => {
    for (const [alpha, why] of [
      [-32, /field "lora_alpha" must be positive, got -32/],
      [1e308, /field "lora_alpha" 1e\+308 with r 8 scales the update by 1\.25e\+307/],
    ] as const) {
      const bad = await adapterWith(`alpha-${alpha}`, (c) => void (c.lora_alpha = alpha));
      const r = await cli('eval', '--model', good, '--adapter', bad, '--data', data, '--quiet');
      expect(r.code).toBe(3);
      expect(r.err).toMatch(why);
    }
    for (const alpha of ['--alpha=-32', '--alpha=0']) {
      const flag = await train(good, join(tmp, 'x'), alpha);
      expect(flag.code).toBe(2);
      expect(flag.err).toMatch(/--alpha must be above 0/);
    }
  });
});

describe('runs that diverge', () => {
  it('--lr 1e9 stops with advice about the learning rate, though the loss stays finite', async () => {
    const r = await train(good, join(tmp, 'lr1e9'), '--lr', '1e9');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /DivergedError: the updates explode: the LoRA weights' norm grew from [\d.]+ to [\d.e+]+ \([\d.e+]+-fold\) between step 0 and step 1; the learning rate 1\.00e\+9 is far too high/,
    );
    expect(existsSync(join(tmp, 'lr1e9', 'adapter_model.safetensors'))).toBe(false);
  });

  it('keeps the last good checkpoint when the updates explode later', async () => {
    // Warmup from 0: step 1 moves nothing, step 2 uses lr 2e8.
    const out = join(tmp, 'later');
    const r = await train(
      good,
      out,
      '--lr',
      '1e9',
      '--warmup',
      '5',
      '--schedule',
      'constant',
      '--checkpoint-every',
      '1',
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/between step 0 and step 2/);
    expect(r.err).toContain(
      `note: the last good checkpoint, step 1, is kept in ${join(out, 'checkpoint.safetensors')}`,
    );
    const ck = await decodeCheckpoint(new Blob([readFileSync(join(out, 'checkpoint.safetensors'))]));
    expect(ck.meta.position.step).toBe(1);
    expect(Number.isFinite(loraNorm(ck.lora))).toBe(true);
  });

  it('a non-finite loss before any update of a fresh adapter is not blamed on the learning rate; after updates it is', () => {
    const before = explainNonFinite(new NonFiniteError('loss', 1), { updatesDone: 0, lr: 1e-4, fromScratch: true });
    expect(before.reason).toBe('nonfinite-before-update');
    expect(before.message).toMatch(/before any update: the learning rate is not the cause/);
    const after = explainNonFinite(new NonFiniteError('gradient norm', 7), {
      updatesDone: 6,
      lr: 0.5,
      fromScratch: true,
    });
    expect(after.reason).toBe('nonfinite-after-updates');
    expect(after.message).toMatch(
      /after 6 update\(s\) at learning rate 0\.5: the training diverged; lower the learning rate/,
    );
    const watch = new UpdateWatch(2, 0, 1e-4);
    expect(() => watch.check({ a: Float32Array.of(100, 100) }, 5)).not.toThrow(); // 141: ~70x
    expect(() => watch.check({ a: Float32Array.of(200, 200) }, 6)).toThrow(/grew from 2 to 282\.8 \(141\.4-fold\)/);
    expect(() => watch.check({ a: Float32Array.of(NaN) }, 7)).toThrow(/hold NaN or infinity at step 7/);
  });
});
