// WebGPU memory and errors in Node through Dawn (lavapipe, else SwiftShader): weights split by
// rows past one binding, arenas, bind groups reused, refused views, WGSL compile errors named,
// validation errors and a lost device turned into our errors. The kernels against CpuOps, case by
// case, are test/full/gpu-ops-parity.test.ts (the golden cases of test/gpu-golden run them all).

// First: the Vulkan driver (lavapipe, else SwiftShader) is chosen before Dawn loads.
import { gpuFile } from './helpers/gpu-env.ts';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGpuOps, type WebGpuOps } from '../src/engine/gpu/index.ts';
import { DeviceLostError, EngineError, GpuValidationError } from '../src/core/errors.ts';
import { quantizeNf4 } from '../src/core/nf4.ts';

import { loadShaderSources } from '../src/engine/gpu/shader-sources.ts';

const GPU = gpuFile('any', 'WebGPU memory and errors');

let gpu: WebGpuOps;

/** A device with only the copy kernels compiled: enough to provoke errors, quick to build. */
async function smallOps(): Promise<WebGpuOps> {
  const { common, weights, residual } = await loadShaderSources();
  return createWebGpuOps({ shaders: { common, weights, residual } });
}
let tight: WebGpuOps;

beforeAll(async () => {
  if (!GPU) return;
  // The f32 kernels at f32 bounds: lavapipe offers shader-f16, whose tiles test/gpu-kernels checks at theirs.
  gpu = await createWebGpuOps({ features: { f16: false } });
  // 160-byte weight chunks: every test weight spans several bindings (a row of 37 f32 just fits)
  tight = await createWebGpuOps({ features: { f16: false }, maxWeightChunkBytes: 160, ceSliceElements: 40 });
});

afterAll(() => {
  gpu?.dispose();
  tight?.dispose();
});

describe('WebGPU memory and errors', () => {
  it('splits a weight by rows when it exceeds one binding', async () => {
    const w = tight.weight(new Uint16Array(25 * 7), 'bf16', 25, 7, 'w');
    // rows of 7 bf16 values are padded to 8 (16 bytes, one aligned load): 160 bytes hold 10 rows
    expect(w.stride).toBe(8);
    expect(w.chunks.map((c) => [c.row0, c.rows, c.size])).toEqual([
      [0, 10, 160],
      [10, 10, 160],
      [20, 5, 80],
    ]);
    // NF4 splits only between 64-value blocks, unpadded: 4 rows of 48 are 3 blocks (108 bytes, bound as 112)
    const fresh = await smallOps(); // no NF4 pipelines compiled yet
    expect(() => fresh.weight(quantizeNf4(new Float32Array(64), 'f32'), 'nf4', 1, 64, 'early')).toThrow(
      /early: NF4 weights before the NF4 kernels were compiled/,
    );
    fresh.dispose();
    await tight.prepareWeights('nf4');
    const q = tight.weight(quantizeNf4(new Float32Array(12 * 48), 'f32'), 'nf4', 12, 48, 'q');
    expect(q.stride).toBe(48);
    expect(q.chunks.map((c) => [c.row0, c.rows, c.size])).toEqual([
      [0, 4, 112],
      [4, 4, 112],
      [8, 4, 112],
    ]);
  });

  it('gives each arena tensor a buffer of its own (inputs bind read-only) and counts the bytes', () => {
    const before = gpu.allocatedBytes();
    const t = gpu.arena('f32', { a: 3, b: 70, c: 1 }, 'arena');
    expect(new Set([t.a.buffer, t.b.buffer, t.c.buffer]).size).toBe(3);
    expect([t.a.offset, t.b.offset, t.c.offset]).toEqual([0, 0, 0]);
    expect(gpu.allocatedBytes() - before).toBe(12 + 280 + 4);
  });

  it('builds a bind group once per kernel and set of buffers: a repeat with other parameters makes none', async () => {
    const x = gpu.alloc('f32', 256, 'x'),
      y = gpu.alloc('f32', 256, 'y');
    gpu.upload(y, new Float32Array(256).fill(1));
    gpu.addInPlace(x, y, 256);
    const made = gpu.bindGroupCount;
    gpu.addInPlace(x, y, 100); // same buffers, other sizes: the parameters move through the uniform ring
    gpu.addInPlace(x, y, 256);
    expect(gpu.bindGroupCount).toBe(made);
    gpu.addInPlace(y, x, 256); // other buffers
    expect(gpu.bindGroupCount).toBe(made + 1);
    expect([...(await gpu.read(x, 2, 99))]).toEqual([3, 2]); // 1 + 1 + 1, then 1 + 1 past n = 100
    gpu.free(x);
    gpu.free(y);
  });

  it('runs a projection group as one launch per step: factors, then the fused matmul; backward three', () => {
    const N = 20,
      In = 32,
      R = 4,
      widths = [32, 16, 16];
    const t = gpu.arena(
      'f32',
      {
        inp: N * In,
        outs: 3 * 640,
        douts: 3 * 640,
        dinp: N * In,
        xa: 3 * 128,
        dxa: 3 * 128,
        params: 2048,
        grads: 2048,
      },
      'group',
    );
    const projs = widths.map((O, i) => ({
      w: gpu.weight(new Uint16Array(O * In), 'bf16', O, In, `w${i}`),
      O,
      bias: null,
      lora: {
        a: gpu.view(t.params, i * 512, R * In),
        b: gpu.view(t.params, i * 512 + 128, O * R),
        da: gpu.view(t.grads, i * 512, R * In),
        db: gpu.view(t.grads, i * 512 + 128, O * R),
        xa: gpu.view(t.xa, i * 128, N * R),
        dxa: gpu.view(t.dxa, i * 128, N * R),
        dropout: { p: 0.1, seed: i },
      },
    }));
    const at = gpu.dispatchCount;
    gpu.linearForward(
      widths.map((O, i) => gpu.view(t.outs, i * 640, N * O)),
      t.inp,
      projs,
      null,
      N,
      In,
      R,
      2,
    );
    expect(gpu.dispatchCount - at).toBe(2);
    gpu.linearBackward(
      t.dinp,
      widths.map((O, i) => gpu.view(t.douts, i * 640, N * O)),
      t.inp,
      projs,
      N,
      In,
      R,
      2,
    );
    expect(gpu.dispatchCount - at).toBe(5);
    for (const p of projs) gpu.freeWeight(p.w);
  });

  it('refuses a misaligned view and an overrunning upload with the tensor named', () => {
    const t = gpu.alloc('f32', 200, 'params');
    expect(() => gpu.view(t, 10, 5)).toThrow(/params.*multiples of 64/);
    expect(() => gpu.upload(t, new Float32Array(10), 195)).toThrow(EngineError);
  });

  it('names the file and line of a WGSL compile error', async () => {
    const { common, weights, residual } = await loadShaderSources();
    const broken = residual.replace('x[i] += y[i];', 'x[i] += missing_name;');
    const line = residual.split('\n').findIndex((l) => l.includes('x[i] += y[i];')) + 1;
    await expect(createWebGpuOps({ shaders: { common, weights, residual: broken } })).rejects.toThrow(
      new RegExp(`shaders/residual.wgsl: line ${line}: unresolved value 'missing_name'`, 's'),
    );
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
