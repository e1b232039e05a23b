// `adapter [--self-check]`: the GPU kit's first look at the machine's WebGPU adapter (Dawn).
// Prints `adapter: ...` and `driver: ...`; exits 4 when the adapter is a software rasterizer
// (llvmpipe / lavapipe, SwiftShader, WARP, Microsoft Basic Render Driver), whose numbers say
// nothing about a GPU, unless KIT_ALLOW_EMULATION=1. With --self-check it then makes the engine's
// device, whose self-check runs each kernel variant against the CPU, and prints one verdict line
// per variant (`self-check f16 tiles: PASS ...`) and the kernel path in use.

import { scriptFlags } from '../../src/cli/args.ts';
import { createWebGpuBackend } from '../../src/engine/gpu/backend.ts';
import { VARIANT_NAMES } from '../../src/engine/gpu/self-check.ts';

/** A software adapter by its name or driver: the ones Dawn falls back to without a GPU driver. */
export function softwareAdapter(text: string): boolean {
  return /llvmpipe|lavapipe|swiftshader|\bwarp\b|microsoft basic/i.test(text);
}

export const SOFTWARE_EXIT = 4;

export async function adapterMain(argv: string[]): Promise<number> {
  const f = scriptFlags(
    'adapter',
    'the WebGPU adapter and driver; exit 4 on a software adapter unless KIT_ALLOW_EMULATION=1',
    {
      'self-check': {
        kind: 'bool',
        help: "then run the engine's self-check of its kernel variants and print the verdicts",
      },
    },
    argv,
  );
  const pkg = 'webgpu';
  const { create } = (await import(/* @vite-ignore */ pkg)) as { create(flags: string[]): GPU };
  const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    console.log('adapter: none (Dawn found no Vulkan adapter: see the ICD files in env.txt)');
    return 1;
  }
  const info = adapter.info;
  const name = [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unnamed';
  console.log(`adapter: ${name}`);
  console.log(`driver: ${info.description || 'not reported'}`);
  const software = softwareAdapter(`${name} ${info.description}`);
  if (software && process.env.KIT_ALLOW_EMULATION !== '1') return SOFTWARE_EXIT;
  if (!f['self-check']) return 0;
  const backend = await createWebGpuBackend();
  try {
    for (const c of backend.info.checks) {
      console.log(
        `self-check ${VARIANT_NAMES[c.variant]}: ${c.ok ? 'PASS' : 'FAIL, switched off'} (relative error ${c.error.toExponential(1)}, bound ${c.bound}; worst ${c.worst})`,
      );
    }
    if (!backend.info.checks.length)
      console.log('self-check: no variant to check (the device has neither shader-f16 nor subgroups)');
    console.log(`kernels: ${backend.describe().kernels}`);
    console.log(`self-check time: ${Math.round(backend.info.selfCheckMs)} ms (pipelines it compiled included)`);
  } finally {
    backend.dispose();
  }
  return 0;
}
