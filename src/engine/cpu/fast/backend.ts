// The fast CPU backend as src/engine/create.ts loads it: FastCpuOps plus the description the
// engine reports.

import type { EngineInfo } from '../../engine.ts';
import { FastCpuOps } from './ops.ts';
import { FastKernels } from './kernels.ts';

export class FastCpuBackend extends FastCpuOps {
  describe(): EngineInfo {
    const k = this.kernels;
    const features = [
      'wasm-simd128',
      ...(k.relaxed ? ['wasm-relaxed-simd'] : []),
      ...(k.shared ? ['wasm-threads'] : []),
    ];
    return {
      kind: 'cpu',
      device: `CPU (WebAssembly SIMD${k.relaxed ? ' + FMA' : ''}, ${k.threads} thread${k.threads > 1 ? 's' : ''})`,
      features,
      maxBufferSize: Infinity,
      maxBindingSize: Infinity,
      threads: k.threads,
    };
  }
}

/** Logical cores, where the runtime tells. */
async function coreCount(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  try {
    const name = 'node:os';
    const os = (await import(/* @vite-ignore */ name)) as typeof import('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  } catch {
    return 1;
  }
}

/** False where WebAssembly SIMD is missing (very old browsers): use the scalar CpuBackend there. */
export { simdSupported as fastCpuSupported } from './wasm.ts';

/** threads: default all cores (at most 8); one thread where shared memory is unavailable. */
export async function createFastCpuBackend(
  opts: { threads?: number; relaxed?: boolean } = {},
): Promise<FastCpuBackend> {
  const threads = opts.threads ?? Math.min(8, await coreCount());
  const kernels = await FastKernels.create({ threads, relaxed: opts.relaxed });
  return new FastCpuBackend(kernels);
}
