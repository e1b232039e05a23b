// Model shapes the generator knows: Qwen2 unless `arch` says qwen3 (then with its explicit
// `headDim`, q_norm/k_norm and no q/k/v bias). `keepTokens` is K, the regular tokens kept from
// Qwen's vocabulary (see src/tokenizer/derive.ts); null keeps the full tokenizer (Qwen2.5's
// for qwen2 presets, Qwen3's for qwen3 ones).

export interface ModelPreset {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocabSize: number;
  keepTokens: number | null;
  maxPositions: number;
  arch?: 'qwen2' | 'qwen3';
  headDim?: number;
}

export const PRESETS = {
  // K = 8189 puts the three specials at 8189..8191, so the vocabulary is exactly 8192 with no
  // padding rows. Halving K only saves ~10% of the sample prompts' tokens' cost while splitting
  // more JSON keys; doubling it doubles the lm_head for ~14% shorter prompts (Chinese stays
  // byte-level until K ~ 100k either way). Dimensions match the tiny-f32 golden case, whose
  // shapes the engines are already checked on.
  tiny: {
    hidden: 64,
    intermediate: 176,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    vocabSize: 8192,
    keepTokens: 8189,
    maxPositions: 4096,
  },
  small: {
    hidden: 256,
    intermediate: 704,
    layers: 4,
    heads: 4,
    kvHeads: 2,
    vocabSize: 8192,
    keepTokens: 8189,
    maxPositions: 4096,
  },
  mid: {
    hidden: 512,
    intermediate: 1408,
    layers: 8,
    heads: 8,
    kvHeads: 2,
    vocabSize: 32000,
    keepTokens: 31997,
    maxPositions: 32768,
  },
  'qwen2.5-0.5b': {
    hidden: 896,
    intermediate: 4864,
    layers: 24,
    heads: 14,
    kvHeads: 2,
    vocabSize: 151936,
    keepTokens: null,
    maxPositions: 32768,
  },
  // Qwen3 at the tiny preset's size, head_dim 32 (q_proj 128 x 64) like the qwen3-bf16 golden case
  'qwen3-tiny': {
    arch: 'qwen3',
    hidden: 64,
    intermediate: 176,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    headDim: 32,
    vocabSize: 8192,
    keepTokens: 8189,
    maxPositions: 4096,
  },
  // Qwen3-4B-Instruct-2507's widths and vocabulary with 2 of its 36 layers: the big-tensor and NF4 checks
  'qwen3-4b-2l': {
    arch: 'qwen3',
    hidden: 2560,
    intermediate: 9728,
    layers: 2,
    heads: 32,
    kvHeads: 8,
    headDim: 128,
    vocabSize: 151936,
    keepTokens: null,
    maxPositions: 262144,
  },
} satisfies Record<string, ModelPreset>;

export type PresetName = keyof typeof PRESETS;
