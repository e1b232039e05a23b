// Dataset files as people have them: GB18030 and UTF-16 import as the same rows as their UTF-8
// twin (with a notice), a damaged UTF-8 line is refused by number, a million rows stream in with
// progress drawn while they come, and rows whose prompt fills the max length stop training
// before it starts instead of "finishing" at loss 0.

import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGb18030, encodeUtf16 } from '../test/helpers/encodings.mjs';
import { assert, go, setNumber, text, until, waitForModel } from './lib-app.mjs';

const sample = JSON.parse(readFileSync(new URL('../public/samples/meeting-train.json', import.meta.url), 'utf8'));
const jsonl =
  sample
    .slice(0, 12)
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n';
const MILLION = 1_000_000;

async function millionRows(dir) {
  const path = join(dir, 'million.jsonl');
  const out = createWriteStream(path);
  for (let i = 0; i < MILLION; i += 10_000) {
    let chunk = '';
    for (let j = i; j < i + 10_000; j++) chunk += `{"instruct":"改名为","input":"会议${j}","output":"会议${j}"}\n`;
    if (!out.write(chunk)) await new Promise((ok) => out.once('drain', ok));
  }
  await new Promise((ok) => out.end(ok));
  return path;
}

const previewCells = (page) => page.locator('wt-data-panel td.text').allTextContents();

// Only in `npm run test:full` (e2e/run.mjs): `npm test` keeps to its 10-minute budget.
export const full = true;

export const tests = [
  {
    name: 'encodings import like UTF-8, a damaged line is named, a million rows stream in, no-answer rows stop training',
    timeoutMs: 420_000,
    async run(ctx) {
      const dir = mkdtempSync(join(tmpdir(), 'webtune-import-'));
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      await go(page, 'data');
      const picker = page.locator('wt-drop-zone input[type="file"]').first();
      const pick = (name, bytes) =>
        picker.setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(bytes) });
      const summary = (name, rows) =>
        until(`${name} imported`, async () =>
          (await text(page, 'dataset-summary')).startsWith(`${name}: ${rows} rows`),
        );

      await pick('twin.jsonl', new TextEncoder().encode(jsonl));
      await summary('twin.jsonl', 12);
      const reference = await previewCells(page);
      assert.ok(
        reference.some((c) => c.includes('创建汇报会会议')),
        'the UTF-8 rows read right',
      );
      for (const [name, bytes, encoding] of [
        ['gbk.jsonl', encodeGb18030(jsonl), 'GB18030'],
        ['le.jsonl', encodeUtf16(jsonl, 'le'), 'UTF-16LE'],
        ['be.jsonl', encodeUtf16(jsonl, 'be'), 'UTF-16BE'],
      ]) {
        await pick(name, bytes);
        await summary(name, 12);
        assert.equal(await text(page, 'import-encoding'), `The file is not UTF-8: it was read as ${encoding}.`);
        assert.deepEqual(await previewCells(page), reference, `${encoding} rows equal the UTF-8 twin's`);
      }
      await ctx.screenshot(page, 'data-gb18030');

      const lines = jsonl.trimEnd().split('\n');
      const enc = new TextEncoder();
      await pick(
        'damaged.jsonl',
        Buffer.concat([
          enc.encode(lines.slice(0, 4).join('\n') + '\n'),
          encodeGb18030(lines[4] + '\n'),
          enc.encode(lines.slice(5).join('\n')),
        ]),
      );
      const issues = page.locator('[data-testid="import-issues"]');
      await until('the refusal', async () => /damaged\.jsonl/.test((await issues.textContent({ timeout: 500 })) ?? ''));
      assert.match(
        await issues.textContent(),
        /line 5: not valid UTF-8 \(byte 0x[0-9A-F]{2} at byte \d+\); 11 other line\(s\) are UTF-8/,
      );
      assert.match(await text(page, 'dataset-summary'), /^be\.jsonl: 12 rows/, 'the previous dataset stays');

      // Rows whose prompt fills the max length: nothing to learn, so training does not start.
      await go(page, 'train');
      await setNumber(page, 'maxLength', 8);
      await page.locator('wt-train-panel button[data-action="start"]').click();
      const error = page.locator('wt-train-panel wt-error [role="alert"]');
      // The sample eval file is set aside for these rows (other intents): the split's training rows are refused.
      await until('the refusal to train', async () =>
        /Nothing to train on: \d+ row\(s\) skipped: the prompt fills the max length 8/.test(
          (await error.textContent({ timeout: 500 })) ?? '',
        ),
      );
      assert.equal(await text(page, 'train-state'), 'Failed');
      await setNumber(page, 'maxLength', 256);

      // A million rows: progress is drawn while they stream in, so the page kept running.
      await go(page, 'data');
      const big = await millionRows(dir);
      const seen = new Set();
      await picker.setInputFiles(big);
      await until(
        'a million rows',
        async () => {
          const p = await page
            .locator('[data-testid="import-progress"]')
            .textContent({ timeout: 200 })
            .catch(() => '');
          const m = /([\d,]+) rows read/.exec(p ?? '');
          if (m) seen.add(m[1]);
          return (await text(page, 'dataset-summary')).startsWith('million.jsonl: 1,000,000 rows');
        },
        300_000,
        50,
      );
      ctx.log(`progress drawn at ${[...seen].join(' / ')} rows`);
      assert.ok(seen.size >= 3, `the page drew the import's progress while it ran (${seen.size} distinct counts)`);
      await page.locator('[data-testid="token-sample"]').waitFor({ timeout: 120_000 });
      assert.match(await text(page, 'token-sample'), /an even sample of 2,\d{3} of the 1,000,000 rows/);
      await ctx.screenshot(page, 'data-million');
    },
  },
];
