// Threads on any static host: dist/ served by `python3 -m http.server` (no special headers, as
// GitHub Pages or a CDN). After the first visit the service worker makes the page cross-origin
// isolated, the CPU engine runs more than one thread, and a model still downloads from a
// second, CORS-enabled origin.

import { spawn } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';
import { assert, until, waitForModel } from './lib-app.mjs';

/** `python3 -m http.server` on a free port of 127.0.0.1; resolves with its URL and a stop function. */
export function pythonServer(dir) {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // No python3 on the machine: 'error' (ENOENT), not 'exit'. Without this handler the event
    // would be thrown and take the whole runner down, and every flow after this one with it.
    child.on('error', (e) =>
      reject(
        Object.assign(new Error(`python3 -m http.server could not start: ${e.message}`), {
          missingTool: e.code === 'ENOENT',
        }),
      ),
    );
    const onData = (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}/`, stop: () => child.kill() });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`python3 -m http.server exited (${code}): ${out}`)));
  });
}

/** Another origin that serves files with CORS headers, as Hugging Face's CDN does. */
function corsServer(dir) {
  const server = createServer((req, res) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'content-length, content-range, etag',
      'access-control-allow-headers': 'range',
    };
    if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    if (!path.startsWith(dir) || !existsSync(path) || statSync(path).isDirectory())
      return res.writeHead(404, cors).end();
    res.writeHead(200, { ...cors, 'content-length': statSync(path).size, 'content-type': 'application/octet-stream' });
    createReadStream(path).pipe(res);
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ url: `http://127.0.0.1:${server.address().port}/`, stop: () => server.close() }),
    ),
  );
}

// Only in `npm run test:full` (e2e/run.mjs): `npm test` keeps to its 10-minute budget.
export const full = true;

export const tests = [
  {
    name: 'on a plain static host the second visit is cross-origin isolated, runs several CPU threads and downloads across origins',
    timeoutMs: 240_000,
    async run(ctx) {
      const host = await pythonServer(ctx.distDir).catch((e) =>
        e.missingTool ? ctx.skip(`${e.message} (Debian: apt-get install python3)`) : Promise.reject(e),
      );
      const other = await corsServer(join(ctx.distDir, 'models'));
      try {
        const page = await ctx.newPage({ serviceWorkers: 'allow', goto: false });
        await page.goto(`${host.url}?engine=cpu&builtin=tiny`);
        await waitForModel(page);
        const first = await page.evaluate(() => ({
          isolated: crossOriginIsolated,
          cores: navigator.hardwareConcurrency,
        }));
        assert.equal(first.isolated, false, 'python3 -m http.server sends no isolation headers');
        ctx.log(`first visit: not isolated, ${first.cores} cores`);
        await until(
          'the service worker to control the page',
          () => page.evaluate(() => !!navigator.serviceWorker.controller),
          60_000,
        );

        await page.reload();
        await waitForModel(page);
        assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'isolated after the first visit');
        const device = await page.locator('[data-testid="engine-badge"]').getAttribute('title');
        const threads = Number(/(\d+) threads?/.exec(device)?.[1]);
        ctx.log(`second visit: ${device}`);
        assert.ok(
          threads > 1 && threads === Math.min(8, first.cores),
          `the CPU engine runs ${threads} threads on ${first.cores} cores`,
        );

        // A model from another origin: a CORS download under the embedder policy.
        const panel = page.locator('wt-model-panel');
        await panel.getByLabel('URL', { exact: true }).check();
        await panel.locator('#url').fill(`${other.url}tiny/`);
        await panel.locator('#url').dispatchEvent('change');
        await panel.getByRole('button', { name: /Load/ }).first().click();
        const ready = panel.locator('[data-testid="model-ready"]');
        await until(
          'the model from the other origin',
          async () => {
            const t = await ready.innerText().catch(() => '');
            return t.includes('617,024 parameters') && t.includes(other.url.replace(/\/$/, ''));
          },
          90_000,
        );
        assert.equal(await page.evaluate(() => crossOriginIsolated), true);
        await ctx.screenshot(page, 'isolated-static-host');
      } finally {
        host.stop();
        other.stop();
      }
    },
  },
];
