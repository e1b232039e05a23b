// Which Vulkan driver Node's Dawn uses in the tests, decided in one place. Import this module
// FIRST in a GPU test file (before anything that loads the `webgpu` package): it sets
// VK_ICD_FILENAMES to Mesa 25 lavapipe (scripts/lavapipe.sh: shader-f16, subgroups, ~20x faster
// than SwiftShader), or to Chromium's SwiftShader where lavapipe was not fetched.
//
// A test that needs a feature the driver lacks calls needGpu(): locally it skips with the
// reason printed; under CI=true it fails, naming what is missing (no silent skip).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach } from 'vitest';
import { needTool } from './skip.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

function lavapipeIcd(): string | undefined {
  try {
    const out = execFileSync(join(root, 'scripts', 'lavapipe.sh'), ['--check'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const path = out.toString().trim();
    return path && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The ICD json in use: an explicit VK_ICD_FILENAMES wins, then lavapipe, then SwiftShader. */
export const LAVAPIPE_ICD = lavapipeIcd();
if (!process.env.VK_ICD_FILENAMES) {
  if (LAVAPIPE_ICD) process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD;
  else if (existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}
export const ON_LAVAPIPE = !!LAVAPIPE_ICD && process.env.VK_ICD_FILENAMES === LAVAPIPE_ICD;

export type GpuNeed = 'lavapipe' | 'any';

/**
 * Why a test needing `need` cannot run here, or undefined when it can. 'lavapipe' = the f16 and
 * subgroup paths (Mesa 25 lavapipe fetched by scripts/lavapipe.sh); 'any' = some Vulkan driver.
 */
export function gpuMissing(need: GpuNeed): string | undefined {
  if (need === 'lavapipe' && !ON_LAVAPIPE) {
    return LAVAPIPE_ICD
      ? `VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES} overrides Mesa 25 lavapipe, which this test needs`
      : 'Mesa 25 lavapipe is not fetched (run scripts/lavapipe.sh; .ci/run does)';
  }
  if (!process.env.VK_ICD_FILENAMES || !existsSync(process.env.VK_ICD_FILENAMES.split(':')[0])) {
    return 'no Vulkan driver for Dawn (neither lavapipe nor Chromium SwiftShader is installed)';
  }
  return undefined;
}

/**
 * true when the test may run. Otherwise: under CI=true throws (the test file fails with the
 * reason); locally records the reason (test/helpers/skip.ts) and returns false, for
 * describe.skipIf(!needGpu(...)).
 */
export function needGpu(need: GpuNeed, what: string): boolean {
  const missing = gpuMissing(need);
  if (!missing) return true;
  return needTool(what, missing);
}

/**
 * needGpu for a whole file: when the device is missing every test of the file skips (locally,
 * with the reason recorded) and the caller's beforeAll returns early on false.
 *   const GPU = gpuFile('any', 'WebGPU kernels against CpuOps');
 *   beforeAll(async () => { if (!GPU) return; gpu = await createWebGpuOps(); });
 */
export function gpuFile(need: GpuNeed, what: string): boolean {
  const ok = needGpu(need, what);
  if (!ok) beforeEach((ctx) => ctx.skip());
  return ok;
}
