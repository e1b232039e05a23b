// The bench's WebGPU counts (scripts/bench-core.ts runStepBench: dispatches_per_micro_batch,
// bind_groups_per_step, recompute) against what Dawn itself was asked to do: the compute passes'
// dispatchWorkgroups and the device's createBindGroup calls, counted by wrapping their prototypes.
// So the numbers the acceptance line reads (at most 45 launches per layer plus 40, no bind group
// made in a repeated step, no recompute) come from the real command stream, not from constants.

// First: the Vulkan driver (lavapipe, else SwiftShader) is chosen before Dawn loads.
import { gpuFile } from './helpers/gpu-env.ts';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/create.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../src/engine/gpu/index.ts';
import { DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';
import { microBatch, presetConfig, runStepBench } from '../scripts/bench-core.ts';

const GPU = gpuFile('any', 'the bench counts against Dawn (WebGPU)');

let backend: WebGpuBackend;
const real = { dispatches: 0, bindGroups: 0 };

beforeAll(async () => {
  if (!GPU) return;
  backend = await createWebGpuBackend();
  const device = backend.device;
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  const passProto = Object.getPrototypeOf(pass),
    deviceProto = Object.getPrototypeOf(device);
  pass.end();
  encoder.finish();
  const dispatch = passProto.dispatchWorkgroups,
    createBindGroup = deviceProto.createBindGroup;
  passProto.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: unknown[]) {
    real.dispatches++;
    return dispatch.apply(this, args);
  };
  deviceProto.createBindGroup = function (this: GPUDevice, ...args: unknown[]) {
    real.bindGroups++;
    return createBindGroup.apply(this, args);
  };
}, 300_000);

afterAll(() => backend?.dispose());

describe('bench counts on WebGPU (tiny preset)', () => {
  it('match the launches and bind groups Dawn saw, within the acceptance bounds', async () => {
    const o = { preset: 'tiny', batch: 2, seq: 16, steps: 1, matmul: false, decode: false };
    const engine = await createEngine('webgpu', { backend });
    const r = await runStepBench(engine as Parameters<typeof runStepBench>[0], o, () => {});
    const layers = presetConfig('tiny').numLayers;
    expect(r.recompute).toBe(false);
    expect(r.bind_groups_per_step).toBe(0);
    expect(r.dispatches_per_micro_batch as number).toBeLessThanOrEqual(45 * layers + 40);

    // the same steps again, counted at Dawn: one micro-batch, then two; a repeat makes no bind group
    const cfg = presetConfig('tiny');
    const batch = microBatch(cfg, o.batch, o.seq, 7);
    const opts = { ...DEFAULT_OPTIMIZER, lr: 1e-4, dropoutSeed: 0 };
    const count = async (micros: number) => {
      const d = real.dispatches,
        g = real.bindGroups;
      await engine.step(
        Array.from({ length: micros }, () => batch),
        opts,
      );
      await backend.flush();
      return { dispatches: real.dispatches - d, bindGroups: real.bindGroups - g };
    };
    const one = await count(1),
      two = await count(2);
    expect(two.dispatches - one.dispatches).toBe(r.dispatches_per_micro_batch);
    expect(one.dispatches - (two.dispatches - one.dispatches)).toBe(r.dispatches_per_step);
    expect([one.bindGroups, two.bindGroups]).toEqual([0, 0]);
    await engine.dispose();
  }, 600_000);
});
