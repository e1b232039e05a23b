// The WebGPU kernel parity cases in headless Chromium (SwiftShader WebGPU, no GPU needed):
// serves e2e/gpu-page.html with vite, waits for its report and prints one line per case.
//   npx tsx e2e/gpu-chromium.ts        (exit code 0 when every case matches the CPU oracle)

import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer as createVite } from 'vite';
import type { ParityResult } from './gpu-cases.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const TIMEOUT_MS = 180_000;

const vite = await createVite({
  configFile: false,
  root,
  logLevel: 'error',
  server: { host: '127.0.0.1', port: 5310, strictPort: false, hmr: false },
  optimizeDeps: { noDiscovery: true, include: [] },
  worker: { format: 'es' },
});
await vite.listen();
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--enable-unsafe-webgpu', '--disable-gpu', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = 0;
try {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(new URL('e2e/gpu-page.html', vite.resolvedUrls!.local[0]).href);
  await page.waitForFunction(() => window.__gpuParity !== undefined, null, { timeout: TIMEOUT_MS });
  const report = (await page.evaluate(() => window.__gpuParity))!;
  console.log(`adapter: ${report.adapter || '(none)'}`);
  if (report.error) {
    console.log(`  FAIL setup: ${report.error}`);
    failed++;
  }
  for (const r of report.results as ParityResult[]) {
    console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (rel err ${r.worst.toExponential(1)})${r.ok ? '' : `: ${r.detail}`}`);
    if (!r.ok) failed++;
  }
  if (report.results.length === 0 && !report.error) failed++;
  if (failed && consoleErrors.length) console.log(`console errors:\n${consoleErrors.join('\n')}`);
  console.log(`${report.results.filter((r) => r.ok).length} ok, ${failed} failed`);
} finally {
  await browser.close();
  await vite.close();
}
process.exit(failed ? 1 : 0);
