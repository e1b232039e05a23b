// Parameter counts for the model screen, exact (they match PyTorch's numel). Memory comes from
// the engine's own plan (planMemory in src/engine/lora-engine.ts).

import type { Qwen2Config, LoraTarget } from '../core/config.ts';

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
