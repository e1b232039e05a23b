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
    const B = 2, T = 32, R = 8, N = B * T, M = B * (T / 2); // microBatch: the second half of each row has labels
    const r = await runCountOnly({ preset: 'small', batch: B, seq: T }, () => {});
    const k = r.kernels as Kernels;
    const sum = (f: (o: number, i: number) => number) => LORA_TARGETS.reduce((a, t) => a + f(...projShape(cfg, t)), 0) * cfg.numLayers;
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

  it('makes the LoRA factors in the norms and SwiGLU and splits no K at the real shape (4 x 64 rows, 896-wide outputs)', async () => {
    const cfg = presetConfig('qwen2.5-0.5b'), L = cfg.numLayers;
    const r = await runCountOnly({ preset: 'qwen2.5-0.5b', batch: 4, seq: 64 }, () => {});
    const k = r.kernels as Kernels;
    const n = (name: string) => k[name]?.launches ?? 0;
    // every layer's two norms make q|k|v's and gate|up's xa; its ln2 backward makes o's dxa, and
    // the norm backward above each layer (the next layer's ln1, or the final norm) down's; only
    // layer 0's ln1 backward has no projection under it
    expect(n('rmsnorm.forward_xa')).toBe(2 * L);
    expect(n('rmsnorm.backward_dxa')).toBe(2 * L);
    expect(n('rmsnorm.backward')).toBe(1);
    // SwiGLU, a workgroup per row, makes down's xa forward and gate's and up's dxa backward; the
    // plain forward left is backward's remake of act (plan.ts savedKeys does not keep it)
    expect(n('swiglu.forward_xa')).toBe(L);
    expect(n('swiglu.backward_dxa')).toBe(L);
    expect(n('swiglu.forward')).toBe(L);
    // what is left standalone: xa of o (its input is attention's output, made a head at a time)
    // and dxa of q|k|v (their output gradients come out of attention and RoPE backward)
    expect(n('lora.xa_forward')).toBe(L);
    expect(n('lora.dxa_backward')).toBe(L);
    expect(n('lora.grads_backward')).toBe(4 * L);
    // 256 rows x 896 columns are 56 small tiles: enough to run whole, no reduce pass
    expect(n('matmul.forward_reduce') + n('matmul.backward_reduce')).toBe(0);
    // the LoRA factors' FLOPs moved into the norms: 2 N C R per adapted part (q, k, v, gate, up; o, down)
    const N = 4 * 64, C = cfg.hiddenSize, R = 8;
    const want = L * N * C * (5 * 4 + 2 * R * 7); // two norms forward, two backward, at ~5 N C each
    expect(Math.abs((k['rmsnorm.forward_xa'].gflop + k['rmsnorm.backward_dxa'].gflop) * 1e9 - want) / want).toBeLessThan(1e-5);
    const I = cfg.intermediateSize, wantS = L * N * I * (6 + 10 + 2 * R * 3); // down's xa, gate's and up's dxa
    expect(Math.abs((k['swiglu.forward_xa'].gflop + k['swiglu.backward_dxa'].gflop) * 1e9 - wantS) / wantS).toBeLessThan(1e-5);
  });
});
