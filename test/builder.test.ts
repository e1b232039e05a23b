// The dataset builder on schemas it was not written for (hand-written fixtures and seeded
// random ones). The oracle reads the raw schema JSON itself: tool names, properties,
// required, enum, never the builder's parsed form.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SchemaError } from '../src/core/errors.ts';
import { importDataset } from '../src/data/dataset.ts';
import { buildRows, formatSeedRows, moreRows, type SeedRow } from '../src/data/builder.ts';
import { parseToolSchema } from '../src/data/schema.ts';
import { randomSchema } from './helpers/random-schema.ts';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');

/** Every reason the built rows break the acceptance rules, checked against the raw schema JSON. */
function oracleProblems(raw: any, train: SeedRow[], held: SeedRow[], perTool: number, evalPerTool: number): string[] {
  const out: string[] = [];
  const tools = new Map<string, any>(raw.tools.map((t: any) => [t.function.name, t.function.parameters ?? {}]));
  const seen = new Map<string, string>();
  for (const [side, rows, n] of [
    ['train', train, perTool],
    ['eval', held, evalPerTool],
  ] as const) {
    const count = new Map<string, number>();
    for (const r of rows) {
      const where = `${side} ${JSON.stringify(r.input)}`;
      if (seen.has(r.input)) out.push(`${where} repeats a ${seen.get(r.input)} utterance`);
      seen.set(r.input, side);
      if (r.instruct !== (raw.instruct ?? '')) out.push(`${where}: instruct`);
      if (r.system !== raw.system) out.push(`${where}: system`);
      const spec = tools.get(r.output.tool_name);
      if (!spec) {
        out.push(`${where}: unknown tool ${r.output.tool_name}`);
        continue;
      }
      count.set(r.output.tool_name, (count.get(r.output.tool_name) ?? 0) + 1);
      const props = spec.properties ?? {};
      for (const req of spec.required ?? [])
        if (!(req in r.output.parameters)) out.push(`${where}: required ${req} missing`);
      for (const [k, v] of Object.entries(r.output.parameters)) {
        if (!(k in props)) out.push(`${where}: unknown key ${k}`);
        else if (props[k].enum && !props[k].enum.includes(v)) out.push(`${where}: ${k}=${v} outside the enum`);
        if (typeof v !== 'string' || !v) out.push(`${where}: ${k} is not a non-empty string`);
        else if (!r.input.includes(v)) out.push(`${where}: ${k}=${v} not verbatim in the utterance`);
      }
    }
    for (const name of tools.keys())
      if ((count.get(name) ?? 0) !== n) out.push(`${side}: ${name} has ${count.get(name) ?? 0} rows, not ${n}`);
  }
  return out;
}

