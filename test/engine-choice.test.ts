// Which engine Automatic runs (worker/engine-choice.ts) and the session that applies it: a
// software adapter never trains when the CPU engine is there; for a small model on a hardware
// adapter both engines time one step and the faster one stays. The "GPU" here is a second CPU
// engine made slower or faster by a fixed delay, so the oracle is which delay was added.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { createEngine } from '../src/engine/create.ts';
import type { Engine } from '../src/engine/engine.ts';
import { memoryStore } from '../src/io/store.ts';
import { MEASURE_BELOW_PARAMS, planEngine, softwareAdapter } from '../src/worker/engine-choice.ts';
import { TrainingSession } from '../src/worker/session.ts';
import type { LoadSettings } from '../src/worker/api.ts';

describe('softwareAdapter', () => {
  it('names the software renderers browsers fall back to', () => {
    // What Chromium's SwiftShader reports, and Mesa's CPU drivers under Dawn.
    expect(
      softwareAdapter({
        vendor: 'google',
        architecture: 'swiftshader',
        description: 'SwiftShader Device (Subzero) (0x0000C0DE)',
      }),
    ).toBe('SwiftShader');
    expect(softwareAdapter({ vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe(
      'llvmpipe',
    );
    expect(softwareAdapter({ vendor: 'mesa', description: 'lavapipe' })).toBe('lavapipe');
    expect(softwareAdapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toMatch(
      /basic render/i,
    );
    expect(softwareAdapter({ vendor: '', architecture: '', isFallbackAdapter: true })).toBe('a fallback adapter');
  });

  it('leaves hardware adapters alone, also when the browser hides their names', () => {
    expect(
      softwareAdapter({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3060' }),
    ).toBeUndefined();
    expect(softwareAdapter({ vendor: 'apple', architecture: 'metal-3' })).toBeUndefined();
    expect(softwareAdapter({ vendor: '', architecture: '', isFallbackAdapter: false })).toBeUndefined();
  });
});

describe('planEngine', () => {
  const gpu = { webgpu: true };
  it('keeps a choice the user made', () => {
    expect(planEngine('cpu', gpu, 1e9)).toEqual({ kind: 'cpu', reason: 'chosen' });
    expect(planEngine('webgpu', { webgpu: true, software: 'SwiftShader' }, 1e6)).toEqual({
      kind: 'webgpu',
      reason: 'chosen',
    });
  });
  it('never trains on a software adapter, whatever the model', () => {
    for (const params of [1e6, 5e8])
      expect(planEngine('auto', { webgpu: true, software: 'SwiftShader' }, params)).toEqual({
        kind: 'cpu',
        reason: 'software',
      });
    expect(planEngine('auto', { webgpu: false }, 1e6)).toEqual({ kind: 'cpu', reason: 'no-webgpu' });
  });
  it('times both engines for a small model on a hardware adapter, and takes the GPU for a big one', () => {
    expect(planEngine('auto', gpu, MEASURE_BELOW_PARAMS)).toEqual({ kind: 'measure' });
    expect(planEngine('auto', gpu, 494e6)).toEqual({ kind: 'webgpu', reason: 'gpu' });
  });
});

describe('the session picks what the plan says', () => {
  let dir: string;
  let files: File[];
  const NAMES = [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'generation_config.json',
    'model.safetensors',
  ];
  const LOAD: LoadSettings = {
    maxBatch: 2,
    maxSeq: 32,
    lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false },
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'engine-choice-'));
    await makeTinyModel({ preset: 'tiny', out: dir, seed: 3 });
    files = await Promise.all(NAMES.map(async (n) => new File([await readFile(join(dir, n))], n)));
  });
  afterAll(() => {
    vi.unstubAllGlobals();
    return rm(dir, { recursive: true, force: true });
  });

  /** A CPU engine whose gradient passes take `ms` longer; records whether it was disposed. */
  async function slowed(ms: number, log: string[], name: string): Promise<Engine> {
    const e = await createEngine('cpu', { threads: 1 });
    const gradients = e.gradients.bind(e);
    const dispose = e.dispose.bind(e);
    e.gradients = async (mb) => {
      await new Promise((r) => setTimeout(r, ms));
      return gradients(mb);
    };
    e.dispose = async () => {
      log.push(`dispose ${name}`);
      return dispose();
    };
    return e;
  }

  function fakeGpu(description: string) {
    const adapter = {
      info: { vendor: 'test', architecture: '', device: '', description },
      features: new Set<string>(),
      limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 },
    };
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => adapter }, hardwareConcurrency: 2 });
  }

  async function load(gpuDelay: number, cpuDelay: number, description = 'Test GPU 9000') {
    fakeGpu(description);
    const log: string[] = [];
    const s = new TrainingSession({
      modelStore: memoryStore(),
      checkpointStore: memoryStore(),
      createEngine: (k) => (k === 'webgpu' ? slowed(gpuDelay, log, 'webgpu') : slowed(cpuDelay, log, 'cpu')),
    });
    const summary = await s.loadModel({ kind: 'local', files }, 'auto', LOAD);
    return { summary, log, s };
  }

  it('keeps the CPU engine when the GPU step is slower, and says by how much', async () => {
    // 1.5 s of delay: a step's own time varies by hundreds of ms on a busy 2-core machine
    const { summary, log } = await load(1500, 0);
    expect(summary.engineDecision).toMatchObject({ kind: 'cpu', reason: 'measured', adapter: 'test Test GPU 9000' });
    expect(summary.engineDecision!.gpuMs!).toBeGreaterThanOrEqual(1499);
    expect(summary.engineDecision!.gpuMs!).toBeGreaterThan(summary.engineDecision!.cpuMs!);
    expect(log).toEqual(['dispose webgpu']);
  });

  it('keeps the GPU engine when its step is faster', async () => {
    const { summary, log, s } = await load(0, 1500);
    expect(summary.engineDecision).toMatchObject({ kind: 'webgpu', reason: 'measured' });
    expect(summary.engineDecision!.cpuMs!).toBeGreaterThanOrEqual(1499);
    expect(summary.engineDecision!.cpuMs!).toBeGreaterThan(summary.engineDecision!.gpuMs!);
    expect(log).toEqual(['dispose cpu']);
    // The engine that stayed holds the model: the page can time a step of its own rows on it.
    const ids = Int32Array.from({ length: 12 }, (_, i) => i + 5);
    const ms = await s.measureStep([{ ids, labels: ids, truncated: 0 }]);
    expect(ms).toBeGreaterThan(0);
  });

  it('never creates a WebGPU engine on a software adapter', async () => {
    const { summary, log } = await load(0, 0, 'SwiftShader Device (Subzero)');
    expect(summary.engineDecision).toEqual({
      kind: 'cpu',
      reason: 'software',
      adapter: 'test SwiftShader Device (Subzero)',
      software: 'SwiftShader',
    });
    expect(log).toEqual([]);
  });
});
