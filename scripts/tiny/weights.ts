// Random Qwen2 weights written straight to a BF16 safetensors file, a chunk at a time: the
// 0.5B shape is 988 MB and is never held in memory, not even one whole tensor.

import { open } from 'node:fs/promises';
import { expectedTensors, type Qwen2Config } from '../../src/core/config.ts';
import { encodeHeader } from '../../src/core/safetensors.ts';
import { narrow } from '../../src/core/dtype.ts';
import { SeededRng } from '../../src/core/rng.ts';

const CHUNK = 1 << 20;

/** HF's initializer_range for Qwen2. */
export const INIT_STD = 0.02;

/**
 * The final norm's gain. With HF's gain of 1 and N(0, 0.02) tied embeddings, a logit is at most
 * |rmsnorm(x)| * |e_v| = sqrt(C) * 0.02 * sqrt(C): about 1.3 at C = 64, so a tiny model could never
 * become confident and fine-tuning it would barely lower the loss. Trained Qwen checkpoints have
 * final-norm gains of this order too.
 */
export const FINAL_NORM_GAIN = 8;

/** Layer RMSNorm gains start at 1 as in HF; projections, embeddings and biases are N(0, 0.02). */
function initValue(name: string): 'ones' | 'final-norm' | 'normal' {
  if (name === 'model.norm.weight') return 'final-norm';
  return name.endsWith('norm.weight') ? 'ones' : 'normal';
}

export async function writeRandomWeights(
  path: string,
  cfg: Qwen2Config,
  seed: number,
  metadata: Record<string, string> = { format: 'pt' },
): Promise<{ bytes: number; params: number }> {
  const entries = [...expectedTensors(cfg)].map(([name, shape]) => ({ name, shape, dtype: 'BF16' as const }));
  const header = encodeHeader(entries, metadata);
  const rng = new SeededRng(seed);
  const f32 = new Float32Array(CHUNK);
  const bf16 = new Uint16Array(CHUNK);
  const fh = await open(path, 'w');
  let bytes = 0;
  let params = 0;
  try {
    await fh.write(header);
    bytes += header.length;
    for (const { name, shape } of entries) {
      const n = shape.reduce((a, b) => a * b, 1);
      const kind = initValue(name);
      for (let done = 0; done < n; done += CHUNK) {
        const m = Math.min(CHUNK, n - done);
        const vals = f32.subarray(0, m);
        if (kind === 'ones') vals.fill(1);
        else if (kind === 'final-norm') vals.fill(FINAL_NORM_GAIN);
        else rng.fillNormal(vals, INIT_STD);
        const out = narrow(vals, 'bf16', bf16.subarray(0, m));
        await fh.write(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
        bytes += out.byteLength;
      }
      params += n;
    }
  } finally {
    await fh.close();
  }
  return { bytes, params };
}
