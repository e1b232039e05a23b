// Model sources the page can reach without the internet: a local folder picked like
// `huggingface-cli download` left it, a folder with a file missing (the error names it), a
// hub source with no repository, and a catalog model too big for the engine (both refused
// before any request).

import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert, until, waitForModel } from './lib-app.mjs';

function folders(distDir) {
  const root = mkdtempSync(join(tmpdir(), 'webtune-folder-'));
  const good = join(root, 'my-tiny-qwen');
  cpSync(join(distDir, 'models/tiny'), good, { recursive: true });
  const broken = join(root, 'no-weights');
  cpSync(join(distDir, 'models/tiny'), broken, { recursive: true });
  rmSync(join(broken, 'model.safetensors'));
  return { good, broken };
}

// Only in `npm run test:full` (e2e/run.mjs): `npm test` keeps to its 10-minute budget.
export const full = true;

export const tests = [
  {
    name: 'download a model from a URL into the cache, then load it from there',
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      const panel = page.locator('wt-model-panel');
      const url = `${ctx.baseUrl}models/tiny/`;
      await panel.getByLabel('URL', { exact: true }).check();
      await panel.locator('#url').fill(url);
      await panel.locator('#url').dispatchEvent('change');
      // Another source: the button loads it (issue 14: not "Load again").
      await panel.getByRole('button', { name: 'Load model' }).click();
      const ready = panel.locator('[data-testid="model-ready"]');
      await until(
        'the downloaded model',
        async () =>
          (await ready.innerText().catch(() => '')).includes('617,024 parameters') &&
          !(await ready.innerText()).includes('built in'),
        60_000,
      );
      const cache = panel.locator('section', { hasText: 'Cached models' });
      await until('the cache entry', async () => (await cache.innerText()).includes('models/tiny'), 30_000);
      await ctx.screenshot(page, 'model-url');
      // The choice is remembered, and the cached model loads again by itself (no download).
      await page.reload();
      await panel.locator('#url').waitFor();
      assert.equal(await panel.locator('#url').inputValue(), url);
      await until(
        'the cached model again',
        async () => (await ready.innerText().catch(() => '')).includes('models/tiny'),
        60_000,
      );
    },
  },
  {
    name: 'load a local model folder; a folder without weights says what is missing',
    async run(ctx) {
      const { good, broken } = folders(ctx.distDir);
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      const panel = page.locator('wt-model-panel');
      const ready = panel.locator('[data-testid="model-ready"]');
      const error = panel.locator('wt-error .error');

      await panel.getByLabel('Hugging Face').check();
      await panel.locator('#repo').fill('');
      await panel.locator('#repo').dispatchEvent('change');
      await panel.getByRole('button', { name: 'Load model' }).click();
      await error.waitFor();
      assert.match(await error.innerText(), /Enter a repository such as Qwen\/Qwen2\.5-0\.5B-Instruct/);

      // The catalog: every model with its fit on this (CPU) engine; a model that cannot fit is
      // refused with the reason before a single request leaves the page.
      const rows = panel.locator('[data-testid="catalog-row"]');
      assert.equal(await rows.count(), 5);
      const fits = Object.fromEntries(
        await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.repo, tr.dataset.fits])),
      );
      ctx.log(`catalog fit on the CPU engine: ${JSON.stringify(fits)}`);
      assert.equal(fits['Qwen/Qwen2.5-0.5B-Instruct'], 'true');
      assert.equal(fits['Qwen/Qwen3-4B-Instruct-2507'], 'false');
      // its 4-bit base (QLoRA) would fit, so Automatic would load that: ask for the 16-bit base
      const fitsNf4 = Object.fromEntries(
        await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.repo, tr.dataset.fitsNf4])),
      );
      assert.equal(fitsNf4['Qwen/Qwen3-4B-Instruct-2507'], 'true');
      await panel.locator('input[name="quant"][value="none"]').check();
      const big = rows
        .filter({ has: page.locator('[data-testid="catalog-why"]') })
        .filter({ hasText: 'Qwen3-4B-Instruct-2507' });
      assert.match(await big.innerText(), /needs [\d.]+ GB, the engine holds 4\.3 GB/);
      const requests = [];
      page.on('request', (r) => requests.push(r.url()));
      await big.getByRole('radio').check();
      assert.equal(await panel.locator('#repo').inputValue(), 'Qwen/Qwen3-4B-Instruct-2507');
      await panel.getByText(/Models at batch 1 × max length/).waitFor(); // its preset: batch 1 x accumulation 16
      await panel.getByRole('button', { name: 'Load model' }).click();
      await until(
        'the too-big refusal',
        async () =>
          /cannot fit here: .*needs \d+ MiB and the engine can hold 4096 MiB.*Nothing was downloaded/.test(
            await error.innerText().catch(() => ''),
          ),
        30_000,
      );
      await ctx.screenshot(page, 'model-catalog');
      assert.deepEqual(requests, []);
      await panel.locator('input[name="quant"][value="auto"]').check();

      await panel.getByLabel('Local folder').check();
      const picker = panel.locator('wt-drop-zone:not([data-testid]) input[type="file"]');
      await picker.setInputFiles(broken);
      await panel.getByText(/files picked from no-weights/).waitFor();
      await panel.getByRole('button', { name: 'Load model' }).click();
      await until(
        'the missing-weights error',
        async () => /model\.safetensors/.test(await error.innerText().catch(() => '')),
        60_000,
      );
      ctx.log(`broken folder: ${await error.innerText()}`);
      await ctx.screenshot(page, 'model-folder-error');

      await picker.setInputFiles(good);
      await panel.getByText(/5 files picked from my-tiny-qwen/).waitFor();
      await panel.getByRole('button', { name: /Load/ }).first().click();
      await until('the folder model', async () => /my-tiny-qwen/.test(await ready.innerText().catch(() => '')), 60_000);
      assert.match(await ready.innerText(), /617,024 parameters/);
      await ctx.screenshot(page, 'model-folder');
    },
  },
];
