// Finds a WebGPU device (navigator.gpu in a page or worker, the `webgpu` package's Dawn in
// Node), asks for the adapter's real limits rather than WebGPU's small defaults, and compiles
// every kernel before returning.

import { EngineError, GpuValidationError } from '../../core/errors.ts';
import { loadShaderSources, type ShaderSources } from './shader-sources.ts';
import { PipelineCache } from './pipelines.ts';
import { MatmulPlanner } from './variants.ts';
import { refusalNotice, selfCheck } from './self-check.ts';
import { WebGpuOps } from './webgpu-ops.ts';

/** No usable WebGPU here (no API, no adapter, or the device request failed). */
export class WebGpuUnavailableError extends EngineError {}

export interface WebGpuOptions {
  /** Defaults to navigator.gpu, else Dawn from the `webgpu` package (Node). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Caps one storage binding below the adapter's limit (tests use it to force weight chunking). */
  maxBindingBytes?: number;
  /** Caps one weight chunk (tests force row splitting with it). */
  maxWeightChunkBytes?: number;
  /** Logits held at once by the cross-entropy (M x slice); tests force many slices with it. */
  ceSliceElements?: number;
  /**
   * Optional device features, each used only where the adapter offers it (default: both on):
   * shader-f16 (matmul tiles in f16, f32 accumulation) and subgroups (reductions).
   */
  features?: { f16?: boolean; subgroups?: boolean };
  /**
   * Check the f16 and subgroup variants against the CPU before returning, and make the device
   * again without any that fails (default true; self-check.ts).
   */
  selfCheck?: boolean;
  /** Tests: every matmul on one tile shape, unsplit (default: chosen by shape). */
  tiles?: 'small' | 'big';
  shaders?: ShaderSources;
}

const LIMITS_WE_USE = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxBindGroups',
] as const;

/**
 * Dawn quantizes timestamps to 65.5 µs by default (a browser's guard against timing attacks),
 * which makes per-kernel profiles on a GPU meaningless; a Node process has nothing to guard.
 */
const DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'];

/** Chromium's SwiftShader Vulkan driver: Node's Dawn falls back to it when no GPU driver answers. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

async function nodeAdapter(powerPreference: GPUPowerPreference): Promise<{ gpu: GPU; adapter: GPUAdapter | null }> {
  let create: (flags: string[]) => GPU;
  try {
    const pkg = 'webgpu'; // not bundled: the browser never reaches this line
    ({ create } = (await import(/* @vite-ignore */ pkg)) as { create(flags: string[]): GPU });
  } catch (e) {
    throw new WebGpuUnavailableError(`WebGPU for Node (the "webgpu" package) could not start: ${(e as Error).message}`);
  }
  let gpu = create(DAWN_FLAGS);
  let adapter = await gpu.requestAdapter({ powerPreference });
  if (!adapter && !process.env.VK_ICD_FILENAMES) {
    const fsModule = 'node:fs';
    const { existsSync } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs');
    if (existsSync(SWIFTSHADER_ICD)) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      gpu = create(DAWN_FLAGS);
      adapter = await gpu.requestAdapter({ powerPreference });
    }
  }
  return { gpu, adapter };
}

async function findAdapter(opts: WebGpuOptions): Promise<{ gpu: GPU; adapter: GPUAdapter | null }> {
  const powerPreference = opts.powerPreference ?? 'high-performance';
  const gpu = opts.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (gpu) return { gpu, adapter: await gpu.requestAdapter({ powerPreference }) };
  if (typeof process !== 'undefined' && process.versions?.node) return nodeAdapter(powerPreference);
  throw new WebGpuUnavailableError(
    'this browser has no WebGPU (navigator.gpu is missing); use the CPU engine or a WebGPU browser',
  );
}

