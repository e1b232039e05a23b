// The fast kernels inside a browser Web Worker, as the training worker runs them: headless
// Chromium, a page without cross-origin isolation (no SharedArrayBuffer: one thread, private
// memory) and one with COOP/COEP headers (shared memory, a nested worker pool). Each computes
// a bf16 GEMM and compares it with the scalar twin, in the page's own worker.

import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const WORKER_ENTRY = `
import { FastKernels } from './src/engine/cpu/fast/kernels.ts';
import { gemmScalar } from './src/engine/cpu/fast/scalar.ts';
import { f32ToBf16 } from './src/core/dtype.ts';
import { SeededRng } from './src/core/rng.ts';

self.onmessage = async (e) => {
  try {
    const k = await FastKernels.create({ threads: e.data.threads, parallelMin: 0 });
    const M = 37, J = 151, K = 301, rng = new SeededRng(1);
    const a = rng.fillNormal(new Float32Array(M * K), 1);
    const b = Uint16Array.from(rng.fillNormal(new Float32Array(J * K), 0.3), f32ToBf16);
    const h = k.heap;
    const pa = h.allocBytes(a.byteLength, 'a'), pb = h.allocBytes(b.byteLength, 'b'), pc = h.allocBytes(M * J * 4, 'c');
    h.f32(pa, a.length).set(a);
    h.u16(pb, b.length).set(b);
    k.gemm({ M, J, K, A: pa, sAm: K, sAk: 1, B: pb, bdtype: 'bf16', sBk: 1, sBj: K, C: pc, ldc: J, alpha: 1, accumulate: false, bias: 0 });
    const got = h.f32(pc, M * J);
    const want = new Float32Array(M * J);
    gemmScalar({ M, J, K, A: a, sAm: K, sAk: 1, B: b, bdtype: 'bf16', sBk: 1, sBj: K, C: want, ldc: J, alpha: 1, accumulate: false, bias: null });
    let err = 0, scale = 0;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    self.postMessage({ shared: k.shared, threads: k.threads, relaxed: k.relaxed, relErr: err / scale });
    k.dispose();
  } catch (err) {
    self.postMessage({ error: String(err && err.stack || err) });
  }
};
`;

const PAGE = `<!doctype html><script>
const w = new Worker('/worker.js');
w.onmessage = (e) => { window.result = e.data; };
w.onerror = (e) => { window.result = { error: 'worker error: ' + e.message }; };
w.postMessage({ threads: 2 });
</script>`;

interface Result {
  shared?: boolean;
  threads?: number;
  relaxed?: boolean;
  relErr?: number;
  error?: string;
}

describe('fast kernels in a browser Web Worker', () => {
  let server: Server;
  let browser: Browser;
  let base = '';

  beforeAll(async () => {
    const bundle = await build({
      stdin: { contents: WORKER_ENTRY, resolveDir: process.cwd(), loader: 'ts', sourcefile: 'fast-worker-entry.ts' },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const workerJs = bundle.outputFiles[0].text;
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      // the isolated variant is chosen by path so both page and worker script carry the headers
      const isolated = url.pathname.startsWith('/coi');
      if (isolated) {
        res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
        res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
      }
      const path = url.pathname.replace(/^\/coi/, '') || '/';
      if (path === '/worker.js') {
        res.setHeader('Content-Type', 'text/javascript');
        res.end(workerJs);
      } else {
        res.setHeader('Content-Type', 'text/html');
        res.end(isolated ? PAGE.replace("'/worker.js'", "'/coi/worker.js'") : PAGE);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
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
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function run(path: string): Promise<Result> {
    const page = await browser.newPage();
    try {
      await page.goto(base + path);
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, {
        timeout: 30_000,
      });
      return await page.evaluate(() => (window as unknown as { result: Result }).result);
    } finally {
      await page.close();
    }
  }

  it('without cross-origin isolation: one thread on a private memory, same results', async () => {
    const r = await run('/');
    expect(r.error).toBeUndefined();
    expect(r.shared).toBe(false);
    expect(r.threads).toBe(1);
    expect(r.relErr).toBeLessThan(1e-5);
  }, 60_000);

  it('cross-origin isolated: two threads (nested workers) on a shared memory, same results', async () => {
    const r = await run('/coi/');
    expect(r.error).toBeUndefined();
    expect(r.shared).toBe(true);
    expect(r.threads).toBe(2);
    expect(r.relaxed).toBe(true);
    expect(r.relErr).toBeLessThan(1e-5);
  }, 60_000);
});
