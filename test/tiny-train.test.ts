// Issue 3's end-to-end claim on the real pipeline: the built-in tiny model, the sample meeting
// dataset through the chat template, the CPU engine and the trainer. Training lowers the loss
// on the rows it sees, measured by a separate no-dropout forward before and after.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { parseQwen2Config, validateWeights } from '../src/core/config.ts';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import { importDataset } from '../src/data/dataset.ts';
import { toTrainExamples } from '../src/data/examples.ts';
import { createEngine } from '../src/engine/create.ts';
import { DEFAULT_LORA, DEFAULT_TRAIN } from '../src/train/recipe.ts';
import { exampleBatches, Trainer, evaluateLoss } from '../src/train/trainer.ts';

describe('tiny model on the sample meeting data', () => {
  it('training lowers the loss on the training rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtune-tiny-'));
    await makeTinyModel({ preset: 'tiny', out: dir });
    const cfg = parseQwen2Config(readFileSync(join(dir, 'config.json'), 'utf8'));
    const st = await SafetensorsFile.open(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))));
    const dtype = validateWeights(cfg, st);
    const tok = ChatTokenizer.fromJson(
      readFileSync(join(dir, 'tokenizer.json'), 'utf8'),
      readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'),
    );
    const { rows, issues } = importDataset(readFileSync('public/samples/meeting-train.json', 'utf8'), {
      file: 'meeting-train.json',
    });
    expect(issues).toEqual([]);
    const examples = toTrainExamples(tok, rows.slice(0, 8));
    const maxSeq = Math.max(...examples.map((e) => e.ids.length));

    const engine = await createEngine('cpu');
    await engine.load(
      cfg,
      { dtype, read: async (n) => (await st.read(n)) as Uint16Array },
      { maxBatch: 4, maxSeq, lora: DEFAULT_LORA },
    );
    await engine.initLora(42);
    const padId = tok.endOfTextId;
    const before = (await evaluateLoss(engine, examples, 4, padId)).loss;
    // B = 0 at init: the adapter starts as the identity, so the loss is the base model's.
    expect(before).toBeGreaterThan(Math.log(cfg.vocabSize) * 0.8);
    const trainer = new Trainer(engine, exampleBatches(examples, padId), {
      ...DEFAULT_TRAIN,
      epochs: 10,
      batchSize: 4,
      gradAccum: 1,
      lr: 2e-2,
    });
    while (!trainer.done) await trainer.step();
    const after = (await evaluateLoss(engine, examples, 4, padId)).loss;
    expect(after).toBeLessThan(before * 0.8);
    await engine.dispose();
  });
});
