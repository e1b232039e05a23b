// Training tokens/s of the CPU engine in the page itself, with one thread and with all cores:
// what cross-origin isolation (public/sw.js on a static host) is worth. Serves dist/ with the
// isolation headers, loads a generated model of a preset shape into the page from the same
// server, trains on the sample data (the e2e preset: batch 2, max length 256) and reads the
// tokens/s the Train step shows once the run has settled. Prints one line per run and a table.
//
//   npm run build && npx tsx scripts/bench-page-threads.ts              # mid preset, 12 steps
//   npx tsx scripts/bench-page-threads.ts --preset small --steps 20

import { createReadStream, existsSync, mkdtempSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { scriptFlags } from '../src/cli/args.ts';
import { makeTinyModel } from './make-tiny-model.ts';

const f = scriptFlags(
  'bench-page-threads',
  'CPU-engine training tokens/s in the page with 1 thread and with all cores',
  {
    preset: { kind: 'choice', choices: ['tiny', 'small', 'mid'], help: 'model shape (default mid)' },
    steps: { kind: 'int', min: 3, help: 'optimizer steps before reading tokens/s (default 12)' },
  },
);
const preset = (f.preset as 'tiny' | 'small' | 'mid') ?? 'mid';
const steps = (f.steps as number) ?? 12;

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'index.html'))) throw new Error('dist/ is missing: run `npm run build` first');
const modelDir = mkdtempSync(join(tmpdir(), 'bench-page-model-'));
await makeTinyModel({ preset, out: modelDir, seed: 1 });

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
};
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const [base, rel] = url.pathname.startsWith('/bench-model/')
    ? [modelDir, url.pathname.slice('/bench-model/'.length)]
    : [dist, url.pathname];
  let path = normalize(join(base, decodeURIComponent(rel)));
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'index.html');
  if (!path.startsWith(base) || !existsSync(path)) return res.writeHead(404).end();
  res.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': statSync(path).size,
    // What a static host gets from public/sw.js after the first visit.
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
  });
  createReadStream(path).pipe(res);
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu'],
});
const rows: { threads: string; device: string; tokensPerSec: number }[] = [];
try {
  for (const threads of ['1', 'all']) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${origin}?engine=cpu&preset=e2e${threads === '1' ? '&threads=1' : ''}`);
    await page.locator('[data-testid="model-ready"]').waitFor({ timeout: 120_000 });
    const panel = page.locator('wt-model-panel');
    await panel.getByLabel('URL', { exact: true }).check();
    await panel.locator('#url').fill(`${origin}bench-model/`);
    await panel.locator('#url').dispatchEvent('change');
    await panel.getByRole('button', { name: /Load/ }).first().click();
    await page.waitForFunction(
      (p) =>
        document
          .querySelector('webtune-app')
          ?.shadowRoot?.querySelector('wt-model-panel')
          ?.shadowRoot?.querySelector('[data-testid="model-ready"]')
          ?.textContent?.includes(p),
      'bench-model',
      { timeout: 300_000 },
    );
    const device = (await page.locator('[data-testid="engine-badge"]').getAttribute('title')) ?? '';
    await page.locator('nav button[data-screen="train"]').click();
    await page.locator('wt-train-panel button[data-action="start"]').click();
    const stepOf = async () =>
      Number(/Step (\d+) of/.exec((await page.locator('[data-testid="train-step"]').textContent()) ?? '')?.[1] ?? 0);
    for (let t0 = Date.now(); (await stepOf()) < steps;) {
      if (Date.now() - t0 > 1_800_000) throw new Error('no progress within 30 minutes');
      await page.waitForTimeout(500);
    }
    const tps = Number(((await page.locator('[data-testid="stat-tps"]').textContent()) ?? '').replace(/[^\d.]/g, ''));
    await page.locator('wt-train-panel button[data-action="stop"]').click();
    const isolated = await page.evaluate(() => crossOriginIsolated);
    rows.push({ threads, device, tokensPerSec: tps });
    console.error(
      JSON.stringify({ bench: 'page-threads', preset, threads, isolated, device, steps, tokens_per_sec: tps }),
    );
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}

console.log(`| preset | threads | engine (as the page reports it) | tokens/s |\n|---|---|---|---|`);
for (const r of rows) console.log(`| ${preset} | ${r.threads} | ${r.device} | ${r.tokensPerSec} |`);
console.log(
  `\n${cpus().length} logical cores (${cpus()[0]?.model ?? 'unknown CPU'}); tokens/s as the Train step shows it after ${steps} steps (the e2e preset: batch 2, accumulation 1).`,
);
