// What the chosen settings will cost before anything is allocated, so the user can shrink the
// batch or max length before the engine refuses. Parameter counts are exact (they match
// PyTorch's numel); activation bytes are an upper-bound estimate of what backward keeps.

import type { Qwen2Config, LoraTarget } from '../core/config.ts';

export interface MemoryInput {
  config: Qwen2Config;
  weightBytes: number; // per base parameter: 2 for bf16/f16, 4 for f32
  r: number;
  targets: readonly LoraTarget[];
  batch: number; // B
  seq: number; // T
}

export interface MemoryEstimate {
  baseParams: number;
  loraParams: number;
  weights: number;
  lora: number;
  activations: number;
  /** One (B, T, V) f32 buffer: the largest single allocation, checked against maxBufferSize. */
  logits: number;
  total: number;
}

/** (in, out) features of each projection, as nn.Linear(in, out). */
export function projectionDims(c: Qwen2Config, target: LoraTarget): [number, number] {
  const kv = c.numKvHeads * c.headDim;
  switch (target) {
    case 'q_proj':
      return [c.hiddenSize, c.hiddenSize];
    case 'k_proj':
    case 'v_proj':
      return [c.hiddenSize, kv];
    case 'o_proj':
      return [c.hiddenSize, c.hiddenSize];
    case 'gate_proj':
    case 'up_proj':
      return [c.hiddenSize, c.intermediateSize];
    case 'down_proj':
      return [c.intermediateSize, c.hiddenSize];
  }
}

export function baseParamCount(c: Qwen2Config): number {
  const C = c.hiddenSize;
  const kv = c.numKvHeads * c.headDim;
  const attention = C * C + C + 2 * (C * kv + kv) + C * C; // q, k, v carry biases in Qwen2
  const mlp = 3 * C * c.intermediateSize;
  const norms = 2 * C;
  const embed = c.vocabSize * C;
  return embed + c.numLayers * (attention + mlp + norms) + C + (c.tieWordEmbeddings ? 0 : embed);
}

/** A (r, in) + B (out, r) per adapted projection per layer. */
export function loraParamCount(c: Qwen2Config, r: number, targets: readonly LoraTarget[]): number {
  let perLayer = 0;
  for (const t of targets) {
    const [inF, outF] = projectionDims(c, t);
    perLayer += r * (inF + outF);
  }
  return perLayer * c.numLayers;
}

export function estimateMemory(m: MemoryInput): MemoryEstimate {
  const { config: c, batch: B, seq: T } = m;
  const baseParams = baseParamCount(c);
  const loraParams = loraParamCount(c, m.r, m.targets);
  const weights = baseParams * m.weightBytes;
  // f32 weight, gradient and the two AdamW moments.
  const lora = loraParams * 4 * 4;
  // Per token and layer, backward keeps the normed inputs, q/k/v, attention output, the MLP's
  // gate/up/activation and the residual stream, plus (NH, T) attention probabilities.
  const C = c.hiddenSize;
  const perTokenLayer = 8 * C + 3 * c.intermediateSize + c.numHeads * T;
  const activations = B * T * c.numLayers * perTokenLayer * 4;
  const logits = B * T * c.vocabSize * 4;
  // Logits and their gradient live at the same time.
  const total = weights + lora + activations + 2 * logits;
  return { baseParams, loraParams, weights, lora, activations, logits, total };
}