describe('buildRows', () => {
  const cases: [string, any, number, number][] = [
    [
      'smart home (Chinese values, enum, optional, no parameters)',
      JSON.parse(read('./fixtures/schemas/smart-home.json')),
      4,
      1,
    ],
    ['travel (ASCII, quotes and backslashes in values)', JSON.parse(read('./fixtures/schemas/travel-en.json')), 3, 1],
    ['meeting assistant', JSON.parse(read('../public/samples/meeting-schema.json')), 12, 8],
    ...[1, 2, 3, 4, 5, 6].map((s): [string, any, number, number] => [`random schema ${s}`, randomSchema(s), 5, 3]),
  ];
  for (const [name, raw, perTool, evalPerTool] of cases) {
    it(`${name}: every row valid, ${perTool} + ${evalPerTool} per tool, no duplicates, no utterance on both sides`, () => {
      const schema = parseToolSchema(JSON.stringify(raw));
      const built = buildRows(schema, { perTool, evalPerTool, seed: 7 });
      expect(oracleProblems(raw, built.train, built.eval, perTool, evalPerTool)).toEqual([]);
      // The file it writes is a seed-format dataset the importer takes without a problem.
      const imported = importDataset(formatSeedRows(built.train), { file: 'built.json' });
      expect(imported.issues).toEqual([]);
      expect(imported.rows.map((r) => r.expected)).toEqual(built.train.map((r) => r.output));
      expect(imported.rows.map((r) => r.user)).toEqual(built.train.map((r) => (raw.instruct ?? '') + r.input));
    });
  }

  it('the oracle itself catches each kind of bad row', () => {
    const raw = JSON.parse(read('./fixtures/schemas/smart-home.json'));
    const { train, eval: held } = buildRows(parseToolSchema(JSON.stringify(raw)), {
      perTool: 3,
      evalPerTool: 1,
      seed: 1,
    });
    const light = train.findIndex((r) => r.output.tool_name === 'SET_LIGHT');
    const bad = (f: (r: SeedRow) => SeedRow) =>
      oracleProblems(
        raw,
        train.map((r, i) => (i === light ? f(structuredClone(r)) : r)),
        held,
        3,
        1,
      );
    expect(
      bad((r) => ({ ...r, output: { ...r.output, parameters: { ...r.output.parameters, state: '半' } } })).join(),
    ).toMatch(/outside the enum/);
    expect(
      bad((r) => ({ ...r, output: { ...r.output, parameters: { room: r.output.parameters.room } } })).join(),
    ).toMatch(/required state missing/);
    expect(
      bad((r) => ({ ...r, output: { ...r.output, parameters: { ...r.output.parameters, zz: 'x' } } })).join(),
    ).toMatch(/unknown key zz/);
    expect(bad((r) => ({ ...r, input: r.input.replace(r.output.parameters.room as string, '') })).join()).toMatch(
      /not verbatim/,
    );
    expect(bad((r) => ({ ...r, input: held[0].input })).join()).toMatch(/repeats a train utterance/);
    expect(bad((r) => ({ ...r, output: { ...r.output, tool_name: 'X' } })).join()).toMatch(
      /unknown tool X.*SET_LIGHT has 2 rows, not 3/,
    );
  });

  it('is deterministic for a seed and spreads rows over the templates', () => {
    const schema = parseToolSchema(read('../public/samples/meeting-schema.json'));
    const a = formatSeedRows(buildRows(schema, { perTool: 10, evalPerTool: 5, seed: 3 }).train);
    expect(formatSeedRows(buildRows(schema, { perTool: 10, evalPerTool: 5, seed: 3 }).train)).toBe(a);
    expect(formatSeedRows(buildRows(schema, { perTool: 10, evalPerTool: 5, seed: 4 }).train)).not.toBe(a);
    // 10 rows of a tool with 25 templates: 10 different templates, as templates take turns.
    const rows = buildRows(schema, { perTool: 10, seed: 3 }).train.filter(
      (r) => r.output.tool_name === 'INSTANT_MEETING',
    );
    const tmpl = new Set(
      rows.map((r) => r.input.replace(r.output.parameters.meeting_name as string, '{meeting_name}')),
    );
    expect(tmpl.size).toBe(10);
  });

  it('refuses, naming the tool, when its templates cannot give enough distinct utterances', () => {
    const raw = JSON.parse(read('./fixtures/schemas/smart-home.json'));
    const schema = parseToolSchema(JSON.stringify(raw));
    // GOOD_NIGHT has 5 templates and no parameters: 4 + 2 cannot be distinct.
    let err: unknown;
    try {
      buildRows(schema, { perTool: 4, evalPerTool: 2, seed: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaError);
    expect((err as SchemaError).issues).toEqual([
      {
        tool: 'GOOD_NIGHT',
        field: 'templates',
        message: expect.stringMatching(/give only 5 distinct utterances, 6 were asked for/),
      },
    ]);
  });
});

describe('moreRows', () => {
  it('adds rows of one tool that repeat no utterance already in the data', () => {
    const raw = JSON.parse(read('../public/samples/meeting-schema.json'));
    const schema = parseToolSchema(JSON.stringify(raw));
    const built = buildRows(schema, { perTool: 5, evalPerTool: 3, seed: 2 });
    const existing = [...built.train, ...built.eval].map((r) => r.input);
    const more = moreRows(schema, 'SCHEDULE_MEETING', 7, 11, existing);
    expect(more).toHaveLength(7);
    expect(more.every((r) => r.output.tool_name === 'SCHEDULE_MEETING')).toBe(true);
    expect(more.filter((r) => existing.includes(r.input))).toEqual([]);
    expect(
      oracleProblems(raw, [...built.train, ...more], built.eval, -1, 3).filter((p) => !/rows, not -1/.test(p)),
    ).toEqual([]);
    expect(() => moreRows(schema, 'NOPE', 1, 1, [])).toThrow(SchemaError);
  });
});
