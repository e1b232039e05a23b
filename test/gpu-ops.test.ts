// WebGPU kernels against the scalar CPU kernels, in Node through Dawn on SwiftShader (the same
// software Vulkan Chromium uses in CI), once with the adapter's limits and once with tiny
// limits that force weight chunking and many cross-entropy vocabulary slices.

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuOps } from '../src/engine/cpu/ops.ts';
import { createWebGpuOps, type WebGpuOps } from '../src/engine/gpu/index.ts';
import { DeviceLostError, EngineError, GpuValidationError } from '../src/core/errors.ts';
import { quantizeNf4 } from '../src/core/nf4.ts';
import { parityCases, runParity } from '../e2e/gpu-cases.ts';

import { loadShaderSources } from '../src/engine/gpu/shader-sources.ts';

let gpu: WebGpuOps;

/** A device with only the copy kernels compiled: enough to provoke errors, quick to build. */
async function smallOps(): Promise<WebGpuOps> {
  const { common, weights, residual } = await loadShaderSources();
  return createWebGpuOps({ shaders: { common, weights, residual } });
}
let tight: WebGpuOps;

beforeAll(async () => {
  gpu = await createWebGpuOps();
  // 160-byte weight chunks: every test weight spans several bindings (a row of 37 f32 just fits)
  tight = await createWebGpuOps({ maxWeightChunkBytes: 160, ceSliceElements: 40 });
});

afterAll(() => {
  gpu?.dispose();
  tight?.dispose();
});

describe('WebGPU kernels match CpuOps (Dawn, SwiftShader)', () => {
  for (const c of parityCases()) {
    it(c.name, async () => {
      const [r] = await runParity(new CpuOps(), gpu, (x) => x.name === c.name);
      expect(r.detail).toBe('');
      expect(r.ok).toBe(true);
    });
  }

  it('weights split across bindings and sliced vocabularies give the same results', async () => {
    const weighted = (name: string) => /embedding|matmul|cross-entropy|mergeLora/.test(name);
    const results = await runParity(new CpuOps(), tight, (c) => weighted(c.name));
    expect(results.length).toBe(15);
    for (const r of results) expect(r, r.detail).toMatchObject({ ok: true });
  });
});

describe('WebGPU memory and errors', () => {
  it('splits a weight by rows when it exceeds one binding', async () => {
    const w = tight.weight(new Uint16Array(25 * 7), 'bf16', 25, 7, 'w');
    // 160 bytes hold 11 rows of 7 bf16 values; a chunk of 11 * 7 values is padded to whole u32s
    expect(w.chunks.map((c) => [c.row0, c.rows, c.size])).toEqual([[0, 11, 156], [11, 11, 156], [22, 3, 44]]);
    // NF4 splits only between 64-value blocks: 4 rows of 48 are 3 blocks (108 bytes), 8 rows would be 216
    const fresh = await smallOps(); // no NF4 pipelines compiled yet
    expect(() => fresh.weight(quantizeNf4(new Float32Array(64), 'f32'), 'nf4', 1, 64, 'early')).toThrow(/early: NF4 weights before the NF4 kernels were compiled/);
    fresh.dispose();
    await tight.prepareWeights('nf4');
    const q = tight.weight(quantizeNf4(new Float32Array(12 * 48), 'f32'), 'nf4', 12, 48, 'q');
    expect(q.chunks.map((c) => [c.row0, c.rows, c.size])).toEqual([[0, 4, 108], [4, 4, 108], [8, 4, 108]]);
  });

  it('counts allocated bytes and aligns arena tensors to 256 bytes', () => {
    const before = gpu.allocatedBytes();
    const t = gpu.arena('f32', { a: 3, b: 70, c: 1 }, 'align');
    expect(t.b.offset).toBe(256);
    expect(t.c.offset).toBe(768); // b (280 bytes) ends at 536
    expect(gpu.allocatedBytes() - before).toBe(772);
  });

  it('refuses a misaligned view and an overrunning upload with the tensor named', () => {
    const t = gpu.alloc('f32', 200, 'params');
    expect(() => gpu.view(t, 10, 5)).toThrow(/params.*multiples of 64/);
    expect(() => gpu.upload(t, new Float32Array(10), 195)).toThrow(EngineError);
  });

  it('names the file, entry point and line of a WGSL compile error', async () => {
    const { common, weights, residual } = await loadShaderSources();
    const broken = residual.replace('x[i] += y[i];', 'x[i] += missing_name;');
    const line = residual.split('\n').findIndex((l) => l.includes('x[i] += y[i];')) + 1;
    await expect(createWebGpuOps({ shaders: { common, weights, residual: broken } })).rejects.toThrow(
      new RegExp(`shaders/residual.wgsl, entry add.*line ${line}: unresolved value 'missing_name'`, 's'));
  });

  it('reports a WebGPU validation error at the next flush', async () => {
    const ops = await smallOps();
    ops.device.createBuffer({ size: 4, usage: 0x1 | 0x80 }); // MAP_READ with STORAGE is invalid
    await expect(ops.flush()).rejects.toBeInstanceOf(GpuValidationError);
    ops.dispose();
  });

  it('turns a lost device into DeviceLostError', async () => {
    const ops = await smallOps();
    ops.device.destroy();
    await ops.device.lost;
    await expect(ops.flush()).rejects.toBeInstanceOf(DeviceLostError);
    ops.dispose();
  });
});
