// Issue 22, defect 8: after a run, the next estimate on the same model and engine is corrected by
// the speed that run measured (it was one timed micro-batch only, off 2x both ways), and says so.

import { assert, go, setNumber, text, until, waitForModel } from './lib-app.mjs';

export const tests = [
  {
    name: 'estimate: corrected by the speed the last run measured',
    timeoutMs: 400_000,
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      await go(page, 'train');
      await setNumber(page, 'epochs', 1); // a short run: its speed is what is measured
      await until('the first estimate', async () => /About/.test(await text(page, 'train-estimate')), 120_000);
      const first = await text(page, 'train-estimate');
      ctx.log(`before a run: ${first}`);
      assert.doesNotMatch(first, /measured/, 'nothing was measured yet');
      await page.locator('wt-train-panel button[data-action="start"]').click();
      const t0 = Date.now();
      await until('the run to finish', async () => (await text(page, 'train-state')) === 'Finished', 300_000);
      ctx.log(`the run took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      // another run (the finished one's estimate used to stay hidden after it): two epochs
      await setNumber(page, 'epochs', 2);
      await until('the corrected estimate', async () => /measured/.test(await text(page, 'train-estimate')), 120_000);
      ctx.log(`after a run: ${await text(page, 'train-estimate')}`);
    },
  },
];
