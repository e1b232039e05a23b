// config.json of the two architectures Webtune trains: Qwen2 (Qwen2.5) and Qwen3. Qwen3 is
// Qwen2 with an explicit head_dim (so q_proj need not be square), no q/k/v bias, and RMSNorms
// over each head of q and k (q_norm, k_norm). Everything the engines need is derived here once,
// and every inconsistency is refused with the field that caused it.

import { ModelConfigError } from './errors.ts';
import type { TensorSource } from './safetensors.ts';
import type { WeightDType } from './dtype.ts';

export type Architecture = 'qwen2' | 'qwen3';

export interface Qwen2Config {
  architecture: Architecture;
  hiddenSize: number; // C
  intermediateSize: number; // I
  numLayers: number; // L
  numHeads: number; // NH
  numKvHeads: number; // NKV
  headDim: number; // HD: C / NH for Qwen2, config.json's head_dim for Qwen3
  /** q/k/v projections carry a bias (Qwen2; Qwen3's attention_bias, false in every release). */
  attentionBias: boolean;
  /** Qwen3: q_norm and k_norm (HD) applied to each head after the projection, before RoPE. */
  qkNorm: boolean;
  vocabSize: number; // V
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  torchDtype: string;
  maxPositionEmbeddings: number;
  bosTokenId?: number;
  eosTokenId?: number | number[];
}

