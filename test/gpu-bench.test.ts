// Kernel timing for the benchmark: timestamp queries around one compute pass (Dawn on
// SwiftShader offers 'timestamp-query'), and the matmul GFLOP/s that scripts/bench.ts prints.

// First: the Vulkan driver (lavapipe, else SwiftShader) is chosen before Dawn loads.
import { gpuFile } from './helpers/gpu-env.ts';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQwen2Config } from '../src/core/config.ts';
import { EngineError } from '../src/core/errors.ts';
import { CpuOps } from '../src/engine/cpu/ops.ts';
import { createWebGpuOps, type WebGpuOps } from '../src/engine/gpu/index.ts';
import { loadShaderSources } from '../src/engine/gpu/shader-sources.ts';
import { mainProjections, matmulFlops, measureMatmuls } from '../scripts/bench-matmul.ts';

const GPU = gpuFile('any', 'WebGPU kernel timing');

let gpu: WebGpuOps;

beforeAll(async () => {
  if (!GPU) return;
  const { common, weights, reduce, lanes, matmul, mm_core, lora, residual } = await loadShaderSources();
  // f32 tiles: the result is checked at f32 precision (lavapipe would give the shader-f16 path)
  gpu = await createWebGpuOps({
    features: { f16: false },
    shaders: { common, weights, reduce, lanes, matmul, mm_core, lora, residual },
  });
}, 60_000);

afterAll(() => gpu?.dispose());

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 0.37));
}

describe('timeOnGpu', () => {
  it('the device was given timestamp-query because the adapter offers it', () => {
    expect(gpu.device.features.has('timestamp-query')).toBe(true);
  });

  it('times the work it encodes, which runs and gives the CPU result', async () => {
    const N = 70,
      In = 37,
      O = 45; // not multiples of the 64-wide tiles
    const x = values(N * In, 1),
      w = values(O * In, 2);
    const cpu = new CpuOps(),
      want = cpu.alloc('f32', N * O),
      cx = cpu.alloc('f32', N * In);
    cpu.upload(cx, x);
    cpu.matmulForward(want, cx, cpu.weight(w, 'f32', O, In, 'w'), null, N, In, O);
    const expected = await cpu.read(want);

    const gx = gpu.alloc('f32', N * In, 'x'),
      gy = gpu.alloc('f32', N * O, 'y');
    gpu.upload(gx, x);
    const gw = gpu.weight(w, 'f32', O, In, 'w');
    const t0 = performance.now();
    const ms = await gpu.timeOnGpu(() => gpu.matmulForward(gy, gx, gw, null, N, In, O));
    const wall = performance.now() - t0;
    expect(ms).not.toBeNull();
    expect(ms!).toBeGreaterThan(0);
    expect(ms!).toBeLessThanOrEqual(wall); // the pass ran inside the call
    const got = await gpu.read(gy);
    let maxAbs = 0;
    for (let i = 0; i < got.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - expected[i]));
    expect(maxAbs).toBeLessThan(1e-4);
    for (const t of [gx, gy]) gpu.free(t);
    gpu.freeWeight(gw);
  });

  it('refuses work that leaves the compute pass, and the stream goes on working', async () => {
    const t = gpu.alloc('f32', 64, 't');
    await expect(gpu.timeOnGpu(() => gpu.zero(t, 64))).rejects.toThrow(EngineError);
    await expect(gpu.timeOnGpu(() => gpu.zero(t, 64))).rejects.toThrow(/one compute pass/);
    const u = gpu.alloc('f32', 64, 'u');
    gpu.upload(t, new Float32Array(64).fill(1.5));
    gpu.upload(u, new Float32Array(64).fill(2));
    gpu.addInPlace(t, u, 64);
    expect([...(await gpu.read(t, 3))]).toEqual([3.5, 3.5, 3.5]);
    gpu.free(u);
    gpu.free(t);
  });
});

describe('matmul GFLOP/s', () => {
  it('counts two flops per multiply-add of each product', () => {
    const small = mainProjections(
      parseQwen2Config({
        model_type: 'qwen2',
        hidden_size: 256,
        intermediate_size: 704,
        num_hidden_layers: 4,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        vocab_size: 8192,
      }),
    );
    expect(small).toEqual({ gate_up: { In: 256, O: 704 }, down: { In: 704, O: 256 }, q_o: { In: 256, O: 256 } });
    expect(matmulFlops('fwd', 256, small.gate_up, 8)).toBe(92_274_688); // 2 * 256 * 256 * 704
    expect(matmulFlops('bwd', 256, small.down, 8)).toBe(92_274_688);
    expect(matmulFlops('lora_fwd', 256, small.gate_up, 8)).toBe(3_932_160); // 2 * 256 * 8 * (256 + 704)
    expect(matmulFlops('lora_bwd', 256, small.gate_up, 8)).toBe(7_864_320); // twice the forward
  });

  const tiny = parseQwen2Config({
    model_type: 'qwen2',
    hidden_size: 64,
    intermediate_size: 176,
    num_hidden_layers: 1,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 320,
  });
  const KEYS = ['down_bwd', 'down_fwd', 'gate_up_bwd', 'gate_up_fwd', 'lora_bwd', 'lora_fwd', 'q_o_bwd', 'q_o_fwd'];

  it('on WebGPU: every kernel timed on the GPU, and every buffer given back', async () => {
    await gpu.timeOnGpu(() => {}); // the timer's own buffer stays for the next measurement
    await gpu.flush();
    const before = gpu.allocatedBytes();
    const r = await measureMatmuls(gpu, tiny, 40, 8, 20);
    expect(r.timing).toBe('timestamp-query');
    expect(Object.keys(r.gflops).sort()).toEqual(KEYS);
    for (const v of Object.values(r.gflops)) expect(v).toBeGreaterThan(0);
    await gpu.flush();
    expect(gpu.allocatedBytes()).toBe(before);
  }, 60_000);

  it('on the CPU: wall time, the same kernels', async () => {
    const r = await measureMatmuls(new CpuOps(), tiny, 16, 8, 5);
    expect(r.timing).toBe('wall');
    expect(Object.keys(r.gflops).sort()).toEqual(KEYS);
    for (const v of Object.values(r.gflops)) expect(Number.isFinite(v) && v > 0).toBe(true);
  });
});
