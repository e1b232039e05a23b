// The page's schema builder with the values split and variants (issue 21): the shipped meeting
// schema built with held-out rows whose span values training never shows, and a share of
// variants marked as such. Checked against the schema itself (node side): every held-out row's
// values are the schema's, none of them appears as a value in the training rows (for tools
// with span parameters), and the counts are what was asked.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert, openSampleSchema, text, until, waitForModel } from './lib-app.mjs';

export const tests = [
  {
    name: 'schema builder: the values split holds out span values training never shows',
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      const editor = await openSampleSchema(page);
      await editor.locator('select[data-field="split"]').selectOption('values');
      await editor.locator('input[data-field="variants"]').fill('20');
      await editor.locator('input[data-field="variants"]').dispatchEvent('change');
      await editor.locator('button[data-action="build-data"]').click();
      await until('the build', async () => (await text(page, 'build-done').catch(() => '')).includes('200'), 60_000);
      const rows = await page.evaluate(() => {
        const c = document.querySelector('webtune-app').controller;
        const { train, eval: held } = c.splitRows();
        return {
          train: train.map((r) => r.answer),
          held: held.map((r) => r.answer),
          hint: document.querySelector('wt-schema-editor')?.shadowRoot?.textContent ?? '',
        };
      });
      assert.equal(rows.train.length, 200);
      assert.equal(rows.held.length, 50);
      const schema = JSON.parse(readFileSync(join(ctx.distDir, 'samples/meeting-schema.json'), 'utf8'));
      const spanKeys = new Set(
        schema.tools.flatMap((t) =>
          Object.entries(t.function.parameters?.properties ?? {})
            .filter(([, p]) => !p.enum && p['x-source'] !== 'free')
            .map(([k]) => `${t.function.name}.${k}`),
        ),
      );
      const seen = new Set();
      for (const a of rows.train) {
        const call = JSON.parse(a);
        for (const [k, v] of Object.entries(call.parameters)) seen.add(`${call.tool_name}.${k}=${v}`);
      }
      let checked = 0;
      for (const a of rows.held) {
        const call = JSON.parse(a);
        for (const [k, v] of Object.entries(call.parameters)) {
          if (!spanKeys.has(`${call.tool_name}.${k}`)) continue;
          assert.ok(
            !seen.has(`${call.tool_name}.${k}=${v}`),
            `held-out value ${call.tool_name}.${k}=${v} is also a training value`,
          );
          checked++;
        }
      }
      assert.ok(checked >= 10, `only ${checked} held-out span values were checked`);
      ctx.log(`values split: ${checked} held-out span values, none in training`);
    },
  },
];
