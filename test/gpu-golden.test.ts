// The whole engine on WebGPU against PyTorch, in `npm test`: one golden case on each of the paths
// users' devices take, on Mesa 25 lavapipe in Node (test/helpers/gpu-env.ts): f32 kernels
// (tiny-f32), an NF4 base with blocks straddling rows (nf4-odd-f32: dequantized weight bit for
// bit), and the shader-f16 tiles (qwen3-bf16, at GOLDEN_BOUNDS.f16). Each case checks logits,
// loss, every LoRA gradient, the adapter after each AdamW step, greedy decoding and the merge.
// Every case on both paths: test/full/gpu-golden.test.ts and test/full/gpu-golden-f16.test.ts.

import { gpuFile } from './helpers/gpu-env.ts';

import { afterAll, describe, expect, it } from 'vitest';
import { runGoldenCase } from '../src/cli/golden.ts';
import { disposeGpuBackends, gpuBackend } from './helpers/gpu-backend.ts';

const root = 'test/fixtures/golden';
const GPU = gpuFile('lavapipe', 'one golden case per WebGPU kernel path (f32, NF4, shader-f16)');

afterAll(disposeGpuBackends);

async function failures(name: string, path: 'f32' | 'f16'): Promise<string[]> {
  const backend = await gpuBackend(path);
  expect(backend.describe().kernels?.startsWith(path), `the ${path} path runs`).toBe(true);
  const lines: string[] = [];
  const { checks } = await runGoldenCase(`${root}/${name}`, 'webgpu', (l) => lines.push(l), { backend });
  expect(lines[0]).toBe(`bounds: ${path === 'f16' ? 'f16 kernel path' : 'f32'}`);
  expect(checks.length).toBeGreaterThan(40);
  for (const prefix of ['logits', 'grad.', 'generate.tokens', 'merged.'])
    expect(
      checks.some((c) => c.name.startsWith(prefix)),
      prefix,
    ).toBe(true);
  const dequant = checks.filter((c) => c.name.startsWith('dequant.'));
  for (const c of dequant) expect(c, c.name).toMatchObject({ ok: true, maxAbs: 0 });
  if (name.includes('nf4')) expect(dequant.length).toBeGreaterThan(0);
  return checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`);
}

describe.skipIf(!GPU)('WebGPU engine reproduces PyTorch, one case per path', () => {
  it('f32 kernels: tiny-f32', async () => {
    expect(await failures('tiny-f32', 'f32')).toEqual([]);
  }, 300_000);
  it('NF4 base (f32 kernels): nf4-odd-f32', async () => {
    expect(await failures('nf4-odd-f32', 'f32')).toEqual([]);
  }, 300_000);
  it('shader-f16 tiles: qwen3-bf16', async () => {
    expect(await failures('qwen3-bf16', 'f16')).toEqual([]);
  }, 300_000);
});
