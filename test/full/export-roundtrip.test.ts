// Done-when of the export work: train a few steps on a tiny model, export the PEFT adapter to
// disk, import it into a fresh engine and get bit-identical logits; merge it into the weights
// and get the same logits from the base model alone, within f32 rounding.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../helpers/tiny-models.ts';
import { SafetensorsFile } from '../../src/core/safetensors.ts';
import { importDataset } from '../../src/data/dataset.ts';
import { toTrainExamples } from '../../src/data/examples.ts';
import { createEngine } from '../../src/engine/create.ts';
import type { Engine, LoraSettings, MicroBatch } from '../../src/engine/engine.ts';
import { writeMergedModel } from '../../src/export/merged.ts';
import { writePeftAdapter } from '../../src/export/peft.ts';
import {
  folderTokenizer,
  openAdapterFolder,
  openModelFolder,
  weightReader,
  type ModelFolder,
} from '../../src/cli/model-folder.ts';
import { NodeFolder } from '../../src/cli/node-sink.ts';
import { exampleBatches, Trainer, makeMicroBatch } from '../../src/train/trainer.ts';
import { DEFAULT_TRAIN } from '../../src/train/recipe.ts';

let tmp: string;
let model: ModelFolder;
const lora: LoraSettings = {
  r: 4,
  alpha: 16,
  dropout: 0.1,
  targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  rslora: false,
};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-roundtrip-'));
  await makeTinyModel({ preset: 'tiny', out: join(tmp, 'model'), seed: 3 });
  model = await openModelFolder(join(tmp, 'model'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function engineFor(m: ModelFolder, maxBatch: number, maxSeq: number): Promise<Engine> {
  const e = await createEngine('cpu');
  await e.load(m.config, weightReader(m), { maxBatch, maxSeq, lora });
  return e;
}

describe('train -> PEFT export -> import', () => {
  it('gives identical logits, and the merged model gives the same logits within f32 rounding', async () => {
    const tok = await folderTokenizer(model);
    const text = readFileSync(new URL('../../public/samples/meeting-eval.json', import.meta.url), 'utf8');
    const rows = importDataset(text).rows.slice(0, 6);
    const examples = toTrainExamples(tok, rows);
    const maxSeq = Math.max(...examples.map((e) => e.ids.length));
    const mb: MicroBatch = makeMicroBatch(examples.slice(0, 3), tok.endOfTextId);

    const trained = await engineFor(model, 3, maxSeq);
    let want: Float32Array;
    let adapter: Record<string, Float32Array>;
    try {
      await trained.initLora(11);
      const trainer = new Trainer(trained, exampleBatches(examples, tok.endOfTextId), {
        ...DEFAULT_TRAIN,
        batchSize: 3,
        gradAccum: 1,
        lr: 1e-2,
        epochs: 2,
      });
      for (let k = 0; k < 3; k++) await trainer.step();
      want = (await trained.forward(mb, true)).logits!;
      adapter = await trained.getLora();
    } finally {
      await trained.dispose();
    }
    // Training moved B off zero, so a dropped or misplaced tensor would change the logits.
    const b = adapter['base_model.model.model.layers.1.mlp.down_proj.lora_B.weight'];
    expect(Math.max(...b.map(Math.abs))).toBeGreaterThan(1e-4);

    await writePeftAdapter(new NodeFolder(join(tmp, 'adapter')), model.config, lora, adapter, model.name);
    const imported = await openAdapterFolder(join(tmp, 'adapter'), model.config);
    expect(imported.settings).toEqual(lora);
    const fresh = await engineFor(model, 3, maxSeq);
    try {
      await fresh.setLora(imported.tensors);
      const got = (await fresh.forward(mb, true)).logits!;
      // Bit-identical: compared as bytes (vitest's deep equality is slow on 10^6 elements).
      expect(got.length).toBe(want.length);
      expect(
        Buffer.compare(
          Buffer.from(got.buffer, got.byteOffset, got.byteLength),
          Buffer.from(want.buffer, want.byteOffset, want.byteLength),
        ),
      ).toBe(0);
    } finally {
      await fresh.dispose();
    }

    await writeMergedModel(new NodeFolder(join(tmp, 'merged')), model, imported, { dtype: 'F32' });
    const merged = await openModelFolder(join(tmp, 'merged'));
    expect(Object.keys(merged.extraFiles).sort()).toEqual(Object.keys(model.extraFiles).sort());
    const base = await engineFor(merged, 3, maxSeq);
    try {
      await base.initLora(5); // B = 0
      const got = (await base.forward(mb, true)).logits!;
      const V = model.config.vocabSize;
      let maxAbs = 0;
      for (let i = 0; i < want.length; i++)
        if (mb.attentionMask[Math.floor(i / V)]) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
      expect(maxAbs).toBeLessThan(1e-4);
    } finally {
      await base.dispose();
    }
    // BF16 output: the projections are rounded once, everything else is byte-identical
    await writeMergedModel(new NodeFolder(join(tmp, 'merged16')), model, imported);
    const m16 = await SafetensorsFile.open(new Uint8Array(readFileSync(join(tmp, 'merged16', 'model.safetensors'))));
    for (const [name, info] of m16.tensors) expect(info.dtype, name).toBe('BF16');
    expect(await m16.readBytes('model.embed_tokens.weight')).toEqual(
      new Uint8Array(await (model.weights as SafetensorsFile).readBytes('model.embed_tokens.weight')),
    );
  });
});
