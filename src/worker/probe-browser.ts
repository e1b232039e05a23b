// What this browser offers the engines: WebGPU's adapter (and whether it is a software
// renderer, which Automatic never trains on), its limits and features, the cores and storage.
// Loads nothing; the session and the page's header both read it.

import { softwareAdapter } from './engine-choice.ts';
import { storageInfo } from '../io/cache.ts';
import type { ProbeResult } from './api.ts';

export async function probeBrowser(): Promise<ProbeResult> {
  const nav = globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined;
  const base = {
    features: [] as string[],
    shaderF16: false,
    cores: nav?.hardwareConcurrency ?? 1,
    storage: await storageInfo().catch(() => undefined),
  };
  if (!nav?.gpu)
    return {
      ...base,
      webgpu: false,
      reason: 'this browser has no WebGPU (navigator.gpu is missing); training runs on the CPU',
    };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { ...base, webgpu: false, reason: `requesting a WebGPU adapter failed: ${(e as Error).message}` };
  }
  if (!adapter)
    return {
      ...base,
      webgpu: false,
      reason: 'WebGPU is present but offers no adapter (GPU disabled or blocklisted); training runs on the CPU',
    };
  const info = adapter.info;
  const features = [...adapter.features].map(String).sort();
  const fallback =
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    ...base,
    webgpu: true,
    adapter:
      [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter',
    software: softwareAdapter({ ...info, isFallbackAdapter: fallback }),
    features,
    shaderF16: features.includes('shader-f16'),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}
