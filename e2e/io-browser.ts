// Browser tests of the training worker, the model download and the IndexedDB cache, in headless
// Chromium against a local hub (e2e/io-server.ts) and a vite dev server for the page.
//   npx tsx e2e/io-browser.ts        (exit code 0 when every check passes)
// Checks: download + sha256 + second visit without network; CORS refusal, 404 and corrupt file
// as typed errors; a download cut by a reload resumes with Range from the last stored chunk;
// training interrupted by a reload resumes from its checkpoint with losses identical to an
// uninterrupted run; the main thread has no long task during training; no request leaves 127.0.0.1.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { createServer as createVite } from 'vite';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { startIoServer } from './io-server.ts';
import { sameLossesProblem } from './lib-checks.mjs';
import type { TrainSettings } from '../src/train/recipe.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHUNK = 64 << 10;
const LOAD = {
  maxBatch: 2,
  maxSeq: 24,
  lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'down_proj'], rslora: false },
  downloadChunkSize: CHUNK,
};
const TRAIN: TrainSettings = {
  epochs: 25,
  batchSize: 2,
  gradAccum: 1,
  lr: 5e-3,
  schedule: 'linear',
  warmupSteps: 2,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1,
  seed: 5,
  evalEvery: 0,
  checkpointEvery: 3,
};

