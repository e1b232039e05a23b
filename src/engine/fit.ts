// Whether a memory plan fits the engine that would run it, and if not, why: decided from the
// config and the settings alone, so the page (and the worker, once config.json is read) can
// refuse a model before its weights download.
//
// The CPU engine keeps everything in one WebAssembly memory, which addresses 4 GiB. WebGPU
// cannot say how much video memory is free, so there the hard limits are the adapter's largest
// buffer and storage binding: base weights are split by rows to fit them, every other tensor
// (an activation, the flat LoRA buffers) must fit one binding whole.

import type { Qwen2Config } from '../core/config.ts';
import { OutOfMemoryError } from '../core/errors.ts';
import type { EngineKind, LoadOptions } from './engine.ts';
import { activationSizes, loraLayout, nf4Applies, planMemory, type MemoryPlanParts } from './plan.ts';
import type { WeightDType } from '../core/dtype.ts';
import type { Quantization } from '../core/nf4.ts';

/** wasm32 addresses 4 GiB: the fast CPU engine's weights, adapter and activations share it. */
export const WASM_MEMORY_BYTES = 2 ** 32;

export interface DeviceLimits {
  kind: EngineKind;
  /** WebGPU: the adapter's maxBufferSize and maxStorageBufferBindingSize. */
  maxBufferSize?: number;
  maxBindingSize?: number;
  /** Bytes the engine may hold in all: the WebAssembly memory on the CPU, a budget on WebGPU when one is set. */
  memoryBytes?: number;
}

export type FitProblem =
  /** The whole plan exceeds the memory the engine can hold. */
  | { kind: 'memory'; need: number; limit: number }
  /** One tensor the kernels bind whole is larger than the adapter's largest storage binding. */
  | { kind: 'binding'; tensor: string; need: number; limit: number };

export interface FitReport {
  fits: boolean;
  total: number;
  problems: FitProblem[];
}

export function cpuLimits(): DeviceLimits {
  return { kind: 'cpu', memoryBytes: WASM_MEMORY_BYTES };
}

/** Tensors the GPU kernels bind whole (bytes), largest first: per-layer activations, residuals, LoRA buffers. */
export function wholeTensors(
  cfg: Qwen2Config,
  opts: LoadOptions,
  kind: EngineKind = 'webgpu',
): { tensor: string; bytes: number }[] {
  const B = opts.maxBatch,
    T = opts.maxSeq;
  const out = Object.entries(activationSizes(cfg, opts.lora, B, T, kind)).map(([tensor, n]) => ({
    tensor,
    bytes: n * 4,
  }));
  out.push({ tensor: 'resid', bytes: B * T * cfg.hiddenSize * 4 });
  out.push({ tensor: 'lora.params', bytes: loraLayout(cfg, opts.lora).size * 4 });
  return out.sort((a, b) => b.bytes - a.bytes);
}

export function checkFit(cfg: Qwen2Config, opts: LoadOptions, plan: MemoryPlanParts, limits: DeviceLimits): FitReport {
  const problems: FitProblem[] = [];
  if (limits.memoryBytes !== undefined && plan.total > limits.memoryBytes)
    problems.push({ kind: 'memory', need: plan.total, limit: limits.memoryBytes });
  if (limits.kind === 'webgpu') {
    const binding = Math.min(limits.maxBindingSize ?? Infinity, limits.maxBufferSize ?? Infinity);
    const worst = wholeTensors(cfg, opts)[0];
    if (worst.bytes > binding)
      problems.push({ kind: 'binding', tensor: worst.tensor, need: worst.bytes, limit: binding });
  }
  return { fits: problems.length === 0, total: plan.total, problems };
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

/** One sentence per problem, for errors thrown before a download (the page words its own). */
export function describeFit(r: FitReport, what: string): string {
  return r.problems
    .map((p) =>
      p.kind === 'memory'
        ? `${what} needs ${mib(p.need)} and the engine can hold ${mib(p.limit)}`
        : `${what}: the ${p.tensor} tensor needs ${mib(p.need)} in one buffer, more than the GPU's largest storage binding (${mib(p.limit)}); use a shorter max length or a smaller batch`,
    )
    .join('; ');
}

/**
 * What "Automatic" loads: the 16-bit base while its plan fits `limits`, else the 4-bit NF4 base
 * (QLoRA) when that plan fits and the shapes allow it; otherwise 16-bit, whose refusal then says why.
 */
export function chooseQuant(
  cfg: Qwen2Config,
  opts: LoadOptions,
  limits: DeviceLimits,
  dtype: WeightDType,
): Quantization {
  const fits = (quant: Quantization) =>
    checkFit(cfg, { ...opts, quant }, planMemory(limits.kind, cfg, { ...opts, quant }, dtype), limits).fits;
  if (fits('none') || !nf4Applies(cfg)) return 'none';
  return fits('nf4') ? 'nf4' : 'none';
}

/** Throws OutOfMemoryError saying why when the plan for `opts` does not fit `limits` (weights in the config's dtype). */
export function assertFits(cfg: Qwen2Config, opts: LoadOptions, limits: DeviceLimits): FitReport {
  const plan = planMemory(limits.kind, cfg, opts, cfg.torchDtype === 'float32' ? 'f32' : 'bf16');
  const fit = checkFit(cfg, opts, plan, limits);
  if (!fit.fits) {
    const engine = limits.kind === 'cpu' ? 'the CPU engine (4 GiB of WebAssembly memory)' : 'WebGPU on this adapter';
    throw new OutOfMemoryError(
      `${describeFit(fit, `training at batch ${opts.maxBatch} x max length ${opts.maxSeq}`)}: it does not fit ${engine}; nothing was downloaded`,
      fit.total,
      fit.problems[0].limit,
    );
  }
  return fit;
}
