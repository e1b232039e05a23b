// The whole engine on WebGPU (Node Dawn, SwiftShader: the f32 kernel path) against PyTorch: every
// golden case in test/fixtures/golden (logits, loss, every LoRA gradient, the AdamW steps, greedy
// generation, merge) through the same model code the CPU engine runs, keeping every layer's
// activations; one case also with gradient checkpointing (the path for micro-batches over the
// budget). The cases share one device, so each weight dtype's kernels compile once.
// test/gpu-golden-f16.test.ts runs them on the shader-f16 path where lavapipe is installed.

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';

import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGoldenCase } from '../src/cli/golden.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../src/engine/gpu/index.ts';

const root = 'test/fixtures/golden';
let backend: WebGpuBackend;

beforeAll(async () => {
  backend = await createWebGpuBackend({ features: { f16: false } });
}, 300_000);

afterAll(() => backend?.dispose());

async function failures(name: string, recompute?: boolean): Promise<string[]> {
  const { checks } = await runGoldenCase(`${root}/${name}`, 'webgpu', () => {}, { backend }, recompute);
  expect(checks.length).toBeGreaterThan(40);
  return checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`);
}

describe('WebGPU engine reproduces PyTorch (f32 kernels)', () => {
  for (const name of readdirSync(root).filter((n) => !n.includes('.'))) {
    it(name, async () => {
      expect(await failures(name)).toEqual([]);
    }, 600_000);
  }

  it('tiny-f32 with gradient checkpointing (backward recomputes each layer)', async () => {
    expect(await failures('tiny-f32', true)).toEqual([]);
  }, 600_000);
});
