// Packed against padded: the same micro-batches trained on two engines of one kind, one packing
// (engine/packing.ts) and one computing on the padded layout. With dropout 0 the two compute the
// same function, so losses, gradient norms and every LoRA gradient must agree to float rounding;
// the RoPE spy shows the packed engine really took the packed path (positions given, B = 1).

import { expect } from 'vitest';
import { parseQwen2Config, type Qwen2Config } from '../../src/core/config.ts';
import type { Engine, MicroBatch } from '../../src/engine/engine.ts';
import { hash32 } from '../../src/engine/ops.ts';
import { DEFAULT_LORA, DEFAULT_OPTIMIZER } from '../../src/train/recipe.ts';
import { randomWeights } from '../../scripts/bench-core.ts';

/** Shapes: head dim 16 (the generic kernels) and 64 (WebGPU's unrolled variant), Qwen2 and Qwen3. */
export const PACK_CONFIGS: Record<string, Qwen2Config> = {
  'qwen2 hd16': parseQwen2Config({
    model_type: 'qwen2',
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 512,
    rope_theta: 1e4,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
  }),
  'qwen3 hd64': parseQwen2Config({
    model_type: 'qwen3',
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 64,
    vocab_size: 512,
    rope_theta: 1e6,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
  }),
};

/** Rows of the given lengths right padded to the longest; the first third of each row is prompt. */
export function raggedBatch(V: number, lengths: number[], seed: number): MicroBatch {
  const B = lengths.length,
    T = Math.max(...lengths);
  const inputIds = new Int32Array(B * T),
    attentionMask = new Int32Array(B * T),
    labels = new Int32Array(B * T).fill(-100);
  lengths.forEach((n, b) => {
    for (let t = 0; t < n; t++) {
      const i = b * T + t;
      inputIds[i] = hash32(seed, i) % V;
      attentionMask[i] = 1;
      if (t >= n / 3) labels[i] = inputIds[i];
    }
  });
  return { B, T, inputIds, attentionMask, labels };
}

export function relL2(a: Float32Array, b: Float32Array): number {
  let d = 0,
    n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / Math.max(n, 1e-30));
}

type Rope = (...a: unknown[]) => void;
type Spied = Engine & { ops: { ropeForward: Rope; ropeQK?: Rope } };

/** Counts RoPE applications at packed positions (q and k each count one, fused or not). */
function spyPacked(e: Spied): { calls: number } {
  const seen = { calls: 0 };
  const wrap = (name: 'ropeForward' | 'ropeQK', at: number, times: number) => {
    const f = e.ops[name]?.bind(e.ops);
    if (!f) return;
    e.ops[name] = (...a: unknown[]) => {
      // forward rotations only (ropeQK's last argument is the direction)
      if (a[at] instanceof Int32Array && (name === 'ropeForward' || a[10] === 1)) seen.calls += times;
      f(...a);
    };
  };
  wrap('ropeForward', 7, 1);
  wrap('ropeQK', 9, 2);
  return seen;
}

/**
 * On a packing engine and a padded one made by `make`, from the same random adapter (B nonzero):
 * the gradients of a ragged micro-batch, then one optimizer step over two (loss, gradient norm).
 * The steps' later states are not compared: AdamW's first updates are sign-like, so a rounding
 * difference in a near-zero gradient flips its update.
 */
export async function checkPackedMatchesPadded(
  make: () => Promise<Engine>,
  cfg: Qwen2Config,
  tol: { loss: number; grad: number },
): Promise<void> {
  const micros = [
    [31, 17, 24],
    [9, 30, 22],
  ].map((l, k) => raggedBatch(cfg.vocabSize, l, 10 + k));
  const one = raggedBatch(cfg.vocabSize, [12, 32, 5], 20);
  const runs: {
    loss: number;
    norm: number;
    grads: Record<string, Float32Array>;
    gradLoss: number;
    packedCalls: number;
  }[] = [];
  let adapter: Record<string, Float32Array> | null = null;
  for (const pack of [true, false]) {
    const e = (await make()) as Spied;
    await e.load(cfg, randomWeights(cfg, 3), { maxBatch: 3, maxSeq: 32, lora: { ...DEFAULT_LORA, dropout: 0 } });
    await e.initLora(5);
    adapter ??= Object.fromEntries(
      Object.entries(await e.getLora()).map(([n, t], k) => [
        n,
        n.includes('lora_B') ? Float32Array.from(t, (_, i) => ((hash32(k, i) / 4294967296) * 2 - 1) * 0.05) : t,
      ]),
    );
    await e.setLora(adapter);
    const seen = spyPacked(e);
    const g = await e.gradients({ ...one, pack });
    const r = await e.step(
      micros.map((m) => ({ ...m, pack })),
      { ...DEFAULT_OPTIMIZER, lr: 1e-2, dropoutSeed: 0 },
    );
    runs.push({ loss: r.loss, norm: r.gradNorm, grads: g.grads, gradLoss: g.loss, packedCalls: seen.calls });
    await e.dispose();
  }
  const [packed, padded] = runs;
  // 2 layers x (q, k) x 3 micro-batches
  expect(packed.packedCalls).toBe(2 * 2 * 3);
  expect(padded.packedCalls).toBe(0);
  expect(Math.abs(packed.loss - padded.loss) / padded.loss).toBeLessThan(tol.loss);
  expect(Math.abs(packed.norm - padded.norm) / padded.norm).toBeLessThan(tol.grad);
  expect(Math.abs(packed.gradLoss - padded.gradLoss) / padded.gradLoss).toBeLessThan(tol.loss);
  const names = Object.keys(padded.grads);
  expect(names.length).toBeGreaterThan(10);
  for (const n of names) {
    expect(relL2(packed.grads[n], padded.grads[n]), n).toBeLessThan(tol.grad);
    expect(
      padded.grads[n].some((x) => x !== 0),
      `${n} is all zero`,
    ).toBe(true);
  }
}
