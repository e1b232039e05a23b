// Issue 22, defect 7 in the browser: the Chinese page says the CPU engine's threads and the
// dataset's format in Chinese, and the header's engine badge shows whole at 1280 px in both
// languages (it was cut: "…faster t…").

import { assert, go, text, until, waitForModel } from './lib-app.mjs';

export const tests = [
  {
    name: 'words: threads and format in Chinese, the engine badge whole at 1280 px',
    timeoutMs: 240_000,
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      await page.setViewportSize({ width: 1280, height: 800 });
      const badge = page.locator('[data-testid="engine-badge"]');
      for (const lang of ['en', 'zh']) {
        await page.locator('#lang').selectOption(lang);
        await page.waitForTimeout(200);
        const fit = await badge.evaluate((el) => ({
          scroll: el.scrollWidth,
          client: el.clientWidth,
          text: el.textContent,
        }));
        ctx.log(`${lang} badge: "${fit.text}" ${fit.scroll} px in ${fit.client}`);
        assert.ok(
          fit.scroll <= fit.client + 1,
          `${lang}: the engine badge is cut ("${fit.text}" needs ${fit.scroll} px, has ${fit.client})`,
        );
      }
      // zh from here on
      const b = await text(page, 'engine-badge');
      assert.match(b, /个线程/, `the badge says its threads in Chinese: ${b}`);
      assert.doesNotMatch(b, /thread|faster/i, `no English in the Chinese badge: ${b}`);
      await go(page, 'model');
      const using = await page.locator('wt-model-panel').innerText();
      assert.doesNotMatch(using, /\d threads?\b/, 'the Model step says the threads in Chinese');
      await go(page, 'data');
      await until('the sample dataset', async () => /meeting-train\.json/.test(await text(page, 'dataset-summary')));
      const summary = await text(page, 'dataset-summary');
      assert.doesNotMatch(summary, /\(seed\)|（seed）/, `the format is named in Chinese: ${summary}`);
      assert.match(summary, /格式/, `the format is named in Chinese: ${summary}`);
      await ctx.screenshot(page, 'words-zh-data');
    },
  },
];
