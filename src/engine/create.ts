// The one place that picks a backend. Callers get an Engine and cannot tell which it is.

import { EngineError } from '../core/errors.ts';
import type { Engine, EngineKind } from './engine.ts';
import { LoraEngine, type Backend } from './lora-engine.ts';
import { CpuBackend } from './cpu/backend.ts';

export type { EngineKind } from './engine.ts';

export interface CreateEngineOptions {
  /** CPU threads for the fast CPU backend (default: all cores where shared memory allows). */
  threads?: number;
  /** Use the scalar reference kernels (tests). */
  scalar?: boolean;
  /** A backend to run on instead of a new one; it outlives the engine (one device for several models). */
  backend?: Backend<unknown, unknown>;
  /** WebGPU device options (feature paths, limits) for kind 'webgpu'. */
  gpu?: import('./gpu/backend.ts').WebGpuBackendOptions;
}

export async function createEngine(
  kind: EngineKind,
  opts: CreateEngineOptions = {},
): Promise<Engine & LoraEngine<unknown, unknown>> {
  if (opts.backend) {
    if (opts.backend.kind !== kind) throw new EngineError(`the given backend runs ${opts.backend.kind}, not ${kind}`);
    return new LoraEngine(opts.backend, true);
  }
  if (kind === 'cpu') {
    if (!opts.scalar) {
      const fast = await loadFastCpu(opts.threads);
      if (fast) return new LoraEngine(fast) as LoraEngine<unknown, unknown>;
    }
    return new LoraEngine(new CpuBackend()) as LoraEngine<unknown, unknown>;
  }
  if (kind === 'webgpu') {
    const gpu = await import('./gpu/backend.ts').catch((e) => {
      throw new EngineError(`the WebGPU backend failed to load: ${(e as Error).message}`);
    });
    return new LoraEngine(await gpu.createWebGpuBackend(opts.gpu)) as LoraEngine<unknown, unknown>;
  }
  throw new EngineError(`unknown engine "${kind}" (cpu or webgpu)`);
}

/**
 * The SIMD/threaded CPU backend; null (the scalar kernels) where this runtime has no WebAssembly
 * SIMD. Other failures surface: a silent fallback would hide a 50x slowdown.
 */
async function loadFastCpu(threads?: number) {
  const mod = await import('./cpu/fast/backend.ts');
  if (!mod.fastCpuSupported()) return null;
  return mod.createFastCpuBackend({ threads });
}
