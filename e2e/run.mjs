// Browser test runner: builds the app, serves dist/ from 127.0.0.1, and runs every flow module
// in e2e/ (app-*.mjs, io-*.mjs, ...) in Debian's headless Chromium with SwiftShader WebGPU.
//
// A flow module exports `tests`: [{ name, run(ctx) }]. ctx (see makeContext):
//   baseUrl            the served build, ending in '/'
//   distDir            its folder on disk
//   newPage(options)   a fresh browser context + page at baseUrl; options: { webgpu = true, serviceWorkers = 'block', query, path, goto = true, builtin = 'tiny' }
//                      every request must stay on 127.0.0.1/localhost (checked after the test)
//   screenshot(page, name)  writes test-results/screens/<name>.png
//   log(...)           progress lines, indented under the test
//   skip(reason)       ends the test as skipped (a missing tool); under CI=true that is a failure
// A test entry with `full: true`, or every test of a module that exports `full = true`, runs only
// in the full suite (`npm run test:full`); every other entry is part of `npm test` (see the rule at
// the top of vitest.config.ts).
// Usage: node e2e/run.mjs [--no-build] [--suite fast|full|all] [--summary file.json] [name filter ...]
// Prints one line per test and a closing "N passed, N failed, N skipped"; exit code 1 on any
// failure. --summary writes [{ name, status, seconds, reason }] for scripts/test.mjs.

import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const distDir = join(root, 'dist');
const screensDir = join(root, 'test-results', 'screens');

