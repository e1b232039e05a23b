import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseQwen2Config, LORA_TARGETS } from '../src/core/config.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { baseParamCount, estimateMemory, loraParamCount } from '../src/ui/memory.ts';

const qwen05 = parseQwen2Config({
  model_type: 'qwen2',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  rope_theta: 1000000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
});

function numel(file: SafetensorsFile, filter: (name: string) => boolean): number {
  let n = 0;
  for (const t of file.tensors.values()) if (filter(t.name)) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

describe('parameter counts', () => {
  it('matches Qwen2.5-0.5B-Instruct as published (494,032,768) and PEFT r=8 on all seven projections (4,399,104)', () => {
    expect(baseParamCount(qwen05)).toBe(494_032_768);
    expect(loraParamCount(qwen05, 8, LORA_TARGETS)).toBe(4_399_104);
  });

  for (const name of ['tiny-f32', 'tiny-bf16-untied']) {
    it(`matches the tensors PyTorch wrote for golden/${name}`, async () => {
      const dir = `test/fixtures/golden/${name}`;
      const config = parseQwen2Config(readFileSync(`${dir}/config.json`, 'utf8'));
      const model = await SafetensorsFile.open(new Uint8Array(readFileSync(`${dir}/model.safetensors`)));
      const adapter = await SafetensorsFile.open(new Uint8Array(readFileSync(`${dir}/adapter_model.safetensors`)));
      const r = JSON.parse(readFileSync(`${dir}/adapter_config.json`, 'utf8')).r;
      expect(baseParamCount(config)).toBe(numel(model, () => true));
      expect(loraParamCount(config, r, LORA_TARGETS)).toBe(numel(adapter, () => true));
      expect(loraParamCount(config, r, ['q_proj'])).toBe(numel(adapter, (n) => n.includes('.q_proj.')));
    });
  }
});

describe('estimateMemory', () => {
  it('adds the parts it reports', () => {
    const e = estimateMemory({ config: qwen05, weightBytes: 2, r: 8, targets: LORA_TARGETS, batch: 4, seq: 384 });
    expect(e.weights).toBe(494_032_768 * 2);
    expect(e.lora).toBe(4_399_104 * 16);
    // (B, T, V) f32: 4 * 384 * 151936 * 4 bytes.
    expect(e.logits).toBe(933_494_784);
    expect(e.total).toBe(e.weights + e.lora + e.activations + 2 * e.logits);
  });

  it('grows activations linearly in the batch', () => {
    const one = estimateMemory({ config: qwen05, weightBytes: 2, r: 8, targets: LORA_TARGETS, batch: 1, seq: 128 });
    const two = estimateMemory({ config: qwen05, weightBytes: 2, r: 8, targets: LORA_TARGETS, batch: 2, seq: 128 });
    expect(two.activations).toBe(2 * one.activations);
    expect(two.weights).toBe(one.weights);
  });
});
