// The app keeps what you did (issue 22, points 1-3 and 10): after a reload the finished run's
// adapter is still the one in use (Train, Export and the exported files agree), a "Continue
// training" run interrupted by a reload is offered for Resume and reaches Runs with its parent,
// and a failed model load keeps the model that was in use. On the CPU engine (fast in CI).

import { assert, downloadOf, go, safetensorsHeader, setNumber, text, until, unzip, waitForModel } from './lib-app.mjs';
import { importSmallData } from './app-flow.mjs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const stepOf = async (page) => Number(/Step (\d+) of/.exec(await text(page, 'train-step'))?.[1] ?? NaN);
const state = (page) => text(page, 'train-state');

/** The PEFT export's lora_B of one projection: all zero for a fresh (untrained) adapter. */
async function exportedB(page) {
  await go(page, 'export');
  const peft = await downloadOf(page, () => page.locator('button[data-export="peft"]').click());
  const files = unzip(peft.bytes);
  const names = Object.keys(files);
  const config = JSON.parse(new TextDecoder().decode(files[names.find((n) => n.endsWith('/adapter_config.json'))]));
  const bytes = files[names.find((n) => n.endsWith('/adapter_model.safetensors'))];
  const header = safetensorsHeader(bytes);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const t = header['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'];
  const data = new Float32Array(bytes.slice(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]).buffer);
  return { config, b: data };
}

