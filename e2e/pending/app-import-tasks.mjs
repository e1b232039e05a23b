// NOT RUN BY DEFAULT (run.mjs loads only e2e/*.mjs): this check FAILS today. Measured 2026-12-08
// on the loaded 2-core machine (noisy), 32 s a run. Before: 234 tasks over 50 ms, the longest
// 580 ms (the rows copied for the view, the split, the eval-fit check: one task each over all
// rows). After slicing those and feeding the reader 16 KiB of lines per step (issue 23, h23 second
// session): 18 tasks over 50 ms, the longest 589 / 211 / 127 ms, none of them a step of our own
// code: they come late in the stream and after it, when the heap holds the million parsed rows
// (~350 MB of small objects), i.e. the collector's pauses (Node shows Mark-Compact pauses of
// 150-190 ms on the same rows). Passing needs the rows off the main thread's heap (kept in a
// worker or as a compact store, the page holding only counts and preview rows).
// Run: cp e2e/pending/app-import-tasks.mjs e2e/ && node e2e/run.mjs app-import-tasks
//
// A million rows import in the page with progress and no main-thread task over 100 ms: every
// long task (PerformanceObserver 'longtask', reported past 50 ms) from the moment the file is
// picked until the token sample is drawn is collected, and the longest must stay under 100 ms.

import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert, go, text, until, waitForModel } from './lib-app.mjs'; // as copied into e2e/

async function millionRows(dir) {
  const path = join(dir, 'million.jsonl');
  const out = createWriteStream(path);
  for (let i = 0; i < 1_000_000; i += 10_000) {
    let chunk = '';
    for (let j = i; j < i + 10_000; j++) chunk += `{"instruct":"改名为","input":"会议${j}","output":"会议${j}"}\n`;
    if (!out.write(chunk)) await new Promise((ok) => out.once('drain', ok));
  }
  await new Promise((ok) => out.end(ok));
  return path;
}

export const tests = [
  {
    name: 'a million rows import with no main-thread task over 100 ms',
    timeoutMs: 600_000,
    async run(ctx) {
      const dir = mkdtempSync(join(tmpdir(), 'webtune-tasks-'));
      try {
        const page = await ctx.newPage({ query: 'engine=cpu', webgpu: false, goto: false });
        await page.addInitScript(() => {
          window.__longTasks = [];
          new PerformanceObserver((l) => {
            for (const e of l.getEntries()) window.__longTasks.push({ start: e.startTime, ms: e.duration });
          }).observe({ type: 'longtask', buffered: true });
        });
        await page.goto(ctx.baseUrl + '?engine=cpu');
        await waitForModel(page);
        await go(page, 'data');
        const big = await millionRows(dir);
        const from = await page.evaluate(() => performance.now());
        await page.locator('wt-drop-zone input[type="file"]').first().setInputFiles(big);
        await until('a million rows', async () => (await text(page, 'dataset-summary')).startsWith('million.jsonl: 1,000,000 rows'), 400_000, 100);
        const shown = await page.evaluate(() => performance.now());
        await page.locator('[data-testid="token-sample"]').waitFor({ timeout: 120_000 });
        const tasks = (await page.evaluate(() => window.__longTasks)).filter((t) => t.start >= from);
        const longest = tasks.reduce((m, t) => Math.max(m, t.ms), 0);
        // Each long task with when it began (ms after the pick), and when the summary showed: where a long one sits.
        const top = [...tasks].sort((a, b) => b.ms - a.ms).slice(0, 10).map((t) => `${t.ms.toFixed(0)}@${(t.start - from).toFixed(0)}`);
        ctx.log(`${tasks.length} long tasks, longest ${longest.toFixed(0)} ms (duration@start): ${top.join(', ')}; summary shown by ${(shown - from).toFixed(0)} ms`);
        assert.ok(longest < 100, `the longest main-thread task of the import took ${longest.toFixed(0)} ms`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
