// The error loop in one browser session on the CPU engine: the shipped meeting schema builds
// the data (a bad schema first, which changes nothing), the tiny model trains with the e2e
// preset, evaluation runs free and constrained, two wrong answers are corrected into the
// training rows, one tool gets more rows, training continues from the adapter, and the two
// kept runs are compared; then training continues with a control (same steps, no added rows)
// and the two are compared. A screenshot of each screen on the way.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, go, openSampleSchema, text, until, waitForModel } from './lib-app.mjs';

/** The whole screen, cards below the fold too (ctx.screenshot shows the viewport from the top). */
async function fullShot(page, name) {
  // From the top, or the sticky header lands mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({
    fullPage: true,
    path: join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'screens', `${name}.png`),
  });
}

const splitCounts = async (page) =>
  (await text(page, 'split-counts'))
    .match(/(\d+) training rows, (\d+) evaluation rows/)
    ?.slice(1)
    .map(Number) ?? [];

async function trainToEnd(page, ctx, what) {
  await go(page, 'train');
  const state = await until(
    `${what} to end`,
    async () => {
      const s = await text(page, 'train-state');
      return s === 'Finished' || s === 'Failed' ? s : '';
    },
    240_000,
    500,
  );
  assert.equal(
    state,
    'Finished',
    `${what} failed: ${await page
      .locator('wt-train-panel wt-error .error')
      .innerText()
      .catch(() => '?')}`,
  );
  ctx.log(`${what}: ${await text(page, 'train-step')}, last loss ${await text(page, 'stat-loss')}`);
}

async function evaluate(page) {
  await go(page, 'eval');
  await page.locator('wt-eval-panel button[data-action="evaluate"]').click();
  await page.locator('[data-testid="eval-constrained"]').waitFor({ timeout: 240_000 });
  await until(
    'the evaluation to finish',
    async () => !(await page.locator('wt-eval-panel [role="status"]').count()),
    240_000,
  );
}

// Only in `npm run test:full` (e2e/run.mjs): `npm test` keeps to its 10-minute budget.
export const full = true;

