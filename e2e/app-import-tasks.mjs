// The page's million-row import (issue 23), a full flow (`full: true`: about half a minute of
// SwiftShader Chromium on the loaded 2-core machine). History: the rows parsed on the main thread
// left 234 tasks over 50 ms (the longest 580 ms); slicing the work left 18, the longest 589 ms, the
// collector's pauses over the million row objects on the page's heap. Now the import worker parses
// the file and the page holds the rows packed as bytes (data/row-store.ts, worker/import-rows.ts).
//
// A million rows import in the page with progress and no main-thread task over 100 ms: every
// long task (PerformanceObserver 'longtask', reported past 50 ms) from the moment the file is
// picked until the token sample is drawn is collected, and the longest must stay under 100 ms.

import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert, go, text, until, waitForModel } from './lib-app.mjs';

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
    full: true,
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
        await until(
          'a million rows',
          async () => (await text(page, 'dataset-summary')).startsWith('million.jsonl: 1,000,000 rows'),
          400_000,
          100,
        );
        const shown = await page.evaluate(() => performance.now());
        await page.locator('[data-testid="token-sample"]').waitFor({ timeout: 120_000 });
        const tasks = (await page.evaluate(() => window.__longTasks)).filter((t) => t.start >= from);
        const longest = tasks.reduce((m, t) => Math.max(m, t.ms), 0);
        // Each long task with when it began (ms after the pick), and when the summary showed: where a long one sits.
        const top = [...tasks]
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 10)
          .map((t) => `${t.ms.toFixed(0)}@${(t.start - from).toFixed(0)}`);
        ctx.log(
          `${tasks.length} long tasks, longest ${longest.toFixed(0)} ms (duration@start): ${top.join(', ')}; summary shown by ${(shown - from).toFixed(0)} ms`,
        );
        assert.ok(longest < 100, `the longest main-thread task of the import took ${longest.toFixed(0)} ms`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
