// GPU memory is not garbage collected: every buffer the engine makes per call (generate's
// prompt, ids and logits, forward's full logits, merged()) must be given back through
// Ops.free, or a long session of evaluations runs the device out of memory. Dawn on SwiftShader.

// First: the Vulkan driver (lavapipe, else SwiftShader) is chosen before Dawn loads.
import { gpuFile } from './helpers/gpu-env.ts';

import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQwen2Config, validateWeights } from '../src/core/config.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import type { GenerateOptions, MicroBatch } from '../src/engine/engine.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { OutOfMemoryError } from '../src/core/errors.ts';
import { createWebGpuBackend, createWebGpuOps, type WebGpuBackend } from '../src/engine/gpu/index.ts';
import { loadShaderSources } from '../src/engine/gpu/shader-sources.ts';
import { LoraEngine } from '../src/engine/lora-engine.ts';

const GPU = gpuFile('any', 'WebGPU memory release');

const CASE = 'test/fixtures/golden/tiny-f32';
let gpu: WebGpuBackend;
let engine: LoraEngine<unknown, unknown>;

beforeAll(async () => {
  if (!GPU) return;
  gpu = await createWebGpuBackend();
  engine = new LoraEngine(gpu) as LoraEngine<unknown, unknown>;
  const cfg = parseQwen2Config(await readFile(`${CASE}/config.json`, 'utf8'));
  const model = await SafetensorsFile.open(
    new Uint8Array(await readFile(`${CASE}/model.safetensors`)),
    'model.safetensors',
  );
  const dtype = validateWeights(cfg, model);
  await engine.load(
    cfg,
    { dtype, read: async (n) => (await model.read(n)) as Float32Array | Uint16Array },
    { maxBatch: 2, maxSeq: 16, lora: { ...DEFAULT_LORA, dropout: 0 } },
  );
  await engine.initLora(3);
}, 120_000);

afterAll(async () => {
  await engine?.dispose();
});

const greedy = (maxNewTokens: number): GenerateOptions => ({
  maxNewTokens,
  temperature: 0,
  topK: 0,
  topP: 1,
  stopTokens: [],
  seed: 0,
});
const prompt = Int32Array.of(300, 17, 42, 99, 5);

describe('WebGpuOps.free', () => {
  it('gives back a buffer from alloc, and ignores views, arena parts and a second free', async () => {
    await gpu.flush(); // nothing encoded: free destroys at once
    const before = gpu.allocatedBytes();
    const t = gpu.alloc('f32', 100, 'freed');
    expect(gpu.allocatedBytes() - before).toBe(400);
    gpu.free(gpu.view(t, 64, 10));
    expect(gpu.allocatedBytes() - before).toBe(400);
    const parts = gpu.arena('f32', { a: 10, b: 10 }, 'parts'); // a buffer each: 80 bytes in all
    gpu.free(parts.a);
    gpu.free(parts.b);
    expect(gpu.allocatedBytes() - before).toBe(480);
    gpu.free(t);
    expect(gpu.allocatedBytes() - before).toBe(80);
    gpu.free(t);
    expect(gpu.allocatedBytes() - before).toBe(80);
  });

  it('waits for the submit of encoded work that still uses the buffer', async () => {
    const x = gpu.alloc('f32', 256, 'x'),
      y = gpu.alloc('f32', 256, 'y');
    gpu.upload(x, new Float32Array(256).fill(2));
    gpu.upload(y, new Float32Array(256).fill(3));
    const before = gpu.allocatedBytes();
    gpu.addInPlace(x, y, 256); // encoded, not submitted
    gpu.addInPlace(y, x, 256);
    gpu.free(x);
    // destroyed now, the submit would fail validation ("destroyed buffer used in a submit")
    expect(gpu.allocatedBytes()).toBe(before);
    await gpu.flush();
    expect(gpu.allocatedBytes()).toBe(before - 1024);
    expect([...(await gpu.read(y, 4))]).toEqual([8, 8, 8, 8]); // y += (x + y) = 3 + 5
    gpu.free(y);
  });
});

