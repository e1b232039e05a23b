import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseQwen2Config, paramCount, LORA_TARGETS, type LoraTarget, type Qwen2Config } from '../src/core/config.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { loraLayout, planMemory } from '../src/engine/plan.ts';

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

const baseParamCount = paramCount;
/** LoRA parameters as the engine lays them out: r x (in + out) per adapted projection. */
function loraParamCount(cfg: Qwen2Config, r: number, targets: readonly LoraTarget[]): number {
  const lora = { r, alpha: r, dropout: 0, targets: [...targets], rslora: false };
  return loraLayout(cfg, lora).slots.reduce((n, s) => n + r * (s.In + s.O), 0);
}

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

describe('planMemory (the engine plan the memory card shows)', () => {
  const lora = { r: 8, alpha: 32, dropout: 0.1, targets: [...LORA_TARGETS], rslora: false };

  it('counts every base weight at 2 bytes and the LoRA state at 16 bytes per parameter', () => {
    const p = planMemory('webgpu', qwen05, { maxBatch: 4, maxSeq: 384, lora }, 'bf16');
    expect(p.parts.weights).toBe(494_032_768 * 2);
    // params, grads and two Adam moments in f32, padded to 256-byte views, plus the norm scalar
    expect(p.parts.lora).toBeGreaterThanOrEqual(4_399_104 * 16);
    expect(p.parts.lora).toBeLessThan(4_399_104 * 16 * 1.01);
    expect(p.total).toBe(Object.values(p.parts).reduce((a, b) => a + b, 0));
  });

  it('fits Qwen2.5-0.5B, batch 4 x 384, in 2 GiB on WebGPU with gradient checkpointing', () => {
    const p = planMemory('webgpu', qwen05, { maxBatch: 4, maxSeq: 384, lora }, 'bf16');
    expect(p.recompute).toBe(true);
    expect(p.total).toBeLessThan(2 * 2 ** 30);
  });

  it('keeps every layer on the CPU only while that costs under 1 GiB', () => {
    expect(planMemory('cpu', qwen05, { maxBatch: 4, maxSeq: 64, lora }, 'bf16').recompute).toBe(false);
    expect(planMemory('cpu', qwen05, { maxBatch: 4, maxSeq: 384, lora }, 'bf16').recompute).toBe(true);
  });

  it('counts NF4 projections at 36 bytes per 64 values and keeps the rest 16-bit: Qwen2.5-0.5B, batch 4 x 384, fits 1 GiB', () => {
    const [C, I, KV, L] = [896, 4864, 128, 24];
    const projections = L * (2 * C * C + 2 * KV * C + 3 * C * I);
    const p = planMemory('webgpu', qwen05, { maxBatch: 4, maxSeq: 384, lora, quant: 'nf4' }, 'bf16');
    expect(p.parts.weights).toBe((494_032_768 - projections) * 2 + (projections / 64) * 36);
    // an NF4 base keeps no layer's activations on WebGPU (plan.ts GPU_KEEP_BUDGET): the same
    // checkpointing plan as 16 bits with recompute on, but for the weights
    expect([p.recompute, p.keepTokens]).toEqual([true, 0]);
    const full = planMemory('webgpu', qwen05, { maxBatch: 4, maxSeq: 384, lora, recompute: true }, 'bf16');
    expect({ ...p.parts, weights: 0 }).toEqual({ ...full.parts, weights: 0 });
    expect(p.total).toBeLessThanOrEqual(2 ** 30);
    expect(full.total).toBeGreaterThan(2 ** 30);
  });

  it('refuses NF4 for a shape whose projections do not fill whole 64-value blocks, naming the projection', () => {
    const odd = parseQwen2Config({
      model_type: 'qwen2',
      hidden_size: 36,
      intermediate_size: 100,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      vocab_size: 50,
    });
    expect(() => planMemory('cpu', odd, { maxBatch: 1, maxSeq: 8, lora, quant: 'nf4' }, 'f32')).toThrow(
      /q_proj \(36 x 36\).*not a multiple of the NF4 block of 64/,
    );
  });
});
