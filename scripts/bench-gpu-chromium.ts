// The bench step in headless Chromium on its own WebGPU (e2e/gpu-bench-page.ts served by vite),
// the way the app runs: scripts/bench-gpu.ts --chromium / --chromium-swiftshader. Not in the GPU
// kit (no Chromium there); playwright-core and vite load only when asked for.

import { fileURLToPath } from 'node:url';

export interface ChromiumRun {
  /** The page's bench result (runStepBench's fields and the adapter), or why there is none. */
  result: Record<string, unknown> | { error: string };
  adapter: string;
}

const COMMON_FLAGS = [
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Chrome's advice for WebGPU in headless Linux on a GPU (Vulkan through ANGLE); never tried on a GPU here
const REAL_GPU_FLAGS = ['--use-angle=vulkan', '--enable-features=Vulkan', '--disable-vulkan-surface'];
const CHROMIUM_LIMIT_MS = 60 * 60_000;

export async function runChromiumStep(
  preset: string,
  o: { batch: number; seq: number; steps: number },
  flags: 'real' | 'swiftshader',
): Promise<ChromiumRun> {
  process.stderr.write(`\n$ chromium e2e/gpu-bench-page.html?preset=${preset} (${flags} flags)\n`);
  const [{ chromium }, { createServer }] = await Promise.all([import('playwright-core'), import('vite')]);
  const vite = await createServer({
    configFile: false,
    root: fileURLToPath(new URL('..', import.meta.url)),
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 5320, strictPort: false, hmr: false },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await vite.listen();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...COMMON_FLAGS, ...(flags === 'swiftshader' ? ['--disable-gpu'] : REAL_GPU_FLAGS)],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => process.stderr.write(`${m.text()}\n`));
    page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    const query = new URLSearchParams({ preset, batch: String(o.batch), seq: String(o.seq), steps: String(o.steps) });
    await page.goto(new URL(`e2e/gpu-bench-page.html?${query}`, vite.resolvedUrls!.local[0]).href);
    await page.waitForFunction(() => (window as { __bench?: unknown }).__bench !== undefined, null, {
      timeout: CHROMIUM_LIMIT_MS,
      polling: 1000,
    });
    const result = (await page.evaluate(() => (window as { __bench?: unknown }).__bench)) as ChromiumRun['result'];
    process.stderr.write(`${JSON.stringify(result)}\n`);
    return { result, adapter: 'error' in result ? '?' : String(result.adapter ?? '?') };
  } catch (e) {
    return { result: { error: (e as Error).message.split('\n')[0] }, adapter: '?' };
  } finally {
    await browser.close();
    await vite.close();
  }
}
