// The models the Model step offers by name, with their published config.json written out as
// data, so the page can plan memory and say whether a model fits before anything downloads
// (and works offline). Any other repo id still loads; its config is read first.

import { parseQwen2Config, paramCount, type Qwen2Config } from './config.ts';

export interface CatalogModel {
  /** Hugging Face / ModelScope repo id. */
  repo: string;
  /** config.json as published (the fields the engines read, plus the usual bookkeeping). */
  config: Record<string, unknown>;
  /**
   * The checkpoint stores lm_head.weight although tie_word_embeddings is true (Qwen3-0.6B and
   * -1.7B do): the download is one embedding larger than the parameter count says.
   */
  storesTiedHead: boolean;
  /** Hybrid thinking template: Webtune renders it with thinking off (an empty think block). */
  thinking: boolean;
}

const QWEN2_COMMON = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_act: 'silu',
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  initializer_range: 0.02,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const QWEN3_COMMON = {
  architectures: ['Qwen3ForCausalLM'],
  model_type: 'qwen3',
  hidden_act: 'silu',
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  initializer_range: 0.02,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

export const CATALOG: readonly CatalogModel[] = [
  {
    repo: 'Qwen/Qwen2.5-0.5B-Instruct',
    config: {
      ...QWEN2_COMMON,
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      max_position_embeddings: 32768,
      max_window_layers: 21,
    },
    storesTiedHead: false,
    thinking: false,
  },
  {
    repo: 'Qwen/Qwen2.5-1.5B-Instruct',
    config: {
      ...QWEN2_COMMON,
      hidden_size: 1536,
      intermediate_size: 8960,
      num_hidden_layers: 28,
      num_attention_heads: 12,
      num_key_value_heads: 2,
      max_position_embeddings: 32768,
      max_window_layers: 21,
    },
    storesTiedHead: false,
    thinking: false,
  },
  {
    repo: 'Qwen/Qwen3-0.6B',
    config: {
      ...QWEN3_COMMON,
      hidden_size: 1024,
      intermediate_size: 3072,
      num_hidden_layers: 28,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      max_position_embeddings: 40960,
      max_window_layers: 28,
      rope_theta: 1000000,
    },
    storesTiedHead: true,
    thinking: true,
  },
  {
    repo: 'Qwen/Qwen3-1.7B',
    config: {
      ...QWEN3_COMMON,
      hidden_size: 2048,
      intermediate_size: 6144,
      num_hidden_layers: 28,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      max_position_embeddings: 40960,
      max_window_layers: 28,
      rope_theta: 1000000,
    },
    storesTiedHead: true,
    thinking: true,
  },
  {
    repo: 'Qwen/Qwen3-4B-Instruct-2507',
    config: {
      ...QWEN3_COMMON,
      hidden_size: 2560,
      intermediate_size: 9728,
      num_hidden_layers: 36,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      max_position_embeddings: 262144,
      max_window_layers: 36,
      rope_theta: 5000000,
    },
    storesTiedHead: false,
    thinking: false,
  },
];

/** tokenizer.json, tokenizer_config.json and the small JSON files: about 11 MB for Qwen's vocabulary. */
const TOKENIZER_FILES_BYTES = 11 * 2 ** 20;

export function catalogModel(repo: string): CatalogModel | undefined {
  const r = repo.trim().toLowerCase();
  return CATALOG.find((m) => m.repo.toLowerCase() === r);
}

export function catalogConfig(m: CatalogModel): Qwen2Config {
  return parseQwen2Config(m.config);
}

/** Bytes a download fetches: BF16 safetensors (a stored tied head included) plus the tokenizer files. */
export function downloadBytes(m: CatalogModel): number {
  const cfg = catalogConfig(m);
  const params = paramCount(cfg) + (m.storesTiedHead ? cfg.vocabSize * cfg.hiddenSize : 0);
  return params * 2 + TOKENIZER_FILES_BYTES;
}
