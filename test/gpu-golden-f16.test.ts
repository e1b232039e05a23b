// Every golden case on the WebGPU shader-f16 path (matmul tiles in f16, sums in f32) within its
// stated bounds (GOLDEN_BOUNDS.f16 in src/cli/golden-case.ts); the f32 path is the one
// test/gpu-golden.test.ts runs on SwiftShader.
// Needs a device with shader-f16: Mesa's lavapipe (mesa-vulkan-drivers from bookworm-backports)
// offers it to Node's Dawn; without lavapipe (CI) the file skips.

import { existsSync, readdirSync } from 'node:fs';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const present = existsSync(LAVAPIPE);
if (present) process.env.VK_ICD_FILENAMES = LAVAPIPE;

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGoldenCase } from '../src/cli/golden.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../src/engine/gpu/index.ts';

const root = 'test/fixtures/golden';
const cases = readdirSync(root).filter((n) => !n.includes('.'));

{
  const path = 'f16';
  describe.skipIf(!present)(`WebGPU engine on lavapipe, ${path} kernel path`, () => {
    let backend: WebGpuBackend;
    beforeAll(async () => {
      backend = await createWebGpuBackend({ features: { f16: path === 'f16' } });
    }, 300_000);
    afterAll(() => backend?.dispose());

    it('runs the path it was asked for', () => {
      expect(backend.describe().kernels?.startsWith(path)).toBe(true);
    });

    for (const name of cases) {
      it(name, async () => {
        const lines: string[] = [];
        const { checks } = await runGoldenCase(`${root}/${name}`, 'webgpu', (l) => lines.push(l), { backend });
        expect(lines[0]).toBe(`bounds: ${path === 'f16' ? 'f16 kernel path' : 'f32'}`);
        expect(checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`)).toEqual([]);
      }, 300_000);
    }
  });
}
