// The PyTorch golden cases read with the project's own safetensors and config code: every
// tensor the engines will ask for is there with the shape the config implies, and the
// expected values agree with each other (loss recomputed from the logits, merged weight
// from W + scale * B @ A, the lr schedule from case.json), so a broken fixture or reader fails here.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { parseQwen2Config, validateWeights, expectedTensors, projShape, LORA_TARGETS } from '../src/core/config.ts';
import { peftName } from '../src/engine/engine.ts';
import { bf16ToF32 } from '../src/core/dtype.ts';
import { lrAt } from '../src/train/trainer.ts';

const CASES = [
  { name: 'tiny-f32', dtype: 'F32', weightDType: 'f32' },
  { name: 'tiny-bf16-untied', dtype: 'BF16', weightDType: 'bf16' },
  { name: 'qwen3-bf16', dtype: 'BF16', weightDType: 'bf16' },
  { name: 'warmup-cosine', dtype: 'F32', weightDType: 'f32' },
] as const;

function file(c: string, f: string): URL {
  return new URL(`./fixtures/golden/${c}/${f}`, import.meta.url);
}

async function open(c: string, f: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(new Blob([readFileSync(file(c, f))]), `${c}/${f}`);
}

function json(c: string, f: string): Record<string, any> {
  return JSON.parse(readFileSync(file(c, f), 'utf8'));
}

