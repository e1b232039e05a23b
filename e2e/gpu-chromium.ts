// The WebGPU kernel parity cases, then golden cases through the engine, in headless Chromium
// (SwiftShader WebGPU, no GPU needed): serves e2e/gpu-page.html and e2e/gpu-golden-page.html with
// vite, waits for their reports and prints one line per case.
//   npx tsx e2e/gpu-chromium.ts [--golden all|none|name,name]   (exit code 0 when every case passes)
// `npm run test:full` replays two golden cases here (e2e/gpu-flows.mjs) (Qwen3, and NF4 with blocks straddling rows: the
// browser-only differences are the shader compiler and the page, and each case costs a minute of
// SwiftShader); test/full/gpu-golden.test.ts replays every case in Node, `--golden all` does here.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer as createVite } from 'vite';
import type { ParityResult } from './gpu-cases.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const TIMEOUT_MS = 600_000; // one page (SwiftShader compiles every pipeline of a case)
const DEFAULT_GOLDEN = ['qwen3-bf16', 'nf4-odd-f32'];
const all = readdirSync(new URL('../test/fixtures/golden', import.meta.url)).filter((n) => !n.includes('.'));
const arg = process.argv.indexOf('--golden') > 0 ? process.argv[process.argv.indexOf('--golden') + 1] : '';
const cases = arg === 'all' ? all : arg === 'none' ? [] : arg ? arg.split(',') : DEFAULT_GOLDEN;
for (const c of cases)
  if (!all.includes(c)) throw new Error(`--golden: no case ${c} in test/fixtures/golden (${all.join(', ')})`);
const pages = ['e2e/gpu-page.html', ...(cases.length ? [`e2e/gpu-golden-page.html?cases=${cases.join(',')}`] : [])];

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
  args: [
    '--headless=new',
    '--enable-unsafe-webgpu',
    '--disable-gpu',
    '--no-sandbox',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let failed = 0,
  passed = 0;
try {
  for (const path of pages) {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(new URL(path, vite.resolvedUrls!.local[0]).href);
    await page.waitForFunction(() => window.__gpuParity !== undefined, null, { timeout: TIMEOUT_MS, polling: 500 });
    const report = (await page.evaluate(() => window.__gpuParity))!;
    console.log(`${path.split('?')[0]}: adapter ${report.adapter || '(none)'}`);
    const before = failed;
    if (report.error) {
      console.log(`  FAIL setup: ${report.error}`);
      failed++;
    }
    for (const r of report.results as ParityResult[]) {
      console.log(
        `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (rel err ${r.worst.toExponential(1)})${r.ok ? '' : `: ${r.detail}`}`,
      );
      if (!r.ok) failed++;
      else passed++;
    }
    if (report.results.length === 0 && !report.error) failed++;
    if (failed > before && consoleErrors.length) console.log(`console errors:\n${consoleErrors.join('\n')}`);
    await page.close();
  }
  console.log(`${passed} ok, ${failed} failed`);
} finally {
  await browser.close();
  await vite.close();
}
process.exit(failed ? 1 : 0);
