// bench --count-only (scripts/gpu-count.ts): the step recorded on a device that only counts. Its
// numbers are checked against what the model's shape alone says: the base matmuls' FLOPs per
// micro-batch (forward and the input gradient: 2 N In O per projection and layer, plus the LoRA
// B epilogue 2 N R O), the cross-entropy's (2 M C V each way, M label rows), what a greedy decoded
// token reads back (the GPU's pick: 2 floats, no logits), and the launches against test/gpu-bench-counts' bound, where the
// same step is counted at a real Dawn device.

import { describe, expect, it } from 'vitest';
import { LORA_TARGETS, projShape } from '../src/core/config.ts';
import { presetConfig } from '../scripts/bench-core.ts';
import { runCountOnly } from '../scripts/gpu-count.ts';

type Kernels = Record<string, { launches: number; gflop: number }>;

describe('bench --count-only', () => {
  it('counts the step and a decoded token of a preset, without a GPU, as its shape says', async () => {
    const cfg = presetConfig('small');
    const B = 2,
      T = 32,
      R = 8,
      N = B * T,
      M = B * (T / 2); // microBatch: the second half of each row has labels
    const r = await runCountOnly({ preset: 'small', batch: B, seq: T }, () => {});
    const k = r.kernels as Kernels;
    const sum = (f: (o: number, i: number) => number) =>
      LORA_TARGETS.reduce((a, t) => a + f(...projShape(cfg, t)), 0) * cfg.numLayers;
    const gemm = sum((o, i) => 2 * N * i * o);
    const close = (got: number, want: number) => expect(Math.abs(got * 1e9 - want) / want).toBeLessThan(1e-5);
    close(k['matmul.forward'].gflop, gemm + sum((o) => 2 * N * R * o));
    close(k['matmul.backward'].gflop, gemm + sum((_, i) => 2 * N * R * i));
    close(k['crossentropy.logits_forward'].gflop, 2 * M * cfg.hiddenSize * cfg.vocabSize);
    expect(r.decode_read_back_bytes_per_token).toBe(8); // greedy: the GPU's pick (index, margin), not V logits
    const launches = Object.values(k).reduce((a, x) => a + x.launches, 0);
    expect(r.dispatches_per_micro_batch).toBe(launches);
    expect(launches).toBeLessThanOrEqual(45 * cfg.numLayers + 40);
    expect(r.dispatches_per_step).toBe(3); // grad norm (2) and AdamW
    expect(r.decode_launches_per_token as number).toBeGreaterThan(cfg.numLayers);
  });
});
