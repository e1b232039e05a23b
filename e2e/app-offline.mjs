// After one visit the app works with the network gone: the service worker serves the page, the
// built assets, the built-in model and the samples from its cache.

import { assert, go, text, until, waitForModel } from './lib-app.mjs';

export const tests = [
  {
    name: 'works offline after the first visit',
    async run(ctx) {
      const page = await ctx.newPage({ query: 'engine=cpu', serviceWorkers: 'allow' });
      await waitForModel(page);
      // Installed means every file of precache.json is in the cache.
      await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
      });
      await until(
        'the service worker to control the page',
        () => page.evaluate(() => !!navigator.serviceWorker.controller),
        30_000,
      );
      const cached = await page.evaluate(async () => {
        const names = await caches.keys();
        const cache = await caches.open(names.find((n) => n.startsWith('webtune-shell-')));
        return (await cache.keys()).map((r) => new URL(r.url).pathname);
      });
      for (const f of [
        '/',
        '/index.html',
        '/models/tiny/model.safetensors',
        '/models/tiny/tokenizer.json',
        '/samples/meeting-train.json',
      ])
        assert.ok(cached.includes(f), `${f} is cached (${cached.length} entries)`);
      assert.ok(
        cached.some((p) => /^\/assets\/worker-.*\.js$/.test(p)),
        'the worker bundle is cached',
      );

      await page.context().setOffline(true);
      await page.reload();
      await waitForModel(page, 60_000);
      await go(page, 'data');
      await until('the sample data', async () =>
        (await text(page, 'dataset-summary')).startsWith('meeting-train.json: 200 rows'),
      );
      await ctx.screenshot(page, 'offline-data');
    },
  },
];
