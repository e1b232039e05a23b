// The WebGPU backend as the engine sees it (lora-engine.ts Backend): the kernels plus a
// description of the device and its memory budget.

import type { EngineInfo } from '../engine.ts';
import { createWebGpuOps, type WebGpuOptions } from './create.ts';
import type { WebGpuOps } from './webgpu-ops.ts';

export interface WebGpuBackendOptions extends WebGpuOptions {
  /** Bytes the engine may plan for; WebGPU cannot tell how much video memory is free. */
  memoryBudgetBytes?: number;
}

/** The kernels that run on subgroup operations where the device has them (else on workgroup memory). */
export const SUBGROUP_KERNELS = 'norms, cross-entropy, attention, LoRA x@A';

/**
 * The kernel path in words, for the engine card, `golden` and the benchmark: "f16 tiles" (shader-f16
 * matmul tiles, f32 sums) or "f32 tiles", then "subgroups (the kernels)" or "plain reductions".
 */
export function kernelPath(info: { path: 'f16' | 'f32'; subgroups: boolean }): string {
  return `${info.path} tiles, ${info.subgroups ? `subgroups (${SUBGROUP_KERNELS})` : 'plain reductions'}`;
}

export type WebGpuBackend = WebGpuOps & { describe(): EngineInfo; memoryBudget(): number | undefined };

export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const ops = await createWebGpuOps(opts);
  return Object.assign(ops, {
    describe(): EngineInfo {
      return {
        kind: 'webgpu',
        device: ops.info.device,
        features: ops.info.features,
        maxBufferSize: ops.info.maxBufferSize,
        maxBindingSize: ops.info.maxBindingSize,
        threads: 1,
        kernels: kernelPath(ops.info),
        notices: ops.info.notices,
      };
    },
    memoryBudget(): number | undefined {
      return opts.memoryBudgetBytes;
    },
  });
}