export async function createWebGpuOps(opts: WebGpuOptions = {}): Promise<WebGpuOps> {
  const { gpu, adapter } = await findAdapter(opts);
  if (!adapter) throw new WebGpuUnavailableError('no WebGPU adapter: the GPU is blocked, busy or unsupported here');
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_WE_USE) requiredLimits[name] = adapter.limits[name];
  let device: GPUDevice;
  try {
    // timestamps let benchmarks time kernels on the GPU itself rather than around a submit
    const wanted: GPUFeatureName[] = ['timestamp-query'];
    if (opts.features?.f16 !== false) wanted.push('shader-f16');
    if (opts.features?.subgroups !== false) wanted.push('subgroups' as GPUFeatureName);
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    device = await adapter.requestDevice({ label: 'webtune', requiredLimits, requiredFeatures });
  } catch (e) {
    throw new WebGpuUnavailableError(`the WebGPU device request failed: ${(e as Error).message}`);
  }
  const limits = device.limits;
  if (limits.maxStorageBuffersPerShaderStage < 6)
    throw new WebGpuUnavailableError(
      `the GPU allows ${limits.maxStorageBuffersPerShaderStage} storage buffers per shader stage; the kernels need 6`,
    );
  const maxBindingSize = Math.min(
    limits.maxStorageBufferBindingSize,
    limits.maxBufferSize,
    opts.maxBindingBytes ?? Infinity,
  );
  let pipelines: PipelineCache;
  const sources = opts.shaders ?? (await loadShaderSources());
  // the subgroup path exists only where its kernels are written (shaders/reduce_subgroups.wgsl, lanes_subgroups.wgsl)
  const features = {
    f16: device.features.has('shader-f16'),
    subgroups:
      device.features.has('subgroups' as GPUFeatureName) &&
      'reduce_subgroups' in sources &&
      'lanes_subgroups' in sources,
  };
  const planner = new MatmulPlanner(limits.maxComputeWorkgroupStorageSize, features.f16);
  planner.force = opts.tiles ?? null;
  try {
    pipelines = await PipelineCache.build(device, sources, features, planner.variants());
  } catch (e) {
    device.destroy();
    throw e instanceof EngineError
      ? e
      : new GpuValidationError(`compiling the WGSL kernels failed: ${(e as Error).message}`);
  }
  const info = adapter.info;
  const memoryLimits = {
    maxBufferSize: limits.maxBufferSize,
    maxBindingSize,
    maxWeightChunkBytes: Math.min(maxBindingSize, opts.maxWeightChunkBytes ?? Infinity),
    alignment: limits.minStorageBufferOffsetAlignment,
  };
  const ops = new WebGpuOps(
    device,
    pipelines,
    memoryLimits,
    opts.ceSliceElements ?? 4 << 20,
    {
      device: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'WebGPU device',
      features: [...adapter.features],
      maxBufferSize: limits.maxBufferSize,
      maxBindingSize,
      path: features.f16 ? 'f16' : 'f32',
      subgroups: features.subgroups,
      checks: [],
      notices: [],
      selfCheckMs: 0,
    },
    planner,
  );
  // Node's Dawn destroys its instance when the GPU object is collected, under a live device
  ops.keepAlive = [gpu, adapter];
  if (opts.selfCheck === false || !(features.f16 || features.subgroups)) return ops;
  const t0 = performance.now();
  const verdicts = await selfCheck(ops, features, planner);
  ops.info.selfCheckMs = performance.now() - t0;
  // f16's probes run the subgroup kernels too (cross-entropy): with those refused, f16 is judged
  // again on the fallback device rather than refused with them
  const failed = verdicts.filter((v) => !v.ok);
  const refused = failed.filter((v) => v.variant === 'subgroups').length
    ? failed.filter((v) => v.variant === 'subgroups')
    : failed;
  if (!refused.length) {
    ops.releaseAll(); // the probes' buffers: a model loads onto an empty device
    ops.info.checks = verdicts;
    return ops;
  }
  // an adapter gives one device: ask again, without the refused variants
  ops.dispose();
  const without = { ...opts.features };
  for (const v of refused) without[v.variant] = false;
  const fallback = await createWebGpuOps({ ...opts, features: without });
  fallback.info.checks = [...refused, ...fallback.info.checks];
  fallback.info.notices = [...refused.map(refusalNotice), ...fallback.info.notices];
  fallback.info.selfCheckMs += ops.info.selfCheckMs;
  return fallback;
}
