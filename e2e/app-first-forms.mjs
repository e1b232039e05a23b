// Issue 14, second session, on the CPU engine: settings out of range, a reload prompt for a new
// batch or max length, Resume after the data changed, the eval set following the data, partly bad
// files, Chinese data and network errors, and what the header and step list say with no model.

import { assert, go, setNumber, text, until, waitForModel } from './lib-app.mjs';
import { checker, dataFiles, num, stepOf } from './lib-first.mjs';

const formsAndData = {
  name: 'forms, reload prompts, resume after a data change, eval set, partly bad files, Chinese messages',
  timeoutMs: 600_000,
  async run(ctx) {
    const c = checker(ctx);
    const files = dataFiles();
    const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
    await waitForModel(page);
    const train = page.locator('wt-train-panel');
    const start = train.locator('button[data-action="start"]');

    await go(page, 'train');
    await c.check(
      '3',
      'invalid settings: inline errors with the range, Start disabled with the reason, Restore defaults restores',
      async () => {
        for (const [name, value] of [
          ['r', '7.5'],
          ['batchSize', '0'],
          ['epochs', '-3'],
          ['lr', ''],
        ])
          await setNumber(page, name, value);
        for (const name of ['r', 'batchSize', 'epochs', 'lr']) {
          const err = train.locator(`#f-${name}-error`);
          assert.ok(await err.isVisible(), `inline error for ${name}`);
          ctx.log(`${name}: ${await err.innerText()}`);
        }
        assert.match(await train.locator('#f-r-error').innerText(), /1.*256/);
        assert.ok(await start.isDisabled(), 'Start is disabled');
        assert.match(await text(page, 'start-blocked'), /LoRA rank/);
        await train.getByRole('button', { name: 'Restore defaults' }).click();
        assert.equal(await train.locator('input[name="r"]').inputValue(), '8');
        assert.notEqual(await train.locator('input[name="batchSize"]').inputValue(), '0');
        assert.equal(await train.locator('#f-r-error').count(), 0, 'no error left');
        assert.ok(await start.isEnabled(), 'Start is enabled again');
      },
    );
    // The e2e run: 2 epochs at batch 2, max length 256.
    await setNumber(page, 'epochs', 2);
    await setNumber(page, 'batchSize', 2);
    await setNumber(page, 'gradAccum', 1);
    await setNumber(page, 'maxLength', 256);

    await c.check(
      '16',
      'a smaller batch or max length after loading prompts a reload; the memory card describes the running plan',
      async () => {
        await setNumber(page, 'batchSize', 1);
        await setNumber(page, 'maxLength', 128);
        const notice = page.locator('[data-testid="reload-needed"]');
        await notice.waitFor({ timeout: 5000 });
        await go(page, 'model');
        const card = await text(page, 'memory-running');
        assert.match(card, /2 × 256/, `memory card: ${card}`);
        await go(page, 'train');
        await page.locator('[data-testid="reload-needed"] button').first().click();
        await go(page, 'model');
        await until('the reload', async () => (await text(page, 'memory-running')).includes('1 × 128'), 60_000).catch(
          async (e) => {
            throw new Error(
              `${e.message}: ${await text(page, 'memory-running')} / ${await text(page, 'model-ready')} / ${(await page.locator('wt-model-panel wt-error').allInnerTexts()).join(' ; ')}`,
            );
          },
        );
        await go(page, 'train');
        await setNumber(page, 'batchSize', 2);
        await setNumber(page, 'maxLength', 256);
      },
    );

    await c.check('5', 'after the data changed, Resume is not offered for the old run', async () => {
      await go(page, 'train');
      await start.click();
      await until('a few steps', async () => (await stepOf(page)) >= 3, 120_000);
      await train.locator('button[data-action="stop"]').click();
      await until('stopped', async () => (await text(page, 'train-state')) === 'Stopped', 60_000);
      assert.equal((await start.innerText()).trim(), 'Resume', 'a stopped run is resumable');
      await go(page, 'data');
      await page.locator('wt-drop-zone input[type="file"]').first().setInputFiles(files.whiteboard);
      await until('the new data', async () =>
        (await text(page, 'dataset-summary')).startsWith('whiteboard.jsonl: 10 rows'),
      );
      await go(page, 'train');
      assert.notEqual((await start.innerText()).trim(), 'Resume', 'Resume offered for a run on other data');
    });
    await c.check('14', 'after the settings changed the step counter follows them', async () => {
      await setNumber(page, 'epochs', 3);
      const planned = num(/([\d,]+) optimizer steps/.exec(await text(page, 'steps-planned'))?.[1]);
      const total = num(/of ([\d,]+)/.exec(await text(page, 'train-step'))?.[1]);
      assert.equal(total, planned, `${await text(page, 'train-step')} beside ${await text(page, 'steps-planned')}`);
      await setNumber(page, 'epochs', 2);
    });

    await go(page, 'data');
    await c.check(
      '4',
      'new training data does not keep scoring against the sample eval file; the way back stays',
      async () => {
        const split = await text(page, 'split-counts');
        assert.ok(
          !/50 evaluation rows/.test(split) || (await page.locator('[data-testid="eval-mismatch"]').count()) > 0,
          `eval still from the sample file without a word: ${split}`,
        );
        const again = page.locator('wt-data-panel button[data-action="use-eval-file"]');
        await again.click();
        await page.locator('[data-testid="eval-mismatch"]').waitFor({ timeout: 5000 });
        ctx.log(`mismatch: ${await text(page, 'eval-mismatch')}`);
        await page.locator('wt-data-panel').getByRole('button', { name: 'Use split instead' }).click();
        await again.waitFor({ timeout: 5000 });
      },
    );
    await c.check(
      '10',
      'a partly bad file does not replace the data without asking; typos get the nearest field; plurals',
      async () => {
        const picker = page.locator('wt-drop-zone input[type="file"]').first();
        await picker.setInputFiles(files.partial);
        const report = page.locator('[data-testid="import-issues"]');
        await until('the report', async () => /partial\.jsonl/.test((await report.innerText().catch(() => '')) ?? ''));
        assert.match(
          await text(page, 'dataset-summary'),
          /^whiteboard\.jsonl: 10 rows/,
          'the previous data stays until asked',
        );
        const r = await report.innerText();
        assert.match(r, /3 problems/);
        assert.match(r, /ouput/);
        assert.match(r, /did you mean[^]*output|“output”[^]*ouput/i);
        const good = report.locator('button[data-action="import-good"]');
        assert.match(await good.innerText(), /Import the 1 good row\b/);
        await good.click();
        await until('the good row', async () =>
          (await text(page, 'dataset-summary')).startsWith('partial.jsonl: 1 row ('),
        );
        await picker.setInputFiles(files.oneBad);
        await until('the second report', async () =>
          /one-bad\.jsonl/.test((await report.innerText().catch(() => '')) ?? ''),
        );
        assert.match(await report.innerText(), /\b1 problem\b/);
        await report.locator('button[data-action="import-good"]').click();
        await until('the good row', async () =>
          (await text(page, 'dataset-summary')).startsWith('one-bad.jsonl: 1 row ('),
        );
      },
    );
    await c.check('13', 'data and network errors in Chinese', async () => {
      await page.locator('#lang').selectOption('zh');
      await page.locator('wt-drop-zone input[type="file"]').first().setInputFiles(files.hopeless);
      const report = page.locator('[data-testid="import-issues"]');
      await until('the report', async () => /hopeless\.jsonl/.test((await report.innerText().catch(() => '')) ?? ''));
      const items = await report.locator('li').allInnerTexts();
      ctx.log(`zh issues: ${items.join(' | ')}`);
      for (const i of items) assert.doesNotMatch(i, /is missing|not valid JSON|must be/, i);
      assert.ok(items.some((i) => /缺/.test(i)) && items.some((i) => /JSON/.test(i) && /[\u4e00-\u9fff]/.test(i)));
      await go(page, 'model');
      const panel = page.locator('wt-model-panel');
      await panel.locator('input[name="source"][value="url"]').check();
      await panel.locator('#url').fill('http://127.0.0.1:9/models/gone/');
      await panel.locator('#url').dispatchEvent('change');
      await panel.locator('button.primary').first().click();
      // The adapter trained above is about to go: the page asks first.
      await page
        .locator('[data-testid="confirm-replace"] button[data-action="confirm-replace"]')
        .click({ timeout: 5000 });
      const error = panel.locator('wt-error .error');
      await until('the network error', async () => (await error.innerText().catch(() => '')).length > 0, 60_000);
      const msg = await error.innerText();
      ctx.log(`zh network error: ${msg}`);
      assert.match(msg, /网络|连接/, msg);
      assert.doesNotMatch(msg, /Failed to fetch|network error/i, msg);
    });
    await c.check(
      '14',
      'after the failed load the model in use stays (issue 22, point 3): the header names its engine, not the probed GPU',
      async () => {
        assert.doesNotMatch(await text(page, 'engine-badge'), /WebGPU/);
        assert.ok((await page.locator('[data-testid="model-ready"]').count()) === 1, 'the model is still loaded');
        assert.equal(
          await page.locator('nav button[data-screen="train"] .num').innerText(),
          '✓',
          'the trained adapter is still in use',
        );
      },
    );
    await page.locator('#lang').selectOption('en');
    c.done();
  },
};

// Only in `npm run test:full` (e2e/run.mjs): `npm test` keeps to its 10-minute budget.
export const full = true;

export const tests = [formsAndData];
