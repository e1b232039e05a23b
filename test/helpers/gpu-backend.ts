// One WebGPU backend per kernel path for the whole test file (worker process), created on first
// use: creating a device and compiling its kernels costs seconds on lavapipe (tens on SwiftShader),
// a golden case a second or two. Import test/helpers/gpu-env.ts before this (it picks the driver).
import { createWebGpuBackend, type WebGpuBackend } from '../../src/engine/gpu/index.ts';

const made = new Map<string, Promise<WebGpuBackend>>();

/** The shared backend on the f16 path (shader-f16 tiles; needs a device that offers it) or f32. */
export function gpuBackend(path: 'f32' | 'f16'): Promise<WebGpuBackend> {
  let b = made.get(path);
  if (!b) {
    b = createWebGpuBackend({ features: { f16: path === 'f16' } });
    made.set(path, b);
  }
  return b;
}

/** Disposes every backend made so far (afterAll of a file that wants its memory back early). */
export async function disposeGpuBackends(): Promise<void> {
  for (const b of made.values()) (await b.catch(() => undefined))?.dispose();
  made.clear();
}