const results: { name: string; ok: boolean; error?: string }[] = [];
async function check(name: string, fn: () => Promise<void>) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`  ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false, error: (e as Error).stack });
    console.log(`  FAIL ${name}\n${(e as Error).stack}`);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'io-browser-'));
await makeTinyModel({ preset: 'tiny', out: dir });
const hub = await startIoServer(dir);
// What `npm run tiny` does before `vite`: the app serves this folder as the built-in model.
await makeTinyModel({ preset: 'tiny', out: join(root, 'public/models/tiny'), ifMissing: true });
const vite = await createVite({
  configFile: false,
  root,
  logLevel: 'error',
  server: { host: '127.0.0.1', port: 5300, strictPort: false, hmr: false },
  // Everything pre-bundled up front: a dependency found late makes vite reload the page mid-test.
  optimizeDeps: { include: ['comlink', 'idb-keyval'], noDiscovery: true, entries: [] },
  worker: { format: 'es' },
});
await vite.listen();
const pageUrl = new URL('e2e/io-page.html', vite.resolvedUrls!.local[0]).href;
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
const context = await browser.newContext();
const requested: string[] = [];
context.on('request', (r) => void requested.push(r.url()));
const page = await context.newPage();
page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
page.on(
  'console',
  (m) =>
    m.type() === 'error' &&
    !/CORS|Failed to load resource|ERR_FAILED/.test(m.text()) &&
    console.log(`  [console] ${m.text()}`),
);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type IoTest = Record<string, (...a: any[]) => any>;
const call = <T = any>(fn: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(
    ([fn, args]) => (window as unknown as { ioTest: IoTest }).ioTest[fn as string](...(args as unknown[])),
    [fn, args] as const,
  );

async function open(p: Page) {
  await p.goto(pageUrl);
  await p.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', null, { timeout: 60_000 });
}

const hf = (repo: string) => ({ kind: 'hf', repo: `test/${repo}`, revision: 'main', endpoint: `${hub.url}/hf` });
const weightsSize = hub.files.get('model.safetensors')!.bytes.length;

try {
  await open(page);

  await check('downloads a Hugging Face layout into IndexedDB with sha256 verified', async () => {
    const r = await call('load', hf('tiny'), LOAD);
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.engine, 'cpu');
    assert.equal(
      r.files.every((f: { fromCache: boolean }) => f.fromCache),
      true,
    );
    const rec = await call('record', r.sourceKey, 'model.safetensors');
    assert.equal(rec.verified, 'sha256');
    assert.equal(rec.actualSha256, hub.files.get('model.safetensors')!.sha256);
    assert.equal(rec.chunks, Math.ceil(weightsSize / CHUNK));
    const events = await call<{ phase: string; loadedBytes: number; bytesPerSec: number }[]>('loadEvents');
    assert.ok(
      events.some((e) => e.phase === 'download' && e.loadedBytes > 0),
      'download progress reported',
    );
  });

  await check('the built-in model loads from the folder next to the page', async () => {
    const r = await call('load', { kind: 'builtin' }, LOAD);
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.name, 'tiny (built in)');
    assert.equal(r.sourceKey, `builtin:${new URL('models/tiny/', pageUrl.replace(/e2e\/io-page\.html$/, '')).href}`);
    assert.equal(r.vocab, 8192);
  });

  await check('a second visit loads from the cache without any request', async () => {
    await open(page);
    const before = hub.log.length;
    const r = await call('load', hf('tiny'), LOAD);
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.deepEqual(hub.log.slice(before), []);
    const cached = await call<{ sourceKey: string; complete: boolean; bytes: number }[]>('cached');
    const entry = cached.find((c) => c.sourceKey === r.sourceKey)!;
    assert.equal(entry.complete, true);
    assert.equal(
      entry.bytes,
      [...hub.files.values()].reduce((a, f) => a + f.bytes.length, 0),
    );
  });

  await check('a server without CORS headers gives a "cors" DownloadError', async () => {
    const r = await call('load', { kind: 'url', baseUrl: `${hub.otherUrl}/plain/` }, LOAD);
    assert.equal(r.ok, false);
    assert.equal(r.error.isDownloadError, true);
    assert.equal(r.error.kind, 'cors');
    assert.match(r.error.message, /Access-Control-Allow-Origin/);
  });

  await check('a missing repository and a corrupted file give "not-found" and "integrity"', async () => {
    let r = await call('load', hf('nope'), LOAD);
    assert.equal(r.error.kind, 'not-found');
    assert.match(r.error.message, /test\/nope/);
    r = await call('load', hf('corrupt'), LOAD);
    assert.equal(r.error.kind, 'integrity');
    assert.match(r.error.message, /sha256 of model\.safetensors/);
  });

  await check('a download cut by a page reload resumes with Range from the last stored chunk', async () => {
    const source = { kind: 'url', baseUrl: `${hub.url}/stall/` };
    const key = `url:${hub.url}/stall/`;
    const kept = Math.floor(weightsSize / 2 / CHUNK);
    await call('startLoad', source, LOAD);
    const t0 = Date.now();
    for (;;) {
      const rec = await call('record', key, 'model.safetensors');
      if (rec?.chunks === kept) break;
      assert.ok(Date.now() - t0 < 30_000, `stored chunks stuck at ${rec?.chunks}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await open(page);
    const before = hub.log.length;
    const r = await call('load', source, LOAD);
    assert.equal(r.ok, true, JSON.stringify(r.error));
    const weightReqs = hub.log.slice(before).filter((x) => x.path === '/stall/model.safetensors');
    assert.deepEqual(
      weightReqs.map((x) => [x.range, x.status]),
      [[`bytes=${kept * CHUNK}-`, 206]],
    );
    const rec = await call('record', key, 'model.safetensors');
    assert.equal(rec.complete, true);
    assert.equal(rec.actualSha256, hub.files.get('model.safetensors')!.sha256);
  });

  let reference: number[] = [];
  await check('trains in the worker with no long task on the main thread', async () => {
    await open(page);
    assert.equal((await call('load', hf('tiny'), LOAD)).ok, true);
    await call('setData', 8, 3, 8192);
    await call('resetGap');
    const r = await call('train', { ...TRAIN, runId: 'reference', checkpointEvery: 0 });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.outcome.state, 'done');
    assert.equal(r.outcome.steps, 100);
    reference = r.outcome.history.map((h: { loss: number }) => h.loss);
    assert.ok(reference.every(Number.isFinite));
    const gap = await call<number>('maxGap');
    assert.ok(gap < 100, `the main thread was blocked for ${gap.toFixed(0)} ms during training`);
    // The oracle works: the heartbeat sees the main thread blocked for 150 ms.
    await call('resetGap');
    await page.evaluate(() => {
      const t = performance.now();
      while (performance.now() - t < 150);
    });
    await page.waitForTimeout(50);
    assert.ok((await call<number>('maxGap')) >= 150);
  });

  await check('training interrupted by a reload resumes from its checkpoint with identical losses', async () => {
    await call('clearTrainEvents');
    await call('startTrain', { ...TRAIN, runId: 'live' });
    await page.waitForFunction(
      () =>
        (window as unknown as { ioTest: IoTest }).ioTest
          .trainEvents()
          .some((e: { state: string; checkpointedAt?: number; step: number }) => e.state === 'running' && e.step >= 4),
      null,
      { timeout: 60_000, polling: 10 },
    );
    await open(page); // the worker dies mid-run, as on a reload or a crash
    const saved = await call<{ runId: string; step: number }[]>('checkpoints');
    const live = saved.find((c) => c.runId === 'live')!;
    assert.ok(live && live.step >= 3 && live.step % 3 === 0 && live.step < 100, `checkpoint at ${live?.step}`);
    assert.equal((await call('load', hf('tiny'), LOAD)).ok, true);
    await call('setData', 8, 3, 8192);
    const r = await call('train', { ...TRAIN, runId: 'live' });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.outcome.resumedFrom, live.step);
    console.log(`       (after the reload: resumed from the checkpoint of step ${live.step} of 100)`);
    const events = await call<{ state: string; step: number; loss: number }[]>('trainEvents');
    const after = events.filter((e) => e.state === 'running' && e.step > live.step).map((e) => e.loss);
    assert.deepEqual(after, reference.slice(live.step));
    assert.deepEqual(
      r.outcome.history.map((h: { loss: number }) => h.loss),
      reference,
    );
  });

  await check('in a worker, WebGPU is found and trains the same losses as the CPU', async () => {
    const probe = await call('probe');
    assert.equal(probe.webgpu, true, probe.reason);
    assert.ok(probe.adapter.length > 0);
    const r = await call('load', hf('tiny'), LOAD, 'webgpu');
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.engine, 'webgpu');
    await call('setData', 8, 3, 8192);
    const t = await call('train', { ...TRAIN, epochs: 1, runId: 'gpu', checkpointEvery: 0, resume: false });
    assert.equal(t.ok, true, JSON.stringify(t.error));
    assert.equal(t.outcome.state, 'done', t.outcome.error);
    assert.equal((await call('load', hf('tiny'), LOAD, 'cpu')).ok, true);
    await call('setData', 8, 3, 8192);
    const ref = await call('train', { ...TRAIN, epochs: 1, runId: 'cpu-ref', checkpointEvery: 0, resume: false });
    const g = t.outcome.history.map((h: { loss: number }) => h.loss);
    const c = ref.outcome.history.map((h: { loss: number }) => h.loss);
    // Both histories hold every step of the epoch (an empty WebGPU history must not pass).
    assert.equal(ref.outcome.state, 'done', ref.outcome.error);
    assert.equal(t.outcome.totalSteps, ref.outcome.totalSteps);
    assert.equal(sameLossesProblem(g, c, t.outcome.totalSteps), undefined);
  });

  await check('no request left 127.0.0.1', async () => {
    const outside = requested.filter((u) => !/^(http:\/\/127\.0\.0\.1[:/]|blob:|data:)/.test(u));
    assert.deepEqual(outside, []);
  });
} finally {
  await browser.close();
  await vite.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok);
console.log(`io browser tests: ${results.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