export const tests = [
  {
    name: 'keeps: the finished adapter is in use after a reload; a continued run resumes after a reload and reaches Runs',
    timeoutMs: 600_000,
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      await importSmallData(page, ctx.distDir, 12, 4);
      await go(page, 'train');
      await page.locator('wt-train-panel button[data-action="start"]').click();
      await until('the run to finish', async () => (await state(page)) === 'Finished', 240_000);
      const steps = await stepOf(page);
      // Point 9: a finished run points to Evaluate.
      await page.locator('[data-testid="next-evaluate"] button[data-action="go-eval"]').click();
      await page.locator('[aria-current="step"][data-screen="eval"]').waitFor();
      const trained = await exportedB(page);
      assert.ok(
        trained.b.some((x) => x !== 0),
        'the trained adapter has a non-zero lora_B',
      );
      // point 10: the base is named by something a loader can take, not the page's label
      assert.match(
        trained.config.base_model_name_or_path,
        /^[\w./-]+$/,
        `base_model_name_or_path ${trained.config.base_model_name_or_path}`,
      );

      // Point 1: after a reload the same adapter is in use, and every screen says so.
      await page.reload();
      await waitForModel(page);
      await go(page, 'train');
      await until('the Train step to show the finished run', async () => (await state(page)) === 'Finished', 60_000);
      assert.equal(await stepOf(page), steps, 'the run in use is the finished one');
      await go(page, 'export');
      assert.equal(
        await page.getByText('has not been trained yet').count(),
        0,
        'Export does not call the adapter untrained',
      );
      const after = await exportedB(page);
      assert.deepEqual(
        [...after.b],
        [...trained.b],
        'the exported adapter after the reload is the trained one, bit for bit',
      );
      await ctx.screenshot(page, 'keeps-after-reload');

      // Point 2: continue training from it (a longer run), reload mid-run, resume, and it reaches Runs.
      await go(page, 'train');
      await setNumber(page, 'epochs', 30);
      await go(page, 'eval');
      await page.locator('wt-eval-panel button[data-action="evaluate"]').click();
      await page.locator('[data-testid="eval-report"]').waitFor({ timeout: 240_000 });
      await until(
        'evaluation to end',
        async () => !(await page.locator('wt-eval-panel button[data-action="continue-training"]').isDisabled()),
        240_000,
      );
      await page.locator('wt-eval-panel button[data-action="continue-training"]').click();
      // Point 9: Evaluate, where Continue was pressed, shows the run going on, and that the
      // results on show are of the adapter before it.
      await until(
        "the continued run's progress on Evaluate",
        async () => /Training on: step \d+ of \d+/.test(await text(page, 'continue-progress')),
        60_000,
      );
      await page.locator('[data-testid="eval-stale"]').waitFor({ timeout: 10_000 });
      await go(page, 'train');
      const saved = page.getByText(/Checkpoint saved at step (\d+)/);
      let savedStep = 0;
      await until(
        'a few checkpoints of the continued run',
        async () => {
          const m = /step (\d+)/.exec((await saved.textContent({ timeout: 1000 }).catch(() => '')) ?? '');
          savedStep = m ? Number(m[1]) : 0;
          return savedStep >= 4;
        },
        180_000,
      );
      const before = await stepOf(page);
      ctx.log(`reloading the continued run at step ${before}`);
      // Without ?preset=e2e, which would put its own epochs back over the saved 30.
      await page.goto(`${ctx.baseUrl}?engine=cpu&builtin=tiny`);
      await waitForModel(page);
      await go(page, 'train');
      const found = page.locator('[data-testid="checkpoint-found"]');
      await found.waitFor({ timeout: 60_000 });
      const ckStep = Number(/step (\d+) of/.exec(await found.textContent())?.[1]);
      // The run goes on while the page reloads, so a later checkpoint may be the last one: the offer
      // is at least the checkpoint seen before the reload, and inside this run.
      const total = Number(/step \d+ of (\d+)/.exec(await found.textContent())?.[1]);
      assert.ok(
        ckStep >= savedStep && ckStep < total,
        `the continued run is offered at step ${ckStep} of ${total} (checkpoint ${savedStep} seen, reloaded at ${before})`,
      );
      const resume = page.locator('wt-train-panel button[data-action="start"]');
      assert.equal((await resume.innerText()).trim(), 'Resume');
      // Point 8: the offer's screen agrees with itself: the step's epoch, a state that is not
      // "Not started", and the words name the button as it reads.
      assert.match(await state(page), /^Saved, not running$/);
      const epochText =
        (await page
          .getByText(/^Epoch [\d.]+ of 30$/)
          .first()
          .textContent()) ?? '';
      const epoch = Number(/Epoch ([\d.]+) of 30/.exec(epochText)?.[1]);
      assert.ok(Math.abs(epoch - ckStep / 6) < 0.01, `epoch ${epoch} for step ${ckStep} at 6 steps an epoch`);
      assert.match(await found.textContent(), /Resume continues it/);
      await resume.click();
      await page.locator('[data-testid="resumed"]').waitFor({ timeout: 60_000 });
      assert.match(await text(page, 'resumed'), new RegExp(`Resumed from the checkpoint at step ${ckStep}\\.`));
      await until('steps after the checkpoint', async () => (await stepOf(page)) >= ckStep + 2, 120_000);
      await page.locator('wt-train-panel button[data-action="stop"]').click();
      await until('the run to stop', async () => (await state(page)) === 'Stopped', 60_000);
      await go(page, 'eval');
      const runs = page.locator('[data-testid="runs-table"] tbody tr');
      await until('two kept runs', async () => (await runs.count()) === 2, 60_000);
      const rows = await runs.allInnerTexts();
      ctx.log(`runs: ${rows.map((r) => r.replace(/\s+/g, ' ')).join(' | ')}`);
      assert.match(rows[0], /\brun 2\b/);
      assert.match(rows[0], /\brun 1\b/, 'the continued run says it continued from run 1');
      await ctx.screenshot(page, 'keeps-continued');

      // Point 9: loading a run shows its stored evaluation (run 1 was evaluated), and a run never
      // evaluated shows none, not the previous adapter's.
      await runs.nth(1).locator('button[data-action="load-run"]').click();
      await page.locator('[data-testid="eval-stored"]').waitFor({ timeout: 60_000 });
      assert.equal(
        await page.locator('[data-testid="eval-stale"]').count(),
        0,
        "the loaded run's own report is not stale",
      );
      assert.match(await text(page, 'eval-exact'), /%/);
      await runs.nth(0).locator('button[data-action="load-run"]').click();
      await until(
        'no report for the run never evaluated',
        async () => (await page.locator('[data-testid="eval-report"]').count()) === 0,
        60_000,
      );
    },
  },
  {
    name: 'table: a CSV import asks which column is which, then imports the rows (point 10)',
    timeoutMs: 120_000,
    async run(ctx) {
      const page = await ctx.newPage({ query: 'engine=cpu' });
      await waitForModel(page);
      await go(page, 'data');
      await until('the sample data', async () => (await text(page, 'dataset-summary')).includes('200 rows'));
      const before = await text(page, 'dataset-summary');
      const path = join(mkdtempSync(join(tmpdir(), 'webtune-csv-')), 'sheet.csv');
      writeFileSync(
        path,
        'frage,antwort,id\n"Book a room, 3pm","{""intent"": ""BOOK""}",1\nMute me,"{""intent"": ""MUTE""}",2\nStop,"{""intent"": ""STOP""}",3\n',
      );
      await page.locator('wt-drop-zone input[type="file"]').first().setInputFiles(path);
      const card = page.locator('[data-testid="column-mapping"]');
      await card.waitFor({ timeout: 30_000 });
      assert.match(await card.innerText(), /sheet\.csv, 3 rows/);
      // the header names nothing it knows: the user picks, and Import waits for it
      assert.match(await text(page, 'mapping-problem'), /user text/);
      assert.equal(await card.locator('button[data-action="import-mapped"]').isDisabled(), true);
      assert.equal(await text(page, 'dataset-summary'), before, 'the data in use stays until the import');
      await card.locator('select[data-field="input"]').selectOption('0');
      await card.locator('select[data-field="output"]').selectOption('1');
      await card.locator('button[data-action="import-mapped"]').click();
      await until(
        'the table rows',
        async () => (await text(page, 'dataset-summary')).startsWith('sheet.csv: 3 rows'),
        30_000,
      );
      assert.equal(await card.count(), 0, 'the mapping step is done');
      await ctx.screenshot(page, 'keeps-csv');
    },
  },
  {
    name: 'keeps: a failed model load keeps the model in use',
    timeoutMs: 180_000,
    async run(ctx) {
      const page = await ctx.newPage({ query: 'engine=cpu' });
      await waitForModel(page);
      const ready = await text(page, 'model-ready');
      const panel = page.locator('wt-model-panel');
      await panel.locator('input[name="source"][value="url"]').check();
      await panel.locator('#url').fill('http://127.0.0.1:9/models/gone/');
      await panel.locator('#url').dispatchEvent('change');
      await panel.locator('button.primary', { hasText: /Load/ }).first().click();
      const error = panel.locator('wt-error .error');
      await until('the network error', async () => (await error.innerText().catch(() => '')).length > 0, 60_000);
      assert.equal(await text(page, 'model-ready'), ready, 'the model that was in use is still loaded');
      const header = await page.locator('header').innerText();
      assert.doesNotMatch(header, /nothing loaded/, `header: ${header}`);
      // and it still works: the Train step can start with it
      await go(page, 'train');
      assert.equal(
        await page.locator('wt-train-panel button[data-action="start"]').isDisabled(),
        false,
        'Start is available',
      );
      await ctx.screenshot(page, 'keeps-failed-load');
    },
  },
];
