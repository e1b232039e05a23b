// `eval` scores its rows as they stream (issue 23): its outputs must be exactly what scoring all
// rows at once gives. Oracle: the rows loaded whole (loadEvalRows), scored with evaluateRows on an
// engine loaded the same way, written as the CLI wrote them before it streamed: the JSON line's
// numbers and eval_set, every predictions line, and the --wrong-out rows. The peak memory is in
// test/full/eval-stream-memory.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';
import { loadEngine, loadEvalRows } from '../src/cli/commands/common.ts';
import { reportSummary } from '../src/cli/commands/eval.ts';
import { folderTokenizer, openModelFolder } from '../src/cli/model-folder.ts';
import { loadSchema } from '../src/cli/commands/build-data.ts';
import { textCallProblems } from '../src/data/schema.ts';
import { evalSetFingerprint } from '../src/data/sibling.ts';
import { evaluateWithTokenizer } from '../src/eval/evaluate.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';

const root = new URL('..', import.meta.url).pathname;
const model = join(root, 'public/models/tiny');
const data = join(root, 'public/samples/meeting-eval.json');
const schemaFile = join(root, 'public/samples/meeting-schema.json');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-eval-stream-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('eval streaming its rows', () => {
  it('writes what scoring every row at once writes: numbers, eval_set, predictions, wrong rows', async () => {
    const pred = join(tmp, 'pred.jsonl'),
      wrongOut = join(tmp, 'wrong.json');
    const r = await cli(
      'eval',
      '--model',
      model,
      '--data',
      data,
      '--schema',
      schemaFile,
      '--eval-fraction',
      '0.5',
      '--seed',
      '3',
      '--max-new-tokens',
      '6',
      '--predictions',
      pred,
      '--wrong-out',
      wrongOut,
      '--quiet',
    );
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);

    const folder = await openModelFolder(model);
    const tok = await folderTokenizer(folder);
    const schema = await loadSchema(schemaFile);
    const rows = await loadEvalRows(data, 0.5, 3, undefined);
    const engine = await loadEngine('cpu', folder, DEFAULT_LORA, 1, 64);
    try {
      await engine.initLora(0);
      const { report, predictions } = await evaluateWithTokenizer(engine, tok, rows, {
        system: schema.system,
        maxNewTokens: 6,
        maxPositions: folder.config.maxPositionEmbeddings,
      });
      const problems = predictions.map((p) => textCallProblems(schema, p.generated));
      const valid = problems.filter((p) => !p.length).length / problems.length;
      expect(r.json()).toEqual({
        command: 'eval',
        decoding: 'free',
        eval_set: evalSetFingerprint(rows),
        ...reportSummary(report),
        schema_valid_rate: valid,
        skipped: 0,
      });
      const lines = predictions.map(
        (p, i) =>
          JSON.stringify({
            input: p.user,
            expected: p.expected,
            generated: p.generated,
            schema_problems: problems[i],
          }) + '\n',
      );
      expect(readFileSync(pred, 'utf8')).toBe(lines.join(''));
      // The untrained model answers some rows wrong: those rows, and only those, are in --wrong-out.
      expect(report.wrong.length).toBeGreaterThan(0);
      const wrongUsers = report.wrong.map((w) => predictions[w.index].user);
      const written = JSON.parse(readFileSync(wrongOut, 'utf8')) as { instruct: string; input: string }[];
      expect(written.map((w) => w.instruct + w.input)).toEqual(wrongUsers);
      expect(r.out).toContain(`wrong answers (${report.wrong.length}):`);
    } finally {
      await engine.dispose();
    }
  }, 120_000);
});
