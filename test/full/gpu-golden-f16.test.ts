// Every golden case on the WebGPU shader-f16 path (matmul tiles in f16, sums in f32) within its
// stated bounds (GOLDEN_BOUNDS.f16 in src/cli/golden-case.ts); test/gpu-golden.test.ts runs the f32 path.
// Needs a device with shader-f16: Mesa 25 lavapipe (scripts/lavapipe.sh) offers it to Node's
// Dawn. Without it the file skips locally with the reason and fails under CI=true.

import { gpuFile } from '../helpers/gpu-env.ts';

import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGoldenCase } from '../../src/cli/golden.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../../src/engine/gpu/index.ts';

const root = 'test/fixtures/golden';
const cases = readdirSync(root).filter((n) => !n.includes('.'));
const GPU = gpuFile('lavapipe', 'the golden cases on the shader-f16 path');

{
  const path = 'f16';
  describe(`WebGPU engine on lavapipe, ${path} kernel path`, () => {
    let backend: WebGpuBackend;
    beforeAll(async () => {
      if (!GPU) return;
      backend = await createWebGpuBackend({ features: { f16: path === 'f16' } });
    }, 300_000);
    afterAll(() => backend?.dispose());

    it('runs the path it was asked for', () => {
      expect(backend.describe().kernels?.startsWith(path)).toBe(true);
    });

    for (const name of cases) {
      it(
        name,
        async () => {
          const lines: string[] = [];
          const { checks } = await runGoldenCase(`${root}/${name}`, 'webgpu', (l) => lines.push(l), { backend });
          expect(lines[0]).toBe(`bounds: ${path === 'f16' ? 'f16 kernel path' : 'f32'}`);
          expect(checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`)).toEqual([]);
        },
        300_000,
      );
    }
  });
}