export const tests = [
  {
    name: 'error loop: schema, build, train, evaluate free and constrained, correct, more rows, continue, compare runs',
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      const editor = await openSampleSchema(page);
      const before = await text(page, 'dataset-summary');

      // A bad schema names its tool and field, and the schema in use and the data stay.
      const bad = JSON.parse(readFileSync(join(ctx.distDir, 'samples/meeting-schema.json'), 'utf8'));
      bad.tools[5].templates.push('叫{nmae}进来');
      bad.tools.push(bad.tools[0]);
      const badPath = join(mkdtempSync(join(tmpdir(), 'webtune-schema-')), 'broken-schema.json');
      writeFileSync(badPath, JSON.stringify(bad));
      await editor.locator('wt-drop-zone input[type="file"]').setInputFiles(badPath);
      const issues = await page.locator('[data-testid="schema-issues"]').innerText();
      assert.match(issues, /broken-schema\.json/);
      assert.match(issues, /tool "INVITE_PARTICIPANT", field "template \d+", "叫\{nmae\}进来" names \{nmae\}/);
      assert.match(issues, /tool "INSTANT_MEETING", field "function\.name", is used by tool 1 and tool 11/);
      assert.match(await text(page, 'schema-in-use'), /meeting-schema\.json, 10 tools/, 'the schema in use stays');
      assert.equal(await text(page, 'dataset-summary'), before, 'the data stays');

      // Build 1 training + 1 held-out row per tool.
      for (const [field, v] of [
        ['perTool', 1],
        ['evalPerTool', 1],
        ['seed', 7],
      ]) {
        const input = editor.locator(`input[data-field="${field}"]`);
        await input.fill(String(v));
        await input.dispatchEvent('change');
      }
      await editor.locator('button[data-action="build-data"]').click();
      await until('the built rows', async () =>
        (await text(page, 'dataset-summary')).startsWith('meeting-schema-train.json: 10 rows'),
      );
      await until('the split', async () => (await splitCounts(page)).join() === '10,10');
      await until('token counts', async () => (await text(page, 'truncation')).includes('Every example fits'));
      await editor
        .locator('details.tool')
        .first()
        .evaluate((d) => (d.open = true));
      await fullShot(page, 'loop-data-schema');

      await go(page, 'train');
      await page.locator('wt-train-panel button[data-action="start"]').click();
      await trainToEnd(page, ctx, 'run 1');
      await ctx.screenshot(page, 'loop-train');

      await evaluate(page);
      const cInvalid = await text(page, 'eval-c-invalid');
      assert.match(cInvalid, /^0(\.0)?%$/, `constrained decoding writes no invalid JSON, got ${cInvalid}`);
      ctx.log(
        `run 1: exact free ${await text(page, 'eval-exact')}, constrained ${await text(page, 'eval-c-exact')}; invalid JSON free ${await text(page, 'eval-invalid')}`,
      );
      const wrong = page.locator('wt-wrong-answers [data-testid="wrong-answers"] tbody tr');
      assert.ok((await wrong.count()) >= 2, 'the briefly trained tiny model gets some answers wrong');
      await ctx.screenshot(page, 'loop-eval');

      // Correct two wrong answers of tools with values (the expected call is the starting text): each
      // adds a new row from the same template with other values, never the evaluation row itself,
      // so the evaluation set stays as it was and the runs stay comparable.
      const trainBefore = 10;
      for (let k = 0; k < 2; k++) {
        const row = page
          .locator('wt-wrong-answers tbody tr:not(:has(.ok))')
          .filter({ hasText: '"parameters":{"' })
          .first();
        await row.locator('button[data-action="correct"]').click();
        await row.locator('button[data-action="add-corrected"]').click();
        await until(
          `correction ${k + 1}`,
          async () => (await page.locator('wt-wrong-answers tbody tr .ok').count()) === k + 1,
        );
      }
      assert.equal(await page.locator('[data-testid="eval-shrank"]').count(), 0, 'no evaluation row moved out');
      // One tool gets 3 more rows from its templates.
      const count = page.locator('wt-eval-panel input[type="number"]');
      await count.fill('3');
      await count.dispatchEvent('change');
      await page.locator('wt-eval-panel tr[data-intent="SCHEDULE_MEETING"] button[data-action="more-rows"]').click();
      // issue 22, point 9: "+ rows" says what it did, where it was clicked
      await until(
        'the rows-added note',
        async () =>
          /Added 3 rows of SCHEDULE_MEETING: the training data now has 15 rows/.test(await text(page, 'rows-added')),
        30_000,
      );
      await go(page, 'data');
      await until('the grown training rows', async () => (await splitCounts(page)).join() === `${trainBefore + 5},10`);
      const grown = await text(page, 'dataset-summary');
      assert.match(grown, /^meeting-schema-train\.json: 15 rows/, grown);
      await go(page, 'eval');
      await fullShot(page, 'loop-eval-corrected');

      // Continue training from run 1's adapter on the 15 rows: a second run, continued from the first.
      await page.locator('wt-eval-panel button[data-action="continue-training"]').click();
      await trainToEnd(page, ctx, 'run 2');
      await evaluate(page);
      const runs = page.locator('[data-testid="runs-table"] tbody tr');
      await until('two kept runs', async () => (await runs.count()) === 2);
      const rows = await runs.allInnerTexts();
      assert.match(rows[0], /run 2/);
      assert.match(rows[0], /\brun 1\b/, 'run 2 says it continued from run 1');
      assert.match(rows[0], /\b15\b/, 'run 2 trained on 15 rows');
      for (const r of rows)
        assert.match(r, /\d+(\.\d)?%[\s\S]*\d+(\.\d)?%/, `each run keeps its free and constrained evaluation: ${r}`);

      for (const k of [0, 1]) await runs.nth(k).locator('input[type="checkbox"]').check();
      const compare = page.locator('[data-testid="runs-compare"]');
      await compare.waitFor();
      assert.match(await compare.locator('h3').innerText(), /run 1 and run 2/);
      const pathA = await compare.locator('wt-loss-chart path.train').getAttribute('d');
      const pathB = await compare.locator('wt-loss-chart path.eval').getAttribute('d');
      assert.deepEqual(
        [pathA?.split('L').length, pathB?.split('L').length],
        [10, 16],
        'both loss curves drawn, every step (10 rows, then 15 in batches of 2 for 2 epochs: 16)',
      );
      const intents = await compare.locator('[data-testid="runs-compare-table"] tbody tr').count();
      assert.equal(intents, 11, 'all tools plus the overall row compared');
      await fullShot(page, 'loop-runs-compare');

      // The playground under the schema: both answers are calls of it, whatever the models know.
      await go(page, 'chat');
      await page.locator('wt-chat-panel input[data-field="constrained"]').check();
      await page.locator('#prompt').fill('请将以下会议语音指令转换为工具调用JSON：邀请王芳入会');
      await page.locator('#prompt').dispatchEvent('change');
      await page.locator('wt-chat-panel button[type="submit"]').click();
      const tools = JSON.parse(readFileSync(join(ctx.distDir, 'samples/meeting-schema.json'), 'utf8')).tools.map(
        (x) => x.function.name,
      );
      for (const side of ['base', 'tuned']) {
        const answer = page.locator(`[data-testid="answer-${side}"]`);
        await until(`the ${side} answer`, async () => (await answer.getAttribute('aria-busy')) === 'false', 120_000);
        const call = JSON.parse(await text(page, `answer-${side}`));
        assert.ok(
          tools.includes(call.tool_name) && typeof call.parameters === 'object',
          `${side}: ${JSON.stringify(call)}`,
        );
      }
      await ctx.screenshot(page, 'loop-chat-constrained');

      // Continue training with a control (issue 21, point 5). Nothing was added since run 2: refused, saying why.
      await go(page, 'eval');
      const withControl = page.locator('wt-eval-panel input[data-field="with-control"]');
      await withControl.check();
      await page.locator('wt-eval-panel button[data-action="continue-training"]').click();
      await until(
        'the control refused',
        async () =>
          /No rows were added/.test(
            await page
              .locator('wt-eval-panel wt-error .error')
              .first()
              .innerText()
              .catch(() => ''),
          ),
        30_000,
      );
      assert.equal(await runs.count(), 2, 'a refused control trains nothing');
      await page.locator('wt-eval-panel wt-error .error button').first().click();
      // 3 more rows of one tool, then the run with them (run 3, 18 rows) and its control (run 4: run 2's 15 rows, as many steps).
      await page.locator('wt-eval-panel tr[data-intent="INSTANT_MEETING"] button[data-action="more-rows"]').click();
      await until(
        'the rows-added note',
        async () =>
          /Added 3 rows of INSTANT_MEETING: the training data now has 18 rows/.test(await text(page, 'rows-added')),
        30_000,
      );
      await withControl.check();
      await page.locator('wt-eval-panel button[data-action="continue-training"]').click();
      await until(
        'the control run under way',
        async () => /Control run, without the added rows/.test(await text(page, 'continue-progress')),
        300_000,
        200,
      );
      // The two are picked for the comparison last, once both are evaluated and run 3 is back in use.
      const compared = async () => (await page.locator('[data-testid="runs-compare"] h3').allInnerTexts()).join();
      await until(
        'both runs kept, evaluated and compared',
        async () => /run 3 and run 4|run 4 and run 3/.test(await compared()),
        480_000,
        500,
      );
      const cells = async (k) => runs.nth(k).locator('td').allInnerTexts();
      const [controlRun, withRows] = [await cells(0), await cells(1)];
      assert.match(controlRun[0], /run 4[\s\S]*control/, `the newest run is the control: ${controlRun[0]}`);
      assert.match(withRows[0], /run 3[\s\S]*in use/, `the run with the added rows stays in use: ${withRows[0]}`);
      assert.deepEqual(
        [controlRun[2], withRows[2]],
        ['15', '18'],
        "the control trains on run 2's rows alone, the run with the added rows on all",
      );
      assert.equal(controlRun[3], withRows[3], 'the control takes exactly as many optimizer steps');
      assert.deepEqual([controlRun[7], withRows[7]], ['run 2', 'run 2'], 'both continue run 2');
      for (const r of [controlRun, withRows])
        assert.match(`${r[5]} ${r[6]}`, /\d+(\.\d)?%.*\d+(\.\d)?%/, `each is evaluated free and constrained: ${r}`);
      assert.equal(await runs.count(), 4);
      ctx.log(
        `control: run 3 (with the added rows) exact free/constrained ${withRows[5]}/${withRows[6]}, run 4 (control) ${controlRun[5]}/${controlRun[6]}, ${withRows[3]} steps each`,
      );
      await fullShot(page, 'loop-control-compare');
    },
  },
];
