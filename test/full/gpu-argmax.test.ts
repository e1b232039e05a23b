// Greedy decoding's pick on WebGPU (shaders/argmax.wgsl, Ops.argmaxRows) against the host's
// sampleToken at temperature 0, the CPU twin: the index (first on ties) and the margin, on rows
// with a repeated maximum, a maximum in the last slot, all-negative values and the real vocabulary.

import { needGpu } from '../helpers/gpu-env.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, type WebGpuBackend } from '../../src/engine/gpu/index.ts';
import { sampleToken } from '../../src/engine/sampling.ts';
import { hash32 } from '../../src/engine/ops.ts';

const run = needGpu('any', 'WebGPU greedy pick');
let backend: WebGpuBackend;
const greedy = { maxNewTokens: 1, temperature: 0, topK: 0, topP: 1, stopTokens: [], seed: 0 };

describe.skipIf(!run)('argmaxRows on WebGPU equals sampleToken at temperature 0', () => {
  beforeAll(async () => {
    backend = await createWebGpuBackend({ features: { f16: false } });
  }, 300_000);
  afterAll(() => backend?.dispose());

  for (const V of [7, 1000, 151936]) {
    it(`V = ${V}`, async () => {
      const B = 4;
      const logits = Float32Array.from({ length: B * V }, (_, i) => ((hash32(V, i) % 20001) - 10000) / 997);
      logits[1 * V + V - 1] = 50; // row 1: the maximum in the last slot
      logits[2 * V + 3] = logits[2 * V + V - 2] = 60; // row 2: a repeated maximum (first wins, margin 0)
      for (let i = 0; i < V; i++) logits[3 * V + i] = -Math.abs(logits[3 * V + i]) - 1; // row 3: all negative
      const lt = backend.alloc('f32', B * V, 'logits'),
        out = backend.alloc('f32', 2 * B, 'pick');
      backend.upload(lt, logits);
      backend.argmaxRows(out, lt, B, V);
      const got = await backend.read(out);
      for (let b = 0; b < B; b++) {
        const want = sampleToken(logits.subarray(b * V, (b + 1) * V), greedy, 0);
        expect([got[2 * b], got[2 * b + 1]], `row ${b}`).toEqual([want.token, Math.fround(want.margin)]); // the margin subtracted in f32
      }
      expect(got[5]).toBe(0);
      backend.free(lt);
      backend.free(out);
    }, 120_000);
  }
});
