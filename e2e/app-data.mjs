// Data import problems and languages: a bad file lists every problem with its line and field
// and keeps the previous dataset; dataset text is shown as text, never as HTML; the language
// follows the browser, can be switched, and stays switched after a reload.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert, go, text, until, waitForModel } from './lib-app.mjs';

const call = (tool, parameters = {}) => ({ tool_name: tool, parameters });
const row = (input, output) => JSON.stringify({ instruct: '请将以下会议语音指令转换为工具调用JSON：', input, output });

function files() {
  const dir = mkdtempSync(join(tmpdir(), 'webtune-bad-'));
  const hopeless = join(dir, 'hopeless.jsonl');
  // Every line is wrong, each in its own way.
  writeFileSync(
    hopeless,
    [
      '{"instruct": "x", "input": 5, "output": "ok"}',
      'this is not JSON',
      '{"instruct": "x", "input": "no output"}',
      '[1, 2]',
    ].join('\n') + '\n',
  );
  const partial = join(dir, 'partial.jsonl');
  writeFileSync(
    partial,
    [
      row('结束会议', call('END_MEETING')),
      '{"instruct": "x", "input": ["not", "text"], "output": "ok"}',
      row('<img src=x onerror="window.__xss = 1"><b>bold?</b>', call('INSTANT_MEETING', { meeting_name: '<script>' })),
      '{"broken": ',
    ].join('\n') + '\n',
  );
  return { hopeless, partial };
}

export const tests = [
  {
    name: 'a bad dataset shows every problem and keeps the previous one',
    async run(ctx) {
      const { hopeless, partial } = files();
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      await go(page, 'data');
      // The sample data is there on the first visit.
      await until('the sample dataset', async () =>
        (await text(page, 'dataset-summary')).startsWith('meeting-train.json: 200 rows'),
      );
      const picker = page.locator('wt-drop-zone input[type="file"]').first();

      await picker.setInputFiles(hopeless);
      const issues = page.locator('[data-testid="import-issues"]');
      await issues.waitFor();
      const report = await issues.textContent();
      assert.match(report, /Nothing was imported from hopeless\.jsonl; the previous dataset is kept/);
      for (const line of [1, 2, 3, 4]) assert.match(report, new RegExp(`line ${line}\\b`), `line ${line} is reported`);
      assert.match(report, /line 1, field “input”/, 'the wrong-typed field is named');
      assert.match(report, /line 3, field “output”/, 'the missing field is named');
      assert.ok((await page.locator('[data-testid="import-issues"] li').count()) >= 4, 'one entry per problem');
      assert.match(await text(page, 'dataset-summary'), /^meeting-train\.json: 200 rows/, 'the previous dataset stays');
      await ctx.screenshot(page, 'data-bad-file');

      await picker.setInputFiles(partial);
      // Some good rows: nothing changes until the user takes them (issue 14, point 10).
      await page.locator('[data-testid="import-issues"] button[data-action="import-good"]').click();
      await until('the partial import', async () =>
        (await text(page, 'dataset-summary')).startsWith('partial.jsonl: 2 rows'),
      );
      const partialReport = await page.locator('[data-testid="import-issues"]').textContent();
      assert.match(partialReport, /the other 2 rows were imported/);
      assert.match(partialReport, /line 2, field “input”/);
      assert.match(partialReport, /line 4/);
      // Markup in the data is text: visible as typed, no element created, no script run.
      const cell = page.locator('wt-data-panel td.text', { hasText: '<img src=x' });
      await cell.waitFor();
      assert.equal(
        await page.locator('wt-data-panel td img, wt-data-panel td b').count(),
        0,
        'no element from the data',
      );
      assert.equal(await page.evaluate(() => window.__xss), undefined, 'no handler from the data ran');
      assert.ok(
        (await page.locator('wt-data-panel td.answer', { hasText: '"<script>"' }).count()) === 1,
        'the answer JSON is shown as text',
      );
      await ctx.screenshot(page, 'data-partial-file');
    },
  },
  {
    name: 'import by drag and drop and by paste',
    full: true,
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      await go(page, 'data');
      const jsonl = [
        row('静音', call('MUTE_MICROPHONE')),
        row('开始录制', call('START_RECORDING')),
        row('结束会议', call('END_MEETING')),
      ].join('\n');
      const dt = await page.evaluateHandle((text) => {
        const d = new DataTransfer();
        d.items.add(new File([text], 'dropped.jsonl', { type: 'application/json' }));
        return d;
      }, jsonl);
      await page.locator('wt-data-panel wt-drop-zone .zone').first().dispatchEvent('drop', { dataTransfer: dt });
      await until('the dropped file', async () =>
        (await text(page, 'dataset-summary')).startsWith('dropped.jsonl: 3 rows'),
      );

      await page.getByRole('button', { name: 'Paste data' }).click();
      // Alpaca rows this time: the format is detected.
      const alpaca = JSON.stringify([
        {
          instruction: '把指令转成JSON',
          input: '取消静音',
          output: '{"tool_name":"UNMUTE_MICROPHONE","parameters":{}}',
        },
        { instruction: '把指令转成JSON', input: '共享屏幕', output: '{"tool_name":"SHARE_SCREEN","parameters":{}}' },
      ]);
      await page.locator('#paste').fill(alpaca);
      await page.getByRole('button', { name: 'Import pasted text' }).click();
      await until(
        'the pasted rows',
        async () => (await text(page, 'dataset-summary')) === 'pasted text: 2 rows (Alpaca)',
      );
      await ctx.screenshot(page, 'data-pasted');
    },
  },
  {
    name: 'language follows the browser, switches, and is kept after a reload',
    full: true,
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu', goto: false });
      await page
        .context()
        .addInitScript(() => Object.defineProperty(navigator, 'languages', { get: () => ['zh-CN', 'zh'] }));
      await page.goto(ctx.baseUrl + '?preset=e2e&engine=cpu&builtin=tiny');
      await waitForModel(page);
      assert.match(
        await page.locator('nav button[data-screen="train"]').innerText(),
        /训练/,
        'Chinese from navigator.languages',
      );
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
      await go(page, 'train');
      // Numbers formatted for the locale: the planned steps sentence is in Chinese.
      await page.getByText(/共 \d+ 个优化步/).waitFor();
      await ctx.screenshot(page, 'zh-train');
      await page.locator('#lang').selectOption('en');
      await until('English', async () =>
        (await page.locator('nav button[data-screen="train"]').innerText()).includes('Train'),
      );
      await page.reload();
      await waitForModel(page);
      assert.ok(
        (await page.locator('nav button[data-screen="train"]').innerText()).includes('Train'),
        'English kept after reload',
      );
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    },
  },
];
