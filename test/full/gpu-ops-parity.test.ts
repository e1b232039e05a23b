// WebGPU kernels against the scalar CPU kernels, in Node through Dawn on lavapipe (SwiftShader
// where lavapipe is not fetched), once with the adapter's limits and once with tiny limits that
// force weight chunking and many cross-entropy vocabulary slices. f32 path: lavapipe offers
// shader-f16, whose tiles test/full/gpu-kernels.test.ts checks at their own bound. On lavapipe the
// device has subgroups, so the default backend runs the subgroup kernels (reductions,
// cross-entropy rows, attention's split dot products, LoRA x @ A) and a third one, without
// subgroups, their plain fallbacks: both against the same CPU twin.

import { gpuFile, ON_LAVAPIPE } from '../helpers/gpu-env.ts';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuOps } from '../../src/engine/cpu/ops.ts';
import { createWebGpuOps, type WebGpuOps } from '../../src/engine/gpu/index.ts';
import { parityCases, runParity } from '../../e2e/gpu-cases.ts';

const GPU = gpuFile('any', 'WebGPU kernels against CpuOps');

let gpu: WebGpuOps;
let tight: WebGpuOps;
let plain: WebGpuOps;

beforeAll(async () => {
  if (!GPU) return;
  gpu = await createWebGpuOps({ features: { f16: false } });
  // 160-byte weight chunks: every test weight spans several bindings (a row of 37 f32 just fits)
  tight = await createWebGpuOps({ features: { f16: false }, maxWeightChunkBytes: 160, ceSliceElements: 40 });
  plain = await createWebGpuOps({ features: { f16: false, subgroups: false } });
}, 300_000);

afterAll(() => {
  gpu?.dispose();
  tight?.dispose();
  plain?.dispose();
});

describe('WebGPU kernels match CpuOps (Dawn, f32 path)', () => {
  for (const c of parityCases()) {
    it(c.name, async () => {
      const [r] = await runParity(new CpuOps(), gpu, (x) => x.name === c.name);
      expect(r.detail).toBe('');
      expect(r.ok).toBe(true);
    });
  }

  it('the plain kernels (no subgroups) match too, and lavapipe runs the subgroup ones above', async () => {
    if (ON_LAVAPIPE) expect(gpu.info.subgroups).toBe(true);
    expect(plain.info.subgroups).toBe(false);
    const results = await runParity(new CpuOps(), plain, () => true);
    expect(results.length).toBe(parityCases().length);
    for (const r of results) expect(r, r.detail).toMatchObject({ ok: true });
  }, 300_000);

  it('weights split across bindings and sliced vocabularies give the same results', async () => {
    const weighted = (name: string) => /embedding|matmul|cross-entropy|mergeLora|linear/.test(name);
    const results = await runParity(new CpuOps(), tight, (c) => weighted(c.name));
    expect(results.length).toBe(parityCases().filter((c) => weighted(c.name)).length);
    expect(results.length).toBeGreaterThan(10);
    for (const r of results) expect(r, r.detail).toMatchObject({ ok: true });
  }, 300_000);
});
