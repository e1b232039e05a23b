// Packed micro-batches on WebGPU (Node Dawn; lavapipe where fetched, else SwiftShader) equal the
// padded ones: test/helpers/packing-check.ts on the f32 kernels, head dims 16 (generic attention)
// and 64 (the unrolled variant); rows longer than a key tile, so the attention kernels' per-row
// tile skipping (shaders/attention.wgsl) is exercised on rows starting mid-tile.

import { needGpu } from '../helpers/gpu-env.ts';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createEngine } from '../../src/engine/create.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../../src/engine/gpu/index.ts';
import { checkPackedMatchesPadded, PACK_CONFIGS } from '../helpers/packing-check.ts';

const run = needGpu('any', 'WebGPU packed micro-batches');
let backend: WebGpuBackend;

describe.skipIf(!run)('packed micro-batches on WebGPU (f32 kernels) equal the padded ones', () => {
  beforeAll(async () => {
    backend = await createWebGpuBackend({ features: { f16: false } });
  }, 300_000);
  afterAll(() => backend?.dispose());

  for (const [name, cfg] of Object.entries(PACK_CONFIGS)) {
    it(
      name,
      async () => {
        await checkPackedMatchesPadded(() => createEngine('webgpu', { backend }), cfg, { loss: 1e-5, grad: 1e-4 });
      },
      600_000,
    );
  }
});
