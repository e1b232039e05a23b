// CLI commands around tool schemas, called in-process through main() with captured streams.
// Oracles: the files read back and checked against the schema's raw JSON, the library called
// directly, and bad schemas with known problems.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';
import { buildRows, formatSeedRows } from '../src/data/builder.ts';
import { parseToolSchema, textCallProblems } from '../src/data/schema.ts';
import { makeTinyModel } from './helpers/tiny-models.ts';

const SCHEMA = new URL('./fixtures/schemas/smart-home.json', import.meta.url).pathname;
let tmp: string;
let modelDir: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-cli-data-'));
  modelDir = join(tmp, 'model');
  await makeTinyModel({ preset: 'tiny', out: modelDir, seed: 3 });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('cli build-data', () => {
  it('writes the training and held-out rows the builder gives for the seed', async () => {
    const out = join(tmp, 'train.json'),
      evalOut = join(tmp, 'eval.json');
    const r = await cli(
      'build-data',
      '--schema',
      SCHEMA,
      '--per-tool',
      '3',
      '--seed',
      '9',
      '--out',
      out,
      '--eval-out',
      evalOut,
      '--eval-per-tool',
      '2',
    );
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ command: 'build-data', tools: 3, train: 9, eval: 6, seed: 9 });
    const built = buildRows(parseToolSchema(readFileSync(SCHEMA, 'utf8')), { perTool: 3, evalPerTool: 2, seed: 9 });
    expect(readFileSync(out, 'utf8')).toBe(formatSeedRows(built.train));
    expect(readFileSync(evalOut, 'utf8')).toBe(formatSeedRows(built.eval));
    const train = JSON.parse(readFileSync(out, 'utf8')),
      held = JSON.parse(readFileSync(evalOut, 'utf8'));
    expect(train.filter((x: any) => held.some((y: any) => y.input === x.input))).toEqual([]);
  });

  it('a bad schema: exit 3, each problem with its tool and field, and the old file left as it was', async () => {
    const bad = JSON.parse(readFileSync(SCHEMA, 'utf8'));
    bad.tools[0].templates.push('把{rooom}的灯{state}了');
    bad.tools[1].function.parameters.properties.room.enum = [];
    const badPath = join(tmp, 'bad.json');
    writeFileSync(badPath, JSON.stringify(bad));
    const out = join(tmp, 'keep.json');
    writeFileSync(out, 'previous data');
    // --overwrite: the existing file passes the output check, so what stops the run is the schema.
    const r = await cli('build-data', '--schema', badPath, '--per-tool', '3', '--out', out, '--overwrite');
    expect(r.code).toBe(3);
    expect(r.err).toContain(
      `${badPath}: tool "SET_LIGHT", field "template 5", "把{rooom}的灯{state}了" names {rooom}, which is not a parameter of this tool`,
    );
    expect(r.err).toContain(
      `${badPath}: tool "SET_TEMPERATURE", field "function.parameters.properties.room.enum", is empty`,
    );
    expect(readFileSync(out, 'utf8')).toBe('previous data');
    writeFileSync(badPath, '{"tools": [');
    expect((await cli('build-data', '--schema', badPath, '--per-tool', '3', '--out', out, '--overwrite')).err).toMatch(
      /line 1, not valid JSON/,
    );
    // With --variants 0, too few distinct utterances is a schema problem too, and writes nothing.
    const short = await cli(
      'build-data',
      '--schema',
      SCHEMA,
      '--per-tool',
      '6',
      '--variants',
      '0',
      '--out',
      out,
      '--overwrite',
    );
    expect(short.code).toBe(3);
    expect(short.err).toMatch(
      /tool "GOOD_NIGHT", field "templates", give only 5 distinct utterances, 6 were asked for/,
    );
    expect(readFileSync(out, 'utf8')).toBe('previous data');
    // By default variants fill up the tool whose templates run dry, marked, and the count is said.
    const filled = await cli('build-data', '--schema', SCHEMA, '--per-tool', '6', '--out', out, '--overwrite');
    expect(filled.code, filled.err).toBe(0);
    const rows = JSON.parse(readFileSync(out, 'utf8')) as {
      input: string;
      output: { tool_name: string };
      variant?: string;
    }[];
    const night = rows.filter((r) => r.output.tool_name === 'GOOD_NIGHT');
    expect(night).toHaveLength(6);
    expect(new Set(night.map((r) => r.input)).size).toBe(6);
    expect(night.filter((r) => r.variant).length).toBeGreaterThanOrEqual(1);
    expect(filled.err).toMatch(/variants: \d+ of \d+ rows \(marked "variant"\), filling up/);
  });

  it('--augment-model: rewrites kept only with every value verbatim, marked generated, after the template rows', async () => {
    const out = join(tmp, 'aug.json');
    const r = await cli(
      'build-data',
      '--schema',
      SCHEMA,
      '--per-tool',
      '3',
      '--seed',
      '2',
      '--out',
      out,
      '--augment-model',
      modelDir,
      '--augment-per-tool',
      '1',
    );
    expect(r.code).toBe(0);
    const rows = JSON.parse(readFileSync(out, 'utf8'));
    const base = buildRows(parseToolSchema(readFileSync(SCHEMA, 'utf8')), { perTool: 3, seed: 2 }).train;
    expect(rows.slice(0, base.length)).toEqual(JSON.parse(formatSeedRows(base)));
    const generated = rows.slice(base.length);
    expect(r.json().generated).toBe(generated.length);
    expect(r.err).toMatch(new RegExp(`augmentation: ${generated.length} of 3 rewrites kept`));
    for (const g of generated) {
      expect(g.generated).toBe(true);
      for (const v of Object.values(g.output.parameters)) expect(g.input).toContain(v);
      expect(rows.filter((x: any) => x.input === g.input)).toHaveLength(1);
    }
  });

  it('--eval-out and --eval-per-tool go together', async () => {
    const r = await cli(
      'build-data',
      '--schema',
      SCHEMA,
      '--per-tool',
      '3',
      '--out',
      join(tmp, 'x.json'),
      '--eval-out',
      join(tmp, 'y.json'),
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/go together/);
  });
});

