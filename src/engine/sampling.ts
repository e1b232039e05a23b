// Choosing the next token from logits: greedy, temperature, top-k, top-p. Runs on the host for
// both engines (one logits read per token).

import type { GenerateOptions } from './engine.ts';

/**
 * `random` is a u32 used to draw when sampling. Margin = top-1 minus top-2 logit among the
 * candidates. `allowed` (a constraint's ids) limits the candidates; null means every id.
 */
export function sampleToken(
  logits: Float32Array,
  opts: GenerateOptions,
  random: number,
  allowed: Int32Array | null = null,
): { token: number; margin: number } {
  let best: number,
    second = -Infinity;
  if (allowed) {
    best = allowed[0];
    for (let k = 1; k < allowed.length; k++) {
      const i = allowed[k];
      if (logits[i] > logits[best]) {
        second = logits[best];
        best = i;
      } else if (logits[i] > second) second = logits[i];
    }
  } else {
    best = 0;
    for (let i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        second = logits[best];
        best = i;
      } else if (logits[i] > second) second = logits[i];
    }
  }
  const margin = logits[best] - second;
  if (opts.temperature <= 0) return { token: best, margin };
  let order = allowed ? Array.from(allowed) : Array.from(logits.keys());
  order.sort((a, b) => logits[b] - logits[a]);
  if (opts.topK > 0) order = order.slice(0, opts.topK);
  const max = logits[order[0]];
  let probs = order.map((i) => Math.exp((logits[i] - max) / opts.temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (opts.topP < 1) {
    let acc = 0,
      keep = 0;
    while (keep < probs.length && acc < opts.topP * total) acc += probs[keep++];
    order = order.slice(0, Math.max(1, keep));
    probs = probs.slice(0, Math.max(1, keep));
    total = probs.reduce((a, b) => a + b, 0);
  }
  let u = (random / 4294967296) * total;
  for (let k = 0; k < order.length; k++) {
    u -= probs[k];
    if (u <= 0) return { token: order[k], margin };
  }
  return { token: order[order.length - 1], margin };
}
