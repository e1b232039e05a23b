// Model shapes the generator knows. Each is a Qwen2 architecture; only the sizes differ.
// `keepTokens` is K, the regular tokens kept from Qwen's vocabulary (see src/tokenizer/derive.ts);
// null keeps Qwen2.5's full tokenizer.

export interface ModelPreset {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocabSize: number;
  keepTokens: number | null;
  maxPositions: number;
}

export const PRESETS = {
  // K = 8189 puts the three specials at 8189..8191, so the vocabulary is exactly 8192 with no
  // padding rows. Halving K only saves ~10% of the sample prompts' tokens' cost while splitting
  // more JSON keys; doubling it doubles the lm_head for ~14% shorter prompts (Chinese stays
  // byte-level until K ~ 100k either way). Dimensions match the tiny-f32 golden case, whose
  // shapes the engines are already checked on.
  tiny: { hidden: 64, intermediate: 176, layers: 2, heads: 4, kvHeads: 2, vocabSize: 8192, keepTokens: 8189, maxPositions: 4096 },
  small: { hidden: 256, intermediate: 704, layers: 4, heads: 4, kvHeads: 2, vocabSize: 8192, keepTokens: 8189, maxPositions: 4096 },
  mid: { hidden: 512, intermediate: 1408, layers: 8, heads: 8, kvHeads: 2, vocabSize: 32000, keepTokens: 31997, maxPositions: 32768 },
  'qwen2.5-0.5b': { hidden: 896, intermediate: 4864, layers: 24, heads: 14, kvHeads: 2, vocabSize: 151936, keepTokens: null, maxPositions: 32768 },
} satisfies Record<string, ModelPreset>;

export type PresetName = keyof typeof PRESETS;