describe('cli eval and generate under a schema', () => {
  it('eval --constrained: every answer of the untrained model is a valid call, free decoding is not; predictions written', async () => {
    const data = join(tmp, 'rows.json');
    expect((await cli('build-data', '--schema', SCHEMA, '--per-tool', '2', '--seed', '4', '--out', data)).code).toBe(0);
    const predFile = join(tmp, 'pred.jsonl');
    const r = await cli(
      'eval',
      '--model',
      modelDir,
      '--data',
      data,
      '--schema',
      SCHEMA,
      '--constrained',
      '--predictions',
      predFile,
      '--quiet',
    );
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({
      command: 'eval',
      decoding: 'constrained',
      rows: 6,
      schema_valid_rate: 1,
      invalid_json_rate: 0,
    });
    const schema = parseToolSchema(readFileSync(SCHEMA, 'utf8'));
    const rows = JSON.parse(readFileSync(data, 'utf8'));
    const preds = readFileSync(predFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(preds.map((p) => [p.input, p.expected])).toEqual(rows.map((x: any) => [x.instruct + x.input, x.output]));
    for (const p of preds) expect(textCallProblems(schema, p.generated), p.generated).toEqual([]);
    const free = await cli('eval', '--model', modelDir, '--data', data, '--schema', SCHEMA, '--quiet');
    expect(free.json().decoding).toBe('free');
    expect(free.json().schema_valid_rate).toBeLessThan(1);
  });

  it('generate --constrained prints one valid call', async () => {
    const r = await cli(
      'generate',
      '--model',
      modelDir,
      '--schema',
      SCHEMA,
      '--constrained',
      '--prompt',
      '把下面的指令转成工具调用：把卧室的灯关了',
    );
    expect(r.code).toBe(0);
    expect(textCallProblems(parseToolSchema(readFileSync(SCHEMA, 'utf8')), r.out)).toEqual([]);
  });

  it('--constrained without --schema, or too few new tokens for any call, is a usage error', async () => {
    expect((await cli('eval', '--model', modelDir, '--data', join(tmp, 'rows.json'), '--constrained')).code).toBe(2);
    expect((await cli('generate', '--model', modelDir, '--prompt', 'x', '--constrained')).code).toBe(2);
    const r = await cli(
      'generate',
      '--model',
      modelDir,
      '--schema',
      SCHEMA,
      '--constrained',
      '--prompt',
      'x',
      '--max-new-tokens',
      '5',
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/too few for the shortest call/);
  });
});
