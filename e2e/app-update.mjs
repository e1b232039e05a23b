// A new build served from the same static host replaces the old page on the next visit: the
// build's version is in sw.js's bytes (scripts/precache.ts), so the browser installs the new
// worker, which precaches the new build and waits; the page (already the new one: pages are
// revalidated) offers a reload, and after it the new worker controls the page and the old
// build's cache is gone. The "new build" is the served copy of dist/ changed the way a rebuild
// changes it: another page and another version line in sw.js.

import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { assert, until } from './lib-app.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
};

/**
 * A plain static host over `dir` (read at each request, so a new build shows at once), sending
 * Last-Modified as most hosts do. (run.mjs's server cannot be imported here: the runner imports
 * the flows while its own module is still evaluating.)
 */
function serveCopy(dir) {
  const server = createServer((req, res) => {
    let path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(dir)) return void res.writeHead(403).end();
    if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'index.html');
    if (!existsSync(path)) return void res.writeHead(404).end();
    const body = readFileSync(path);
    res.writeHead(200, {
      'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Last-Modified': statSync(path).mtime.toUTCString(),
    });
    res.end(body);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** The version of the worker controlling the page (it answers a "version" message). */
const controllerVersion = (page) =>
  page.evaluate(
    () =>
      new Promise((resolve) => {
        const sw = navigator.serviceWorker.controller;
        if (!sw) return resolve(null);
        navigator.serviceWorker.addEventListener(
          'message',
          (e) => e.data?.type === 'version' && resolve(e.data.version),
          { once: true },
        );
        sw.postMessage({ type: 'version' });
      }),
  );

export const tests = [
  {
    name: 'a new build replaces the old page on the next visit, with a reload offered',
    async run(ctx) {
      const dir = mkdtempSync(join(tmpdir(), 'webtune-update-'));
      cpSync(ctx.distDir, dir, { recursive: true });
      const server = await serveCopy(dir);
      const url = `http://127.0.0.1:${server.address().port}/?engine=cpu&builtin=tiny`;
      try {
        const page = await ctx.newPage({ serviceWorkers: 'allow', goto: false, webgpu: false });
        await page.goto(url);
        await until(
          'the first worker to control the page',
          () => page.evaluate(() => !!navigator.serviceWorker.controller),
          60_000,
        );
        const first = await controllerVersion(page);
        assert.match(String(first), /^[0-9a-f]{16}$/, `the build wrote its version into sw.js (${first})`);

        // The new build on the same host: another page, another worker version.
        const index = join(dir, 'index.html');
        writeFileSync(
          index,
          readFileSync(index, 'utf8').replace('<head>', '<head><meta name="webtune-e2e-build" content="2">'),
        );
        const sw = join(dir, 'sw.js');
        writeFileSync(
          sw,
          readFileSync(sw, 'utf8').replace(/^const VERSION = '[^']*';$/m, "const VERSION = 'e2e0000000000002';"),
        );

        // The next visit: the new page at once, and the new worker waiting with a reload offered.
        await page.goto(url);
        assert.equal(
          await page.evaluate(
            () => document.querySelector('meta[name="webtune-e2e-build"]')?.getAttribute('content') ?? null,
          ),
          '2',
          'the new page is shown on the next visit',
        );
        await page.getByTestId('update-offer').waitFor({ timeout: 60_000 });
        await ctx.screenshot(page, 'update-offer');
        assert.equal(await controllerVersion(page), first, 'the old worker still controls the page until the reload');
        await Promise.all([
          page.waitForEvent('load', { timeout: 60_000 }),
          page.click('[data-action="update-reload"]'),
        ]);
        await until(
          'the new worker to control the page',
          async () => (await controllerVersion(page)) === 'e2e0000000000002',
          60_000,
        );
        const caches = await page.evaluate(() => caches.keys());
        assert.deepEqual(
          caches.filter((k) => k.startsWith('webtune-shell-')),
          ['webtune-shell-e2e0000000000002'],
          "the old build's cache is gone",
        );
        assert.equal(
          await page.evaluate(
            () => document.querySelector('meta[name="webtune-e2e-build"]')?.getAttribute('content') ?? null,
          ),
          '2',
        );
        assert.ok(await page.evaluate(() => !!document.querySelector('webtune-app')), 'the app is mounted');
      } finally {
        server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