const CHROMIUM_ARGS = [
  '--headless=new',
  '--disable-gpu',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** A plain static server, as any static host would be: no special headers, single Range support. */
export function serveStatic(dir) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let path = normalize(join(dir, decodeURIComponent(url.pathname)));
    if (!path.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'index.html');
    if (!existsSync(path)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const size = statSync(path).size;
    const type = MIME[extname(path)] ?? 'application/octet-stream';
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && (range[1] || range[2])) {
      const start = range[1] ? Number(range[1]) : size - Number(range[2]);
      const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-type': type,
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${size}`,
        'accept-ranges': 'bytes',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(path, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { 'content-type': type, 'content-length': size, 'accept-ranges': 'bytes' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function isLocal(url) {
  if (!/^https?:/.test(url)) return true; // data:, blob:, about:
  return LOCAL_HOSTS.has(new URL(url).hostname);
}

/** Thrown by ctx.skip(reason): the test could not run here (a tool is missing). */
export class SkipTest extends Error {}

function makeContext(browsers, baseUrl, log) {
  const opened = [];
  const pages = [];
  const outside = [];
  return {
    baseUrl,
    distDir,
    log,
    outside,
    skip(reason) {
      throw new SkipTest(reason);
    },
    async newPage({
      webgpu = true,
      serviceWorkers = 'block',
      query = '',
      path = '',
      goto = true,
      builtin = 'tiny',
    } = {}) {
      const browser = await browsers.get(webgpu);
      const context = await browser.newContext({
        viewport: { width: 1280, height: 720 },
        acceptDownloads: true,
        serviceWorkers,
        locale: 'en-US',
      });
      opened.push(context);
      // Every request of the page, its workers and service worker: anything not local fails the test.
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (isLocal(url)) return route.continue();
        outside.push(url);
        return route.abort('blockedbyclient');
      });
      context.on('request', (r) => {
        if (!isLocal(r.url())) outside.push(r.url());
      });
      const page = await context.newPage();
      pages.push(page);
      page.on('pageerror', (e) => log(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') log(`console error: ${m.text()}`);
      });
      // The flows train the tiny built-in model (fast), whatever DEFAULT_BUILTIN is; a flow of the demo model passes builtin: 'demo'.
      const q = [query, builtin === 'tiny' && !/(^|&)builtin=/.test(query) ? 'builtin=tiny' : '']
        .filter(Boolean)
        .join('&');
      if (goto) await page.goto(baseUrl + path + (q ? `?${q}` : ''));
      return page;
    },
    async screenshot(page, name) {
      mkdirSync(screensDir, { recursive: true });
      // Each screen as it first appears, not wherever the last click scrolled it.
      await page.evaluate(() => window.scrollTo(0, 0)).catch(() => undefined);
      await page.screenshot({ path: join(screensDir, `${name}.png`) });
    },
    /** What the pages looked like when a test failed. */
    async failureShots(testName) {
      let i = 0;
      for (const p of pages) {
        if (p.isClosed()) continue;
        await this.screenshot(p, `FAILED-${testName.replace(/[^\w-]+/g, '_')}-${i++}`).catch(() => undefined);
      }
    },
    async close() {
      for (const c of opened) await c.close().catch(() => undefined);
    },
  };
}

const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or undefined. playwright-core speaks the DevTools
 * protocol of the Chromium it was released with; Debian's chromium moves on with security
 * updates, so a major far from the pinned one is named before the first flow fails obscurely.
 */
export function chromiumProblem() {
  if (!existsSync(CHROMIUM)) return `no ${CHROMIUM} (Debian: apt-get install chromium; .ci/run does)`;
  const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const have = Number(/(\d+)\./.exec(r.stdout ?? '')?.[1]);
  const browsers = JSON.parse(readFileSync(join(root, 'node_modules/playwright-core/browsers.json'), 'utf8')).browsers;
  const want = Number(/^(\d+)\./.exec(browsers.find((b) => b.name === 'chromium')?.browserVersion ?? '')?.[1]);
  if (!have) return `cannot read the version of ${CHROMIUM}: ${(r.stderr || r.stdout || '').trim().slice(0, 200)}`;
  const pw = JSON.parse(readFileSync(join(root, 'node_modules/playwright-core/package.json'), 'utf8')).version;
  // The protocol is kept compatible for a few majors either way; further apart it breaks.
  if (want && Math.abs(have - want) > 6)
    return `${CHROMIUM} is Chromium ${have}, playwright-core ${pw} drives Chromium ${want}: pin a playwright-core released with Chromium ${have} in package.json`;
  return undefined;
}

/** One Chromium with SwiftShader WebGPU and, on demand, one without WebGPU. */
function browserPool() {
  const launched = new Map();
  return {
    get(webgpu) {
      if (!launched.has(webgpu)) {
        // Without the flag this Chromium has navigator.gpu but no adapter, as on a blocklisted GPU.
        const args = webgpu ? [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'] : CHROMIUM_ARGS;
        launched.set(webgpu, chromium.launch({ executablePath: CHROMIUM, args }));
      }
      return launched.get(webgpu);
    },
    async close() {
      for (const b of launched.values()) await (await b).close().catch(() => undefined);
    },
  };
}

async function loadFlows(filters, suite) {
  const files = readdirSync(here)
    .filter((f) => /^[a-z][\w-]*\.mjs$/.test(f) && f !== 'run.mjs' && !f.startsWith('lib'))
    .sort();
  const tests = [];
  for (const f of files) {
    const mod = await import(pathToFileURL(join(here, f)).href);
    if (!Array.isArray(mod.tests)) continue;
    for (const t of mod.tests) {
      const name = `${f.replace(/\.mjs$/, '')} › ${t.name}`;
      const full = t.full ?? mod.full ?? false;
      const inSuite = suite === 'all' || (suite === 'full') === full;
      if (inSuite && (filters.length === 0 || filters.some((x) => name.includes(x)))) tests.push({ ...t, name });
    }
  }
  return tests;
}

async function main() {
  // Plain node runs this file (no TypeScript), so node:util parseArgs directly, not src/cli/args.ts.
  const { values, positionals: filters } = parseArgs({
    options: {
      'no-build': { type: 'boolean' },
      suite: { type: 'string', default: 'all' },
      summary: { type: 'string' },
    },
    allowPositionals: true,
  });
  const results = [];
  const finish = () => {
    const count = (st) => results.filter((r) => r.status === st).length;
    if (values.summary) writeFileSync(values.summary, JSON.stringify(results, null, 1) + '\n');
    for (const r of results.filter((x) => x.status === 'skipped')) console.log(`skipped: ${r.name}: ${r.reason}`);
    console.log(`${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`);
    process.exit(count('failed') || results.length === 0 ? 1 : 0);
  };
  if (!['fast', 'full', 'all'].includes(values.suite))
    throw new Error(`--suite is fast, full or all, not ${values.suite}`);
  const problem = chromiumProblem();
  if (problem) {
    // Under CI a missing or mismatched browser fails; locally every flow is listed as skipped with why.
    const status = process.env.CI === 'true' ? 'failed' : 'skipped';
    console.log(`browser tests cannot run: ${problem}`);
    for (const t of await loadFlows(filters, values.suite))
      results.push({ name: t.name, status, seconds: 0, reason: problem });
    finish();
  }
  if (!values['no-build']) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      results.push({
        name: 'npm run build (for the browser tests)',
        status: 'failed',
        seconds: 0,
        reason: `exit ${r.status}`,
      });
      finish();
    }
  }
  const server = await serveStatic(distDir);
  const baseUrl = `http://127.0.0.1:${server.address().port}/`;
  const browsers = browserPool();
  const tests = await loadFlows(filters, values.suite);
  for (const t of tests) {
    const started = Date.now();
    const lines = [];
    const log = (...a) => lines.push(a.join(' '));
    const ctx = makeContext(browsers, baseUrl, log);
    let error;
    try {
      await Promise.race([
        t.run(ctx),
        new Promise((_, fail) =>
          setTimeout(
            () => fail(new Error(`timed out after ${(t.timeoutMs ?? 300_000) / 1000} s`)),
            t.timeoutMs ?? 300_000,
          ),
        ),
      ]);
      if (ctx.outside.length) throw new Error(`requests left localhost: ${[...new Set(ctx.outside)].join(', ')}`);
    } catch (e) {
      error = e;
    }
    // A skip for a missing tool is a failure under CI (no silent skip).
    const skipped = error instanceof SkipTest && process.env.CI !== 'true';
    if (error && !skipped) await ctx.failureShots(t.name);
    await ctx.close();
    const seconds = (Date.now() - started) / 1000;
    const status = skipped ? 'skipped' : error ? 'failed' : 'passed';
    results.push({ name: t.name, status, seconds, reason: error ? error.message : undefined });
    console.log(
      `${{ passed: '✓', failed: '✗', skipped: '↓' }[status]} ${t.name} (${seconds.toFixed(1)} s)${skipped ? `: skipped, ${error.message}` : ''}`,
    );
    if (status === 'failed' || process.env.E2E_VERBOSE) for (const l of lines) console.log(`    ${l}`);
    if (status === 'failed')
      console.log(`    ${(error.stack ?? String(error)).split('\n').slice(0, 6).join('\n    ')}`);
  }
  await browsers.close();
  server.close();
  finish();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
