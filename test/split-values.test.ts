// The values split. Oracles: the rows themselves (which values each side uses) and the
// templates refilled with a row's own values, which must give its utterance back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildRows, type SeedRow } from '../src/data/builder.ts';
import { fillTemplate, isSpanParam, parseToolSchema, templateParams, type ToolSchema } from '../src/data/schema.ts';
import { buildRowsByValues } from '../src/data/split-values.ts';
import { randomSchema } from './helpers/random-schema.ts';

const HOME = parseToolSchema(readFileSync(new URL('./fixtures/schemas/smart-home.json', import.meta.url), 'utf8'));

/** Templates of the row's tool that give its utterance from its own values. */
function templatesOf(schema: ToolSchema, r: SeedRow): string[] {
  const tool = schema.tools.find((t) => t.name === r.output.tool_name)!;
  const values = r.output.parameters as Record<string, string>;
  return tool.templates.filter(
    (t) =>
      templateParams(t).every((n) => n in values) &&
      Object.keys(values).every((n) => templateParams(t).includes(n)) &&
      fillTemplate(t, values) === r.input,
  );
}

describe('build-data --eval-split values', () => {
  const cases: [string, ToolSchema][] = [
    ['smart home', HOME],
    ...[1, 2, 3, 4, 5, 6].map((k): [string, ToolSchema] => [`random ${k}`, parseToolSchema(randomSchema(k))]),
  ];
  for (const [name, schema] of cases) {
    it(`${name}: held-out rows come from seen templates with span values training never used`, () => {
      const { train, eval: held } = buildRowsByValues(schema, { perTool: 3, evalPerTool: 2, seed: 9 });
      expect(held.length).toBeGreaterThan(0);
      const trainInputs = new Set(train.map((r) => r.input));
      const trainTemplates = new Set(train.flatMap((r) => templatesOf(schema, r)));
      let copied = 0;
      for (const r of held) {
        expect(trainInputs.has(r.input)).toBe(false);
        const tool = schema.tools.find((t) => t.name === r.output.tool_name)!;
        const spans = tool.params
          .filter(isSpanParam)
          .map((p) => p.name)
          .filter((n) => n in r.output.parameters);
        if (!spans.length) continue;
        // A seen template; each span value absent from every training row of the tool.
        expect(
          templatesOf(schema, r).some((t) => trainTemplates.has(t)),
          r.input,
        ).toBe(true);
        for (const n of spans) {
          const v = r.output.parameters[n];
          expect(
            train.some((t) => t.output.tool_name === tool.name && t.output.parameters[n] === v),
            `${tool.name}.${n}=${v}`,
          ).toBe(false);
          copied++;
        }
      }
      const spanTools = schema.tools.filter((t) => t.params.some(isSpanParam)).length;
      if (spanTools) expect(copied).toBeGreaterThan(0);
    });
  }

  it('the default split is unchanged, and a span parameter with one value is refused', () => {
    expect(buildRows(HOME, { perTool: 4, evalPerTool: 1, seed: 3 })).toEqual(
      buildRows(HOME, { perTool: 4, evalPerTool: 1, seed: 3 }),
    );
    const one = parseToolSchema({
      tools: [
        {
          type: 'function',
          function: {
            name: 'T',
            parameters: { type: 'object', properties: { a: { type: 'string', examples: ['x'] } }, required: ['a'] },
          },
          templates: ['做{a}', '请做{a}'],
        },
      ],
    });
    expect(() => buildRowsByValues(one, { perTool: 1, evalPerTool: 1, seed: 1 })).toThrow(/at least 2/);
  });
});