function int(raw: Record<string, unknown>, field: string, fallback?: number): number {
  const v = raw[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new ModelConfigError(field, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function num(raw: Record<string, unknown>, field: string, fallback: number): number {
  const v = raw[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new ModelConfigError(field, `must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

export function parseQwen2Config(json: string | Record<string, unknown>): Qwen2Config {
  let raw: Record<string, unknown>;
  if (typeof json === 'string') {
    try {
      raw = JSON.parse(json);
    } catch (e) {
      throw new ModelConfigError('config.json', `not valid JSON (${(e as Error).message})`);
    }
  } else raw = json;
  const architecture = raw.model_type;
  if (architecture !== 'qwen2' && architecture !== 'qwen3')
    throw new ModelConfigError(
      'model_type',
      `Webtune trains Qwen2 and Qwen3 models (model_type "qwen2" or "qwen3"), this config says ${JSON.stringify(raw.model_type)}`,
    );
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') throw new ModelConfigError('hidden_act', `only "silu" is supported, got ${JSON.stringify(act)}`);
  const hiddenSize = int(raw, 'hidden_size');
  const numHeads = int(raw, 'num_attention_heads');
  const numKvHeads = int(raw, 'num_key_value_heads', numHeads);
  let headDim: number;
  if (architecture === 'qwen3') {
    // transformers' Qwen3Config defaults head_dim to 128, not hidden_size / heads
    headDim = int(raw, 'head_dim', 128);
    if (headDim % 2) throw new ModelConfigError('head_dim', `${headDim} must be even for rotary embeddings`);
  } else {
    if (hiddenSize % numHeads)
      throw new ModelConfigError('num_attention_heads', `${numHeads} does not divide hidden_size ${hiddenSize}`);
    headDim = hiddenSize / numHeads;
    if (headDim % 2)
      throw new ModelConfigError('num_attention_heads', `head dim ${headDim} must be even for rotary embeddings`);
  }
  if (numHeads % numKvHeads)
    throw new ModelConfigError('num_key_value_heads', `${numKvHeads} does not divide num_attention_heads ${numHeads}`);
  if (raw.rope_scaling) throw new ModelConfigError('rope_scaling', 'scaled rotary embeddings are not supported');
  if (raw.use_sliding_window === true)
    throw new ModelConfigError('use_sliding_window', 'sliding-window attention is not supported');
  const attentionBias = architecture === 'qwen2' ? true : raw.attention_bias === true;
  const torchDtype = String(raw.torch_dtype ?? 'bfloat16');
  return {
    architecture,
    hiddenSize,
    intermediateSize: int(raw, 'intermediate_size'),
    numLayers: int(raw, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    attentionBias,
    qkNorm: architecture === 'qwen3',
    vocabSize: int(raw, 'vocab_size'),
    ropeTheta: num(raw, 'rope_theta', 10000),
    rmsNormEps: num(raw, 'rms_norm_eps', 1e-6),
    tieWordEmbeddings: raw.tie_word_embeddings === undefined ? false : Boolean(raw.tie_word_embeddings),
    torchDtype,
    maxPositionEmbeddings: int(raw, 'max_position_embeddings', 32768),
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : undefined,
    eosTokenId: (raw.eos_token_id as number | number[] | undefined) ?? undefined,
  };
}

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export function moduleOf(target: LoraTarget): 'self_attn' | 'mlp' {
  return ['q_proj', 'k_proj', 'v_proj', 'o_proj'].includes(target) ? 'self_attn' : 'mlp';
}

/** [out, in] of each projection. */
export function projShape(cfg: Qwen2Config, target: LoraTarget): [number, number] {
  const C = cfg.hiddenSize,
    I = cfg.intermediateSize,
    Q = cfg.numHeads * cfg.headDim,
    KV = cfg.numKvHeads * cfg.headDim;
  switch (target) {
    case 'q_proj':
      return [Q, C];
    case 'k_proj':
    case 'v_proj':
      return [KV, C];
    case 'o_proj':
      return [C, Q];
    case 'gate_proj':
    case 'up_proj':
      return [I, C];
    case 'down_proj':
      return [C, I];
  }
}

/** Every base tensor name with its expected shape, in the order the model uses them. */
export function expectedTensors(cfg: Qwen2Config): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const C = cfg.hiddenSize;
  m.set('model.embed_tokens.weight', [cfg.vocabSize, C]);
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}`;
    m.set(`${p}.input_layernorm.weight`, [C]);
    for (const t of LORA_TARGETS) {
      const [o, i] = projShape(cfg, t);
      m.set(`${p}.${moduleOf(t)}.${t}.weight`, [o, i]);
      if (cfg.attentionBias && (t === 'q_proj' || t === 'k_proj' || t === 'v_proj'))
        m.set(`${p}.self_attn.${t}.bias`, [o]);
    }
    if (cfg.qkNorm) {
      m.set(`${p}.self_attn.q_norm.weight`, [cfg.headDim]);
      m.set(`${p}.self_attn.k_norm.weight`, [cfg.headDim]);
    }
    m.set(`${p}.post_attention_layernorm.weight`, [C]);
  }
  m.set('model.norm.weight', [C]);
  if (!cfg.tieWordEmbeddings) m.set('lm_head.weight', [cfg.vocabSize, C]);
  return m;
}

/** Checks names, shapes and one common dtype; returns the weight dtype the engines will keep. */
export function validateWeights(cfg: Qwen2Config, src: TensorSource): WeightDType {
  let dtype: string | undefined;
  for (const [name, shape] of expectedTensors(cfg)) {
    const t = src.tensors.get(name);
    if (!t) throw new ModelConfigError(name, 'missing from the weights');
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ModelConfigError(name, `shape [${t.shape}] does not match config (expected [${shape}])`);
    if (!['F32', 'F16', 'BF16'].includes(t.dtype))
      throw new ModelConfigError(name, `dtype ${t.dtype} is not a float type`);
    if (name.endsWith('.weight') && shape.length === 2) {
      if (dtype && dtype !== t.dtype)
        throw new ModelConfigError(name, `dtype ${t.dtype} differs from the other weights (${dtype})`);
      dtype = t.dtype;
    }
  }
  return (dtype ?? 'BF16').toLowerCase() as WeightDType;
}

export function paramCount(cfg: Qwen2Config): number {
  let n = 0;
  for (const s of expectedTensors(cfg).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}
