// Issue 14, third session: model sources. The Load button and errors follow the source, an
// unreachable host points to other ways, cached models load, the last model (a URL model, a
// local folder opened through the File System Access API) comes back after a reload, and an
// answer of line breaks only is visible in the Playground.

import { assert, go, text, until, waitForModel } from './lib-app.mjs';
import { tabStops } from './lib-page.mjs';
import { checker, newlineModel } from './lib-first.mjs';

const modelSources = {
  name: 'model sources: labels, errors with a way out, cached models, the last model after a reload, whitespace answers',
  timeoutMs: 420_000,
  async run(ctx) {
    const c = checker(ctx);
    const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu', goto: false });
    // A browser with the File System Access API: the picker hands out a folder in the origin's
    // private file system (a real FileSystemDirectoryHandle), filled with the tiny model's files.
    await page.context().addInitScript((base) => {
      window.showDirectoryPicker = async () => {
        const root = await navigator.storage.getDirectory();
        const dir = await root.getDirectoryHandle('my-tiny-qwen', { create: true });
        for (const f of [
          'config.json',
          'tokenizer.json',
          'tokenizer_config.json',
          'generation_config.json',
          'model.safetensors',
        ]) {
          const res = await fetch(`${base}models/tiny/${f}`);
          if (!res.ok) continue;
          const w = await (await dir.getFileHandle(f, { create: true })).createWritable();
          await w.write(await res.arrayBuffer());
          await w.close();
        }
        return dir;
      };
    }, ctx.baseUrl);
    await page.goto(`${ctx.baseUrl}?preset=e2e&engine=cpu&builtin=tiny`);
    await waitForModel(page);
    const panel = page.locator('wt-model-panel');
    const load = panel.locator('button.primary').first();
    const error = panel.locator('wt-error .error');

    await c.check('9', 'the language menu comes before the main content in Tab order', async () => {
      const stops = await tabStops(page, 12);
      const lang = stops.findIndex((s) => s.startsWith('select#lang'));
      const main = stops.findIndex((s) => s.endsWith('in main'));
      assert.ok(lang >= 0 && (main < 0 || lang < main), stops.join(', '));
    });
    await c.check('11', 'the Load button follows the source; an old error goes with the source', async () => {
      await panel.locator('input[name="source"][value="url"]').check();
      assert.equal((await load.innerText()).trim(), 'Load model');
      await panel.locator('input[name="source"][value="hf"]').check();
      await panel.locator('#repo').fill('');
      await panel.locator('#repo').dispatchEvent('change');
      await load.click();
      await error.waitFor();
      await panel.locator('input[name="source"][value="modelscope"]').check();
      assert.equal(await error.count(), 0, 'the Hugging Face error stays on ModelScope');
    });
    await c.check('11', 'an unreachable host suggests ModelScope, a mirror URL or a local folder', async () => {
      await panel.locator('input[name="source"][value="url"]').check();
      await panel.locator('#url').fill('http://127.0.0.1:9/models/gone/');
      await panel.locator('#url').dispatchEvent('change');
      await load.click();
      await until('the network error', async () => (await error.innerText().catch(() => '')).length > 0, 60_000);
      const msg = await error.innerText();
      ctx.log(`offline: ${msg}`);
      for (const way of [/ModelScope/, /mirror/i, /local folder/i]) assert.match(msg, way, msg);
    });
    const url = `${ctx.baseUrl}models/tiny/`;
    await c.check('11', 'a cached model loads from the cache list', async () => {
      await panel.locator('#url').fill(url);
      await panel.locator('#url').dispatchEvent('change');
      await load.click();
      await until('the URL model', async () => (await text(page, 'model-ready')).includes('models/tiny'), 60_000);
      await panel.locator('input[name="source"][value="builtin"]').check();
      await load.click();
      await until('the built-in model', async () => (await text(page, 'model-ready')).includes('built in'), 60_000);
      const row = panel.locator('[data-testid="cached-model"]', { hasText: 'models/tiny' });
      await row.locator('button[data-action="load-cached"]').click();
      await until('the cached model', async () => (await text(page, 'model-ready')).includes('models/tiny'), 60_000);
    });
    await c.check('18', 'after a reload the last model (from a URL) is loaded again', async () => {
      await page.reload();
      await until(
        'the URL model again',
        async () => (await text(page, 'model-ready').catch(() => '')).includes('models/tiny'),
        60_000,
      );
    });
    await c.check('18', 'a local folder picked with the File System Access API reopens after a reload', async () => {
      await panel.locator('input[name="source"][value="local"]').check();
      await panel.locator('wt-drop-zone:not([data-testid]) button').first().click();
      await panel.getByText(/files picked from my-tiny-qwen/).waitFor({ timeout: 30_000 });
      await load.click();
      await until(
        'the folder model',
        async () => (await text(page, 'model-ready')).includes('my-tiny-qwen'),
        60_000,
      ).catch(async (e) => {
        throw new Error(
          `${e.message}: ${await text(page, 'model-ready').catch(() => '')} ${(await panel.locator('wt-error').allTextContents()).join(' ')}`,
        );
      });
      await page.reload();
      await until(
        'the folder or its reopen button',
        async () =>
          (await text(page, 'model-ready').catch(() => '')).includes('my-tiny-qwen') ||
          (await panel.locator('button[data-action="reopen-folder"]').count()) > 0,
        60_000,
      );
      if (!(await text(page, 'model-ready').catch(() => '')).includes('my-tiny-qwen'))
        await panel.locator('button[data-action="reopen-folder"]').click();
      await until(
        'the folder model again',
        async () => (await text(page, 'model-ready').catch(() => '')).includes('my-tiny-qwen'),
        60_000,
      );
    });
    await c.check('12', 'an answer of line breaks only is visible in the Playground', async () => {
      // The folder input (no File System Access API path): the newline model.
      await page.evaluate(() => delete window.showDirectoryPicker);
      await panel.locator('input[name="source"][value="local"]').check();
      await panel
        .locator('wt-drop-zone:not([data-testid]) input[type="file"]')
        .setInputFiles(newlineModel(ctx.distDir));
      await panel.getByText(/files picked from newline-model/).waitFor();
      await load.click();
      await until('the newline model', async () => (await text(page, 'model-ready')).includes('newline-model'), 60_000);
      await go(page, 'chat');
      await page.locator('wt-chat-panel button[type="submit"]').click();
      const base = page.locator('[data-testid="answer-base"]');
      await until(
        'the answer',
        async () =>
          (await base.getAttribute('aria-busy')) === 'false' &&
          (await page.locator('[data-testid="answer-tuned"]').getAttribute('aria-busy')) === 'false',
        60_000,
      );
      const shown = await base.innerText();
      ctx.log(`whitespace answer shown as: ${JSON.stringify(shown.slice(0, 80))}`);
      assert.match(shown, /↵|line break/, `shown: ${JSON.stringify(shown)}`);
      await ctx.screenshot(page, 'first-use-whitespace-answer');
    });
    c.done();
  },
};

// Only in `npm run test:full` (e2e/run.mjs): `npm test` keeps to its 10-minute budget.
export const full = true;

export const tests = [modelSources];