describe('the engine gives back per-call GPU buffers', () => {
  it('repeated generate calls leave allocatedBytes where they found it', async () => {
    // the first call makes the KV cache (kept for the next decode) and the read-back buffer
    const first = await engine.generate(prompt, greedy(6));
    const settled = gpu.allocatedBytes();
    for (let i = 0; i < 3; i++) {
      const again = await engine.generate(prompt, greedy(6));
      expect([...again.tokens]).toEqual([...first.tokens]);
      expect(gpu.allocatedBytes()).toBe(settled);
    }
    // a shorter decode fits the cache it has: nothing new
    await engine.generate(prompt.subarray(0, 3), greedy(2));
    expect(gpu.allocatedBytes()).toBe(settled);
  }, 60_000);

  it('a decode that outgrows the KV cache replaces it instead of keeping both', async () => {
    // capacities are whole multiples of 64 positions, and every cache buffer is linear in them;
    // long prompts (one prefill) rather than long decodes keep this quick
    const bytesAfter = async (promptLength: number) => {
      await engine.generate(
        Int32Array.from({ length: promptLength }, (_, i) => (i * 13) % 300),
        greedy(2),
      );
      return gpu.allocatedBytes();
    };
    const cap64 = await bytesAfter(5);
    const cap128 = await bytesAfter(70);
    const cap192 = await bytesAfter(130);
    // replaced: each growth is one 64-position slice; kept, the second would be 1.5x the first
    expect(cap128 - cap64).toBeGreaterThan(0);
    expect(cap192 - cap128).toBe(cap128 - cap64);
    expect(await bytesAfter(120)).toBe(cap192);
  }, 120_000);

  it('forward with full logits and merged() give back their output buffers', async () => {
    const T = 8;
    const inputIds = Int32Array.from({ length: 2 * T }, (_, i) => (i * 37) % 300);
    const mb: MicroBatch = { B: 2, T, inputIds, attentionMask: new Int32Array(2 * T).fill(1), labels: inputIds };
    await engine.forward(mb, true);
    await engine.merged('model.layers.0.mlp.down_proj.weight');
    const settled = gpu.allocatedBytes();
    const r = await engine.forward(mb, true);
    expect(r.logits!.length).toBe(2 * T * 320);
    await engine.merged('model.layers.0.mlp.down_proj.weight');
    expect(gpu.allocatedBytes()).toBe(settled);
  }, 60_000);
});

describe('a buffer the GPU refuses', () => {
  it('becomes an OutOfMemoryError at the next flush, with the bytes and what to change', async () => {
    const { common, weights, residual } = await loadShaderSources();
    const ops = await createWebGpuOps({ shaders: { common, weights, residual } });
    try {
      await ops.flush();
      const held = ops.allocatedBytes();
      // SwiftShader would take gigabytes of host memory before refusing: say no for it
      const device = ops.device as GPUDevice & { popErrorScope(): Promise<GPUError | null> };
      const real = device.popErrorScope.bind(device);
      device.popErrorScope = async () => (await real(), { message: 'Not enough memory left (simulated)' } as GPUError);
      ops.arena('f32', { kv: 2 ** 21 }, 'cache');
      const err = await ops.flush().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OutOfMemoryError);
      const oom = err as OutOfMemoryError;
      expect(oom.plannedBytes).toBe(held + 8 * 2 ** 20); // one 8 MiB tensor
      expect(oom.availableBytes).toBe(held);
      expect(oom.message).toMatch(/kv needs 8\.0 MiB on top of the .* MiB already held/);
      expect(oom.message).toMatch(/Not enough memory left \(simulated\)/);
      expect(oom.message).toMatch(/shorter max length or a smaller batch/);
    } finally {
      ops.dispose();
    }
  });
});
