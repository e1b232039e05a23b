// The whole engine on WebGPU (Node Dawn, SwiftShader: the f32 kernel path) against PyTorch: every
// golden case in test/fixtures/golden (logits, loss, every LoRA gradient, the AdamW steps, greedy
// generation, merge) through the same model code the CPU engine runs, keeping every layer's
// activations; one case also with gradient checkpointing (the path for micro-batches over the
// budget). The cases share one device, so each weight dtype's kernels compile once. The NF4 cases
// (case.json names the quantization: qlora-nf4 shared; nf4-odd-f32 and qwen3-nf4-untied ours,
// with blocks straddling rows) run the fused matmul family on NF4 blocks; their dequantized weight must equal PyTorch's
// bit for bit.
// test/gpu-golden-f16.test.ts runs them on the shader-f16 path where lavapipe is installed.

// First: the Vulkan driver (lavapipe, else SwiftShader) is chosen before Dawn loads.
import { gpuFile } from '../helpers/gpu-env.ts';

import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGoldenCase } from '../../src/cli/golden.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../../src/engine/gpu/index.ts';

const GPU = gpuFile('any', 'the golden cases on WebGPU, f32 path');

const root = 'test/fixtures/golden';
let backend: WebGpuBackend;

beforeAll(async () => {
  if (!GPU) return;
  backend = await createWebGpuBackend({ features: { f16: false } });
}, 300_000);

afterAll(() => backend?.dispose());

async function failures(name: string, recompute?: boolean): Promise<string[]> {
  const { checks } = await runGoldenCase(`${root}/${name}`, 'webgpu', () => {}, { backend }, recompute);
  expect(checks.length).toBeGreaterThan(40);
  const dequant = checks.filter((c) => c.name.startsWith('dequant.'));
  for (const c of dequant) expect(c, c.name).toMatchObject({ ok: true, maxAbs: 0 });
  if (name.includes('nf4')) expect(dequant.length).toBeGreaterThan(0);
  return checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`);
}

describe('WebGPU engine reproduces PyTorch (f32 kernels)', () => {
  for (const name of readdirSync(root).filter((n) => !n.includes('.'))) {
    it(
      name,
      async () => {
        expect(await failures(name)).toEqual([]);
      },
      600_000,
    );
  }

  it('warmup-cosine with gradient checkpointing (backward recomputes each layer)', async () => {
    expect(await failures('warmup-cosine', true)).toEqual([]);
  }, 600_000);
});
