// A reload in the middle of training: the page comes back with the same model, data and
// settings, offers the saved run, and continues it from its checkpoint with the curve so far.

import { assert, chartPoints, go, setNumber, text, until, waitForModel } from './lib-app.mjs';

const stepOf = async (page) => Number(/Step (\d+) of/.exec(await text(page, 'train-step'))?.[1] ?? NaN);

// Only in `npm run test:full` (e2e/run.mjs): `npm test` keeps to its 10-minute budget.
export const full = true;

export const tests = [
  {
    name: 'pause and resume, then reload mid-training and resume from the checkpoint',
    timeoutMs: 300_000,
    async run(ctx) {
      // The sample data as shipped (200 rows, 2 epochs at batch 2): long enough to interrupt.
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      await go(page, 'train');
      await page.locator('wt-train-panel button[data-action="start"]').click();
      // Pause holds the run where it is; resume continues it.
      await until('a first step', async () => (await stepOf(page)) >= 2, 120_000);
      await page.locator('wt-train-panel button[data-action="pause"]').click();
      await until('the pause', async () => (await text(page, 'train-state')) === 'Paused', 60_000);
      const paused = await stepOf(page);
      await page.waitForTimeout(1500);
      assert.equal(await stepOf(page), paused, 'no step while paused');
      await ctx.screenshot(page, 'train-paused');
      await page.locator('wt-train-panel button[data-action="resume"]').click();
      await until('steps after the pause', async () => (await stepOf(page)) > paused, 60_000);
      // The e2e preset checkpoints every 2 steps; wait for a few.
      const saved = page.getByText(/Checkpoint saved at step (\d+)/);
      await until(
        'a few checkpoints',
        async () => {
          const m = /step (\d+)/.exec((await saved.textContent({ timeout: 1000 }).catch(() => '')) ?? '');
          return m && Number(m[1]) >= 6;
        },
        180_000,
      );
      // Let the throttled loss-curve save catch up with the run, then pull the plug.
      await page.waitForTimeout(1500);
      const before = await stepOf(page);
      ctx.log(`reloading at step ${before}`);
      await page.reload();

      await waitForModel(page);
      await go(page, 'train');
      const found = page.locator('[data-testid="checkpoint-found"]');
      await found.waitFor({ timeout: 60_000 });
      const ckStep = Number(/step (\d+) of/.exec(await found.textContent())?.[1]);
      // The worker may finish a step or two between our last look and the page going away.
      assert.ok(ckStep >= 6 && ckStep <= before + 4, `the saved run is at step ${ckStep} (reloaded at ${before})`);
      const restored = await chartPoints(page);
      assert.ok(
        restored.length >= 2 && restored.length <= ckStep,
        `the curve up to the checkpoint is back (${restored.length} points)`,
      );
      await ctx.screenshot(page, 'resume-found');
      // The offer says what it resumes, and is of this run only: another learning rate is another
      // run, so the offer goes; back at the run's own, it is there again at the same step.
      assert.match(await found.textContent(), /200 training examples, learning rate 0\.003, 2 epochs/);
      const start = page.locator('wt-train-panel button[data-action="start"]');
      await setNumber(page, 'lr', 0.004);
      await until(
        'the offer to go with the other setting',
        async () => (await page.locator('[data-testid="checkpoint-found"]').count()) === 0,
        60_000,
      );
      assert.equal((await start.innerText()).trim(), 'Start training');
      await setNumber(page, 'lr', 0.003);
      await found.waitFor({ timeout: 60_000 });
      assert.equal(Number(/step (\d+) of/.exec(await found.textContent())?.[1]), ckStep);

      const resume = page.locator('wt-train-panel button[data-action="start"]');
      assert.equal((await resume.innerText()).trim(), 'Resume');
      await resume.click();
      await page.locator('[data-testid="resumed"]').waitFor({ timeout: 60_000 });
      assert.match(await text(page, 'resumed'), new RegExp(`Resumed from the checkpoint at step ${ckStep}\\.`));
      await until('steps after the checkpoint', async () => (await stepOf(page)) >= ckStep + 3, 120_000);
      await page.locator('wt-train-panel button[data-action="stop"]').click();
      await until('the run to stop', async () => (await text(page, 'train-state')) === 'Stopped', 60_000);
      const after = await chartPoints(page);
      const x = after.map((p) => p.x);
      assert.ok(after.length > restored.length, 'new steps were added to the restored curve');
      assert.ok(
        x.every((v, i) => i === 0 || v > x[i - 1]),
        'each step is drawn once, in order',
      );
      await ctx.screenshot(page, 'resume-continued');
    },
  },
];
