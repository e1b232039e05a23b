// Which engine "Automatic" runs, and why. A software WebGPU adapter (SwiftShader, llvmpipe,
// lavapipe, WARP: what a browser offers when it has no usable GPU) runs the kernels on the CPU
// through an emulator, hundreds of times slower than the CPU engine itself, so it never trains
// when the CPU engine is there. A hardware adapter wins for real models; for a small model, where
// launch overheads can outweigh the GPU's arithmetic, a short timed step on both engines decides.

import { EngineError } from '../core/errors.ts';
import type { Engine, EngineKind, MemoryPlan, MicroBatch } from '../engine/engine.ts';

export type EngineChoice = 'auto' | EngineKind;

export type EngineReason =
  /** The user picked this engine. */
  | 'chosen'
  /** Automatic, no WebGPU adapter at all. */
  | 'no-webgpu'
  /** Automatic, the only adapter is a software renderer. */
  | 'software'
  /** Automatic, a hardware adapter and a model big enough that the GPU wins. */
  | 'gpu'
  /** Automatic, the WebGPU backend failed to start. */
  | 'gpu-failed'
  /** Automatic, both engines timed one step and this one was faster. */
  | 'measured';

/** What the page shows about the engine that runs: its kind, the reason, and the numbers behind it. */
export interface EngineDecision {
  kind: EngineKind;
  reason: EngineReason;
  /** The WebGPU adapter's description, when there is one. */
  adapter?: string;
  /** The software renderer's name ('software'). */
  software?: string;
  /** Milliseconds of the timed step on each engine ('measured'). */
  cpuMs?: number;
  gpuMs?: number;
  /** Why the WebGPU backend did not start ('gpu-failed'). */
  detail?: string;
}

export interface AdapterFacts {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** GPUAdapterInfo.isFallbackAdapter (or the older GPUAdapter.isFallbackAdapter). */
  isFallbackAdapter?: boolean;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render|\bwarp\b/i;

/** The software renderer's name when the adapter is one (isFallbackAdapter or a known name), else undefined. */
export function softwareAdapter(a: AdapterFacts): string | undefined {
  const text = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ');
  const m = SOFTWARE.exec(text);
  if (m)
    return /swiftshader/i.test(m[0])
      ? 'SwiftShader'
      : /llvmpipe/i.test(m[0])
        ? 'llvmpipe'
        : /lavapipe/i.test(m[0])
          ? 'lavapipe'
          : m[0];
  return a.isFallbackAdapter ? text || 'a fallback adapter' : undefined;
}

/** Models up to this many parameters are timed on both engines before Automatic picks one. */
export const MEASURE_BELOW_PARAMS = 50e6;

export type Plan = { kind: EngineKind; reason: EngineReason } | { kind: 'measure' };

/** What Automatic does before anything is timed. */
export function planEngine(choice: EngineChoice, probe: { webgpu: boolean; software?: string }, params: number): Plan {
  if (choice !== 'auto') return { kind: choice, reason: 'chosen' };
  if (!probe.webgpu) return { kind: 'cpu', reason: 'no-webgpu' };
  if (probe.software) return { kind: 'cpu', reason: 'software' };
  return params <= MEASURE_BELOW_PARAMS ? { kind: 'measure' } : { kind: 'webgpu', reason: 'gpu' };
}

/**
 * The engine a choice will run on this browser, decided before anything loads: the one answer
 * the header, the catalog's fit and refusal, the settings' engine limits and the worker's
 * pre-download check all use. A small model on a hardware adapter is timed at load; until then
 * it counts as WebGPU (the stricter limits). Undefined while the probe is not known, or when
 * WebGPU is chosen and there is none (the load then says why).
 */
export function engineFor(
  choice: EngineChoice,
  probe: { webgpu: boolean; software?: string } | undefined,
  params = Infinity,
): EngineKind | undefined {
  if (choice === 'cpu') return 'cpu';
  if (!probe) return undefined;
  if (choice === 'webgpu') return probe.webgpu ? 'webgpu' : undefined;
  const plan = planEngine(choice, probe, params);
  return plan.kind === 'measure' ? 'webgpu' : plan.kind;
}

/** Milliseconds of the faster of two gradient passes over `batch` (the first also warms up). */
export async function timeStep(engine: Engine, batch: MicroBatch): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    await engine.gradients(batch);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** A micro-batch of `B` rows of `T` ids, every position labelled, for timing only. */
export function timingBatch(B: number, T: number, vocab: number): MicroBatch {
  const inputIds = new Int32Array(B * T);
  for (let i = 0; i < inputIds.length; i++) inputIds[i] = (i * 7919 + 13) % vocab;
  return { B, T, inputIds, attentionMask: new Int32Array(B * T).fill(1), labels: inputIds.slice() };
}

/**
 * The engine for a load, with the model in it (`load` uploads it), and why it was picked. A
 * WebGPU backend that fails to start leaves Automatic on the CPU; a small model on a hardware
 * adapter is timed on both engines and the faster one stays.
 */
export async function chooseEngine(
  choice: EngineChoice,
  probe: { webgpu: boolean; software?: string; adapter?: string; reason?: string } | undefined,
  params: number,
  shape: { vocabSize: number; maxBatch: number; maxSeq: number },
  create: (kind: EngineKind) => Promise<Engine>,
  load: (engine: Engine) => Promise<MemoryPlan>,
): Promise<{ engine: Engine; decision: EngineDecision; memory: MemoryPlan }> {
  if (choice === 'webgpu' && !probe?.webgpu)
    throw new EngineError(`WebGPU was asked for but is not available: ${probe?.reason}`);
  const adapter = probe?.webgpu ? probe.adapter : undefined;
  const plan = planEngine(choice, probe ?? { webgpu: false }, params);
  const onCpu = async (decision: EngineDecision) => {
    const engine = await create('cpu');
    return { engine, decision, memory: await load(engine) };
  };
  if (plan.kind === 'cpu')
    return onCpu({
      kind: 'cpu',
      reason: plan.reason,
      adapter,
      ...(plan.reason === 'software' ? { software: probe?.software } : {}),
    });
  let gpu: Engine | undefined;
  let gpuMemory: MemoryPlan;
  try {
    gpu = await create('webgpu');
    gpuMemory = await load(gpu);
  } catch (e) {
    await gpu?.dispose().catch(() => undefined);
    if (choice === 'webgpu') throw e;
    // 'auto' means the CPU is an acceptable answer when the GPU backend cannot start.
    return onCpu({ kind: 'cpu', reason: 'gpu-failed', adapter, detail: (e as Error).message });
  }
  if (plan.kind !== 'measure')
    return { engine: gpu, decision: { kind: 'webgpu', reason: plan.reason, adapter }, memory: gpuMemory };
  const cpu = await onCpu({ kind: 'cpu', reason: 'measured', adapter });
  const batch = timingBatch(Math.max(1, shape.maxBatch), Math.min(128, shape.maxSeq), shape.vocabSize);
  const cpuMs = await timeStep(cpu.engine, batch);
  const gpuMs = await timeStep(gpu, batch);
  if (gpuMs < cpuMs) {
    await cpu.engine.dispose();
    return { engine: gpu, decision: { kind: 'webgpu', reason: 'measured', adapter, cpuMs, gpuMs }, memory: gpuMemory };
  }
  await gpu.dispose();
  return { ...cpu, decision: { ...cpu.decision, cpuMs, gpuMs } };
}
