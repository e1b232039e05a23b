// Qwen2 config parsing and weight validation against hand-computed shapes: the published
// Qwen2.5-0.5B config, the golden cases' configs, and refusals that must name their field.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  parseQwen2Config,
  validateWeights,
  expectedTensors,
  paramCount,
  projShape,
  type Qwen2Config,
} from '../src/core/config.ts';
import { SafetensorsFile, encodeSafetensors, concatParts, type TensorToWrite } from '../src/core/safetensors.ts';
import { ModelConfigError } from '../src/core/errors.ts';

// Qwen/Qwen2.5-0.5B-Instruct config.json as published.
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.43.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

// Qwen/Qwen3-0.6B config.json as published (hybrid thinking model, head_dim 128 > 1024 / 16).
const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.51.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

function refusal(fn: () => unknown): ModelConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelConfigError);
    return e as ModelConfigError;
  }
  throw new Error('expected a ModelConfigError');
}

describe('parseQwen2Config', () => {
  it('reads the Qwen2.5-0.5B config', () => {
    const c = parseQwen2Config(JSON.stringify(QWEN25_05B));
    expect(c).toMatchObject({
      hiddenSize: 896,
      intermediateSize: 4864,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      vocabSize: 151936,
      ropeTheta: 1e6,
      rmsNormEps: 1e-6,
      tieWordEmbeddings: true,
      torchDtype: 'bfloat16',
      maxPositionEmbeddings: 32768,
      bosTokenId: 151643,
      eosTokenId: 151645,
    });
    // k/v project to 2 kv heads x 64 = 128.
    expect(projShape(c, 'k_proj')).toEqual([128, 896]);
    expect(projShape(c, 'down_proj')).toEqual([896, 4864]);
    // By hand: embed 151936*896 = 136,134,656; per layer q,o 2*896^2 + k,v 2*128*896 + biases 896+2*128
    // + mlp 3*4864*896 + norms 2*896 = 14,912,384; x24 = 357,897,216; + final norm 896 (lm_head tied).
    expect(paramCount(c)).toBe(494_032_768);
    const t = expectedTensors(c);
    expect(t.has('lm_head.weight')).toBe(false);
    expect(t.get('model.layers.23.self_attn.v_proj.bias')).toEqual([128]);
    expect(t.size).toBe(1 + 24 * 12 + 1);
  });

  it('reads both golden configs', () => {
    const f32 = parseQwen2Config(
      readFileSync(new URL('./fixtures/golden/tiny-f32/config.json', import.meta.url), 'utf8'),
    );
    expect(f32).toMatchObject({
      hiddenSize: 64,
      intermediateSize: 176,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      vocabSize: 320,
      tieWordEmbeddings: true,
      torchDtype: 'float32',
    });
    const bf16 = parseQwen2Config(
      readFileSync(new URL('./fixtures/golden/tiny-bf16-untied/config.json', import.meta.url), 'utf8'),
    );
    expect(bf16).toMatchObject({
      hiddenSize: 96,
      numHeads: 6,
      numKvHeads: 2,
      headDim: 16,
      numLayers: 3,
      tieWordEmbeddings: false,
      torchDtype: 'bfloat16',
    });
    expect(expectedTensors(bf16).get('lm_head.weight')).toEqual([320, 96]);
  });

  it('reads the Qwen3-0.6B config: explicit head_dim, no q/k/v bias, q_norm and k_norm', () => {
    const c = parseQwen2Config(QWEN3_06B);
    expect(c).toMatchObject({
      architecture: 'qwen3',
      hiddenSize: 1024,
      numHeads: 16,
      numKvHeads: 8,
      headDim: 128,
      attentionBias: false,
      qkNorm: true,
      maxPositionEmbeddings: 40960,
    });
    // 16 heads x 128 = 2048 queries from 1024 inputs; o_proj maps them back.
    expect(projShape(c, 'q_proj')).toEqual([2048, 1024]);
    expect(projShape(c, 'o_proj')).toEqual([1024, 2048]);
    expect(projShape(c, 'k_proj')).toEqual([1024, 1024]);
    const t = expectedTensors(c);
    expect(t.get('model.layers.27.self_attn.q_norm.weight')).toEqual([128]);
    expect(t.get('model.layers.27.self_attn.k_norm.weight')).toEqual([128]);
    expect(t.has('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    // By hand: embed 151936*1024 = 155,582,464; per layer q,o 2*2048*1024 + k,v 2*1024*1024
    // + mlp 3*3072*1024 + norms 2*1024 + q/k norms 2*128 = 15,730,944; x28 = 440,466,432; + final norm 1024.
    expect(paramCount(c)).toBe(596_049_920);
    expect(t.size).toBe(1 + 28 * 11 + 1);
  });

  it('reads the qwen3-bf16 golden config', () => {
    const c = parseQwen2Config(
      readFileSync(new URL('./fixtures/golden/qwen3-bf16/config.json', import.meta.url), 'utf8'),
    );
    expect(c).toMatchObject({
      architecture: 'qwen3',
      hiddenSize: 64,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 32,
      qkNorm: true,
      attentionBias: false,
    });
    expect(projShape(c, 'q_proj')).toEqual([128, 64]);
  });

  it("Qwen3 takes transformers' head_dim default of 128; Qwen2 ignores head_dim", () => {
    const { head_dim, ...noHeadDim } = QWEN3_06B;
    expect(parseQwen2Config(noHeadDim).headDim).toBe(128);
    expect(parseQwen2Config({ ...QWEN3_06B, head_dim: 64 }).headDim).toBe(64);
    expect(parseQwen2Config({ ...QWEN25_05B, head_dim: 128 })).toMatchObject({
      architecture: 'qwen2',
      headDim: 64,
      attentionBias: true,
      qkNorm: false,
    });
    expect(parseQwen2Config({ ...QWEN3_06B, attention_bias: true }).attentionBias).toBe(true);
    expect(refusal(() => parseQwen2Config({ ...QWEN3_06B, head_dim: 127 })).field).toBe('head_dim');
    expect(refusal(() => parseQwen2Config({ ...QWEN3_06B, use_sliding_window: true })).field).toBe(
      'use_sliding_window',
    );
  });

  it('applies HF defaults for omitted optional fields', () => {
    const { rope_theta, rms_norm_eps, num_key_value_heads, tie_word_embeddings, max_position_embeddings, ...rest } =
      QWEN25_05B;
    const c = parseQwen2Config(rest);
    expect(c).toMatchObject({
      ropeTheta: 10000,
      rmsNormEps: 1e-6,
      numKvHeads: 14,
      tieWordEmbeddings: false,
      maxPositionEmbeddings: 32768,
    });
  });

  it('refuses other architectures by model_type', () => {
    const e = refusal(() => parseQwen2Config({ ...QWEN25_05B, model_type: 'llama' }));
    expect(e.field).toBe('model_type');
    expect(e.message).toContain('llama');
  });

  it('refuses heads that do not divide hidden, and kv heads that do not divide heads', () => {
    expect(refusal(() => parseQwen2Config({ ...QWEN25_05B, num_attention_heads: 13 })).field).toBe(
      'num_attention_heads',
    );
    const kv = refusal(() => parseQwen2Config({ ...QWEN25_05B, num_key_value_heads: 3 }));
    expect(kv.field).toBe('num_key_value_heads');
    expect(kv.message).toMatch(/3 does not divide num_attention_heads 14/);
  });

  it('refuses bad values with the field named', () => {
    expect(refusal(() => parseQwen2Config({ ...QWEN25_05B, hidden_size: 896.5 })).field).toBe('hidden_size');
    expect(refusal(() => parseQwen2Config({ ...QWEN25_05B, vocab_size: undefined })).field).toBe('vocab_size');
    expect(refusal(() => parseQwen2Config({ ...QWEN25_05B, rope_theta: -1 })).field).toBe('rope_theta');
    expect(refusal(() => parseQwen2Config({ ...QWEN25_05B, hidden_act: 'gelu' })).field).toBe('hidden_act');
    expect(refusal(() => parseQwen2Config({ ...QWEN25_05B, rope_scaling: { type: 'yarn', factor: 4 } })).field).toBe(
      'rope_scaling',
    );
    expect(refusal(() => parseQwen2Config('{"model_type": "qwen2",')).field).toBe('config.json');
  });
});

describe('validateWeights', () => {
  // Small enough to build every tensor in memory: C=8, 2 heads of 4, 1 kv head, I=12, V=16.
  const SMALL = {
    model_type: 'qwen2',
    hidden_size: 8,
    intermediate_size: 12,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    vocab_size: 16,
    tie_word_embeddings: false,
  };

  async function weights(
    cfg: Qwen2Config,
    dtype: 'F32' | 'BF16',
    edit: (t: TensorToWrite[]) => TensorToWrite[] = (t) => t,
  ): Promise<SafetensorsFile> {
    const tensors: TensorToWrite[] = [...expectedTensors(cfg)].map(([name, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return { name, dtype, shape, data: dtype === 'F32' ? new Float32Array(n) : new Uint16Array(n) };
    });
    return SafetensorsFile.open(concatParts(encodeSafetensors(edit(tensors))), 'model.safetensors');
  }

  it('accepts complete weights and reports their dtype', async () => {
    const cfg = parseQwen2Config(SMALL);
    // Hand count of the untied layout: embed + lm_head + per layer 12 tensors + final norm.
    expect(expectedTensors(cfg).size).toBe(2 + 2 * 12 + 1);
    expect(expectedTensors(cfg).get('model.layers.1.self_attn.k_proj.weight')).toEqual([4, 8]);
    expect(validateWeights(cfg, await weights(cfg, 'F32'))).toBe('f32');
    expect(validateWeights(cfg, await weights(cfg, 'BF16'))).toBe('bf16');
  });

  it('needs lm_head only when embeddings are not tied', async () => {
    const tied = parseQwen2Config({ ...SMALL, tie_word_embeddings: true });
    const untied = parseQwen2Config(SMALL);
    const noHead = await weights(tied, 'F32');
    expect(validateWeights(tied, noHead)).toBe('f32');
    expect(refusal(() => validateWeights(untied, noHead)).field).toBe('lm_head.weight');
  });

  it('names a missing tensor', async () => {
    const cfg = parseQwen2Config(SMALL);
    const st = await weights(cfg, 'F32', (t) => t.filter((x) => x.name !== 'model.layers.1.mlp.up_proj.weight'));
    const e = refusal(() => validateWeights(cfg, st));
    expect(e.field).toBe('model.layers.1.mlp.up_proj.weight');
    expect(e.message).toMatch(/missing/);
  });

  it('names a tensor whose shape does not match the config', async () => {
    const cfg = parseQwen2Config(SMALL);
    const st = await weights(cfg, 'F32', (t) =>
      t.map((x) =>
        x.name === 'model.layers.0.self_attn.q_proj.weight' ? { ...x, shape: [8, 4], data: new Float32Array(32) } : x,
      ),
    );
    const e = refusal(() => validateWeights(cfg, st));
    expect(e.field).toBe('model.layers.0.self_attn.q_proj.weight');
    expect(e.message).toMatch(/\[8,4\].*expected \[8,8\]/);
  });

  it('names a weight whose dtype differs from the rest', async () => {
    const cfg = parseQwen2Config(SMALL);
    const st = await weights(cfg, 'F32', (t) =>
      t.map((x) =>
        x.name === 'model.layers.1.mlp.down_proj.weight' ? { ...x, dtype: 'BF16', data: new Uint16Array(96) } : x,
      ),
    );
    expect(refusal(() => validateWeights(cfg, st)).field).toBe('model.layers.1.mlp.down_proj.weight');
  });
});
