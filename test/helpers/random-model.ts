// A Qwen2-shaped model with seeded random BF16 weights, in memory: for tests that need a base
// model but no files.
import { parseQwen2Config, expectedTensors, type Qwen2Config } from '../../src/core/config.ts';
import { f32ToBf16 } from '../../src/core/dtype.ts';
import { hash32 } from '../../src/engine/ops.ts';
import type { WeightReader } from '../../src/engine/engine.ts';

export function randomModel(
  overrides: Record<string, unknown> = {},
  seed = 1,
): { cfg: Qwen2Config; weights: WeightReader } {
  const cfg = parseQwen2Config({
    model_type: 'qwen2',
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 96,
    rope_theta: 1e6,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
    ...overrides,
  });
  const shapes = expectedTensors(cfg);
  const names = [...shapes.keys()];
  return {
    cfg,
    weights: {
      dtype: 'bf16',
      async read(name: string) {
        const shape = shapes.get(name)!;
        const n = shape.reduce((a, b) => a * b, 1);
        const key = hash32(seed, names.indexOf(name));
        const isNorm = name.endsWith('norm.weight');
        const std = isNorm ? 0.05 : shape.length === 1 ? 0.1 : 1 / Math.sqrt(shape[shape.length - 1]);
        return Uint16Array.from({ length: n }, (_, i) =>
          f32ToBf16((isNorm ? 1 : 0) + ((hash32(key, i) / 4294967296) * 2 - 1) * std * 1.7),
        );
      },
    },
  };
}