for (const { name, dtype, weightDType } of CASES) {
  describe(name, () => {
    const cfg = parseQwen2Config(readFileSync(file(name, 'config.json'), 'utf8'));
    const adapterCfg = json(name, 'adapter_config.json');
    const caseJson = json(name, 'case.json');

    it('model.safetensors has every tensor the config implies, with its shape and one dtype', async () => {
      const model = await open(name, 'model.safetensors');
      expect(validateWeights(cfg, model)).toBe(weightDType);
      const want = expectedTensors(cfg);
      expect([...model.tensors.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [t, shape] of want) {
        expect(model.info(t).shape, t).toEqual(shape);
        expect(model.info(t).dtype, t).toBe(dtype);
      }
    });

    it('adapter_config.json and adapter_model.safetensors describe the same LoRA', async () => {
      expect(adapterCfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', bias: 'none', use_rslora: false });
      expect([...adapterCfg.target_modules].sort()).toEqual([...LORA_TARGETS].sort());
      expect(caseJson.lora_scaling).toBe(adapterCfg.lora_alpha / adapterCfg.r);
      const adapter = await open(name, 'adapter_model.safetensors');
      const r = adapterCfg.r as number;
      const names: string[] = [];
      for (let l = 0; l < cfg.numLayers; l++)
        for (const t of LORA_TARGETS) {
          const [out, inp] = projShape(cfg, t);
          expect(adapter.info(peftName(l, t, 'A'))).toMatchObject({ dtype: 'F32', shape: [r, inp] });
          expect(adapter.info(peftName(l, t, 'B'))).toMatchObject({ dtype: 'F32', shape: [out, r] });
          names.push(peftName(l, t, 'A'), peftName(l, t, 'B'));
        }
      expect([...adapter.tensors.keys()].sort()).toEqual(names.sort());
    });

    it('batches are right padded, I32, with labels -100 on padding', async () => {
      const batches = await open(name, 'batches.safetensors');
      expect(batches.tensors.size).toBe(3 * caseJson.micro_batches);
      for (let k = 0; k < caseJson.micro_batches; k++) {
        const ids = (await batches.read(`micro${k}.input_ids`)) as Int32Array;
        const mask = (await batches.read(`micro${k}.attention_mask`)) as Int32Array;
        const labels = (await batches.read(`micro${k}.labels`)) as Int32Array;
        const [B, T] = batches.info(`micro${k}.input_ids`).shape;
        for (const t of ['input_ids', 'attention_mask', 'labels'])
          expect(batches.info(`micro${k}.${t}`)).toMatchObject({ dtype: 'I32', shape: [B, T] });
        for (let b = 0; b < B; b++) {
          const row = Array.from(mask.subarray(b * T, (b + 1) * T));
          const n = row.indexOf(0) === -1 ? T : row.indexOf(0);
          expect(
            row.slice(n).every((m) => m === 0),
            'right padded',
          ).toBe(true);
          expect(row.slice(0, n).every((m) => m === 1)).toBe(true);
          for (let t = 0; t < T; t++) {
            expect(ids[b * T + t]).toBeGreaterThanOrEqual(0);
            expect(ids[b * T + t]).toBeLessThan(cfg.vocabSize);
            if (t >= n) expect(labels[b * T + t]).toBe(-100);
            else if (labels[b * T + t] !== -100) expect(labels[b * T + t]).toBe(ids[b * T + t]);
          }
        }
      }
    });

    it('expected.safetensors has every output, and its loss follows from its logits', async () => {
      const exp = await open(name, 'expected.safetensors');
      const batches = await open(name, 'batches.safetensors');
      const adapter = await open(name, 'adapter_model.safetensors');
      const [B, T] = batches.info('micro0.input_ids').shape;
      const V = cfg.vocabSize;
      const steps = caseJson.optimizer_steps as number;
      expect(exp.info('logits')).toMatchObject({ dtype: 'F32', shape: [B, T, V] });
      expect(exp.info('loss').shape).toEqual([1]);
      for (const a of adapter.tensors.keys()) {
        expect(exp.info(`grad.${a}`).shape).toEqual(adapter.info(a).shape);
        for (let s = 1; s <= steps; s++) expect(exp.info(`step${s}.${a}`).shape).toEqual(adapter.info(a).shape);
      }
      for (const t of ['train.loss', 'train.grad_norm', 'train.lr']) expect(exp.info(t).shape).toEqual([steps]);
      const gen = caseJson.generate.new_tokens as number;
      expect(exp.info('generate.tokens')).toMatchObject({ dtype: 'I32', shape: [gen] });
      expect(exp.info('generate.margins').shape).toEqual([gen]);
      expect(exp.info('generate.prompt').dtype).toBe('I32');

      // Mean cross-entropy of micro0, logits at t predicting labels at t+1, in float64.
      const logits = (await exp.read('logits')) as Float32Array;
      const labels = (await batches.read('micro0.labels')) as Int32Array;
      let sum = 0,
        n = 0;
      for (let b = 0; b < B; b++)
        for (let t = 0; t + 1 < T; t++) {
          const y = labels[b * T + t + 1];
          if (y === -100) continue;
          const row = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
          let max = -Infinity;
          for (const x of row) max = Math.max(max, x);
          let z = 0;
          for (const x of row) z += Math.exp(x - max);
          sum += Math.log(z) + max - row[y];
          n++;
        }
      const loss = ((await exp.read('loss')) as Float32Array)[0];
      expect(Math.abs(sum / n - loss) / loss).toBeLessThan(1e-5);

      // The trainer's own schedule (warmup, then linear or cosine decay) gives the case's lr.
      const lr = (await exp.read('train.lr')) as Float32Array;
      const schedule = {
        lr: caseJson.lr,
        schedule: caseJson.lr_schedule === 'cosine' ? ('cosine' as const) : ('linear' as const),
        warmupSteps: caseJson.warmup_steps ?? 0,
      };
      for (let k = 0; k < steps; k++) expect(lr[k]).toBeCloseTo(lrAt(k, steps, schedule), 7);
      const gm = (await exp.read('generate.margins')) as Float32Array;
      expect(Array.from(gm).every((m) => m >= 0)).toBe(true);
    });

    it('merged q_proj equals W + scale * B @ A of the last step', async () => {
      const exp = await open(name, 'expected.safetensors');
      const model = await open(name, 'model.safetensors');
      const steps = caseJson.optimizer_steps as number;
      const w = await model.read('model.layers.0.self_attn.q_proj.weight');
      const W = w instanceof Uint16Array ? Float32Array.from(w, bf16ToF32) : (w as Float32Array);
      const A = (await exp.read(`step${steps}.${peftName(0, 'q_proj', 'A')}`)) as Float32Array;
      const Bm = (await exp.read(`step${steps}.${peftName(0, 'q_proj', 'B')}`)) as Float32Array;
      const merged = (await exp.read('merged.model.layers.0.self_attn.q_proj.weight')) as Float32Array;
      const [out, inp] = projShape(cfg, 'q_proj');
      const r = adapterCfg.r as number;
      let worst = 0;
      for (let o = 0; o < out; o++)
        for (let i = 0; i < inp; i++) {
          let d = 0;
          for (let k = 0; k < r; k++) d += Bm[o * r + k] * A[k * inp + i];
          worst = Math.max(worst, Math.abs(W[o * inp + i] + caseJson.lora_scaling * d - merged[o * inp + i]));
        }
      expect(worst).toBeLessThan(1e-5);
    });
  });
}
