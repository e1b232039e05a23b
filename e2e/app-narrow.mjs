// Issue 22, point 5: at 390x844 nothing is wider than the screen on any step, in English and
// Chinese, with every part that was too wide on show: the catalog, the schema editor with a tool
// open, a finished run, an evaluation with wrong answers and per-intent rows. Stricter than the
// page's scrollWidth: every element, inside shadow roots too, must end within the screen, and
// no box may need scrolling sideways (a table cut at a card's edge with no cue fails too).

import { assert, go, text, until, waitForModel } from './lib-app.mjs';

const STEPS = ['model', 'data', 'train', 'eval', 'chat', 'export'];

/** Elements past the screen's right edge, and boxes whose content needs sideways scrolling. */
function offenders() {
  const W = document.documentElement.clientWidth;
  const out = new Set();
  const name = (el) => {
    const host = el.getRootNode()?.host?.localName ?? '';
    const cls =
      typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
    const label = (el.getAttribute('data-testid') || el.getAttribute('data-action') || el.textContent || '')
      .trim()
      .replace(/\s+/g, ' ')
      .slice(0, 30);
    return `${host ? host + ' > ' : ''}${el.localName}${cls} "${label}"`;
  };
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      const cs = getComputedStyle(el);
      if (cs.display === 'none' || cs.visibility === 'hidden') continue;
      const r = el.getBoundingClientRect();
      if (r.width <= 1 || r.height <= 1 || cs.position === 'fixed') continue;
      if (r.right > W + 1) out.add(`${name(el)} ends at ${Math.round(r.right)} px`);
      if (
        (cs.overflowX === 'auto' || cs.overflowX === 'scroll' || cs.overflowX === 'hidden') &&
        el.scrollWidth > el.clientWidth + 1 &&
        el.localName !== 'html' &&
        el.localName !== 'body'
      )
        out.add(`${name(el)} holds ${el.scrollWidth} px in ${el.clientWidth}`);
    }
  };
  walk(document);
  return [...out];
}

export const tests = [
  {
    name: 'narrow: nothing wider than 390 px on any step, with the wide parts on show',
    timeoutMs: 600_000,
    async run(ctx) {
      const page = await ctx.newPage({ query: 'preset=e2e&engine=cpu' });
      await waitForModel(page);
      // a schema in use and rows built from it: the per-intent table gets its "+ rows" column
      await go(page, 'data');
      const editor = page.locator('wt-schema-editor');
      await editor.locator('button[data-action="sample-schema"]').click();
      await until('the sample schema', async () => (await text(page, 'schema-in-use')).includes('10 tools'));
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
      await until('the built rows', async () => (await text(page, 'dataset-summary')).includes(': 10 rows'));
      await go(page, 'train');
      await page.locator('wt-train-panel button[data-action="start"]').click();
      await until('the run to finish', async () => (await text(page, 'train-state')) === 'Finished', 300_000);
      await go(page, 'eval');
      await page.locator('wt-eval-panel button[data-action="evaluate"]').click();
      await page.locator('[data-testid="eval-report"]').waitFor({ timeout: 300_000 });
      await until(
        'the evaluation to end',
        async () => !(await page.locator('wt-eval-panel button[data-action="continue-training"]').isDisabled()),
        300_000,
      );

      await page.setViewportSize({ width: 390, height: 844 });
      const found = [];
      for (const lang of ['en', 'zh']) {
        await page.locator('#lang').selectOption(lang);
        for (const step of STEPS) {
          await go(page, step);
          // the schema editor with a tool open, as a user editing it sees it
          if (step === 'data')
            await page
              .locator('wt-schema-editor details.tool')
              .first()
              .evaluate((d) => (d.open = true))
              .catch(() => undefined);
          // the catalog shows for a hub source (nothing loads until Load is pressed)
          if (step === 'model') await page.locator('wt-model-panel input[name="source"][value="hf"]').check();
          if (step === 'eval') {
            // readable: each cell of a wrong answer gets most of the screen, not a 41 px column
            const widths = await page
              .locator('[data-testid="wrong-answers"] td')
              .evaluateAll((tds) => tds.map((td) => td.getBoundingClientRect().width));
            assert.ok(widths.length > 0, 'wrong answers are on show');
            const narrow = widths.filter((w) => w < 200);
            if (narrow.length)
              found.push(
                `${lang} eval: ${narrow.length} wrong-answer cells narrower than 200 px (${Math.round(Math.min(...narrow))} px)`,
              );
          }
          await page.waitForTimeout(300);
          for (const o of await page.evaluate(offenders)) found.push(`${lang} ${step}: ${o}`);
          await ctx.screenshot(page, `narrow-${lang}-${step}`);
        }
      }
      await page.locator('#lang').selectOption('en');
      for (const f of found) ctx.log(f);
      assert.deepEqual(found, [], `${found.length} parts wider than 390 px`);
    },
  },
];
