// The CLI on data a careless or unlucky user has: other encodings, rows that keep no answer after
// truncation, duplicates across the split, splits that leave a side empty, an over-long eval row.
// Oracles: the same rows as plain UTF-8 (the first loss must match to the bit), hand-placed
// problems at known lines, and the split recomputed by hand.
import { mkdtemp, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../helpers/tiny-models.ts';
import { cli } from '../helpers/cli.ts';
import { importDataset, splitDataset } from '../../src/data/dataset.ts';
import { evaluateRows } from '../../src/eval/evaluate.ts';
import { EvaluationError } from '../../src/core/errors.ts';
import { encodeGb18030, encodeUtf16 } from '../helpers/encodings.mjs';

let tmp: string;
let modelDir: string;
const sample = JSON.parse(
  readFileSync(new URL('../../public/samples/meeting-train.json', import.meta.url), 'utf8'),
) as Record<string, unknown>[];
const jsonl =
  sample
    .slice(0, 8)
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n';
const file = (name: string, content: string | Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};
const train = (data: string, ...more: string[]) =>
  cli(
    'train',
    '--model',
    modelDir,
    '--data',
    data,
    '--out',
    join(tmp, `out-${Math.random().toString(36).slice(2)}`),
    '--batch',
    '4',
    '--accum',
    '1',
    '--epochs',
    '1',
    '--stop-after',
    '1',
    '--quiet',
    ...more,
  );

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-cli-data-'));
  modelDir = join(tmp, 'model');
  await makeTinyModel({ preset: 'tiny', out: modelDir, seed: 5 });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('encodings in the CLI', () => {
  it('trains on a GB18030 file exactly as on its UTF-8 twin, and says it read GB18030', async () => {
    const twin = await train(file('utf8.jsonl', jsonl));
    expect(twin.code).toBe(0);
    const gb = await train(file('gb.jsonl', encodeGb18030(jsonl)));
    expect(gb.err).toContain('is GB18030, not UTF-8; read as GB18030');
    expect(gb.code).toBe(0);
    expect(gb.json().first_loss).toBe(twin.json().first_loss);
    expect(gb.json().examples).toBe(8);
  });

  it('trains on UTF-16 LE and BE with a byte-order mark exactly as on UTF-8', async () => {
    const twin = await train(file('utf8b.jsonl', jsonl));
    for (const order of ['le', 'be'] as const) {
      const r = await train(file(`u16${order}.jsonl`, encodeUtf16(jsonl, order)));
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain(`is UTF-16${order.toUpperCase()}`);
      expect(r.json().first_loss).toBe(twin.json().first_loss);
    }
  });

  it('refuses a UTF-8 file with one damaged line with exit 3, naming the file, the line and UTF-8', async () => {
    const lines = jsonl.trimEnd().split('\n');
    const enc = new TextEncoder();
    const bytes = [
      ...lines.slice(0, 4).map((l) => enc.encode(l + '\n')),
      encodeGb18030(lines[4] + '\n'),
      enc.encode(lines.slice(5).join('\n')),
    ];
    const p = file('damaged.jsonl', Buffer.concat(bytes));
    const r = await train(p);
    expect(r.code).toBe(3);
    expect(r.err).toContain(`${p}: line 5, not valid UTF-8`);
  });
});

describe('rows with no answer left after truncation', () => {
  it('--max-length below every prompt stops before training with exit 3 and the longest prompt', async () => {
    const r = await train(file('all.jsonl', jsonl), '--max-length', '2');
    expect(r.code).toBe(3);
    expect(r.err).toMatch(
      /no row is left to train on: every prompt fills --max-length 2.*raise --max-length above \d+/,
    );
  });

  it('skips and counts the rows whose prompt fills the max length, training on the rest', async () => {
    const rows = sample.slice(0, 6);
    // Two rows with a prompt far longer than the others.
    rows[1] = { ...rows[1], input: '创建汇报会会议'.repeat(60) };
    rows[4] = { ...rows[4], input: '帮我发起一个周例会'.repeat(60) };
    const r = await train(file('some.jsonl', rows.map((x) => JSON.stringify(x)).join('\n')), '--max-length', '200');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(
      '2 row(s) skipped: the prompt fills the max length 200, so no answer token is left to learn (line 2, line 5)',
    );
    expect(r.json().examples).toBe(4);
  });
});

describe('splits and evaluation sizes', () => {
  it('drops exact duplicates before splitting, so no row is on both sides', () => {
    const rows = sample.slice(0, 40);
    const text = JSON.stringify([...rows, ...rows.slice(0, 20), ...rows.slice(5, 15)]);
    const d = importDataset(text, { file: 'dup.json' });
    expect(d.rows).toHaveLength(40);
    expect(d.duplicates.count).toBe(30);
    expect(d.duplicates.examples[0]).toEqual({ index: 40, message: 'the same row as row 1; left out' });
    const s = splitDataset(d.rows, { evalFraction: 0.25, seed: 42 });
    const trainUsers = new Set(s.train.map((r) => r.user + r.answer));
    expect(s.eval.filter((r) => trainUsers.has(r.user + r.answer))).toEqual([]);
  });

  it('notes the duplicates it left out', async () => {
    const r = await train(file('dups.jsonl', jsonl + jsonl.split('\n').slice(0, 3).join('\n')));
    expect(r.code).toBe(0);
    expect(r.err).toContain('note: 3 row(s) of');
    expect(r.err).toContain('(line 9, the same row as line 1; left out;');
    expect(r.json().examples).toBe(8);
  });

  it('--eval-fraction on one row is a clear data error in train and eval, not a crash or a 0-row score', async () => {
    const one = file('one.jsonl', jsonl.split('\n')[0]);
    for (const frac of ['0.5', '0.4']) {
      const t = await train(one, '--eval-fraction', frac);
      expect(t.code).toBe(3);
      expect(t.err).toContain(
        `--eval-fraction ${frac} needs at least 2 rows (one to train on, one to hold out); the file has 1`,
      );
      const e = await cli('eval', '--model', modelDir, '--data', one, '--eval-fraction', frac, '--quiet');
      expect(e.code).toBe(3);
      expect(e.err).toContain('needs at least 2 rows');
    }
  });

  it('evaluating no rows is an error, never a 0% score', async () => {
    const engine = { generateBatch: async () => [] };
    await expect(
      evaluateRows(engine, [], { encodePrompt: () => new Int32Array(1), decode: () => '', stopTokens: [] }),
    ).rejects.toThrow(EvaluationError);
  });

  it('an over-long eval row is named, counted and skipped; the others are scored', async () => {
    const rows = sample.slice(0, 3).map((x) => ({ ...x }));
    rows[1].input = '创建汇报会会议'.repeat(800); // far past the tiny model's 4096 positions
    const p = file('long.jsonl', rows.map((x) => JSON.stringify(x)).join('\n'));
    const r = await cli('eval', '--model', modelDir, '--data', p, '--max-new-tokens', '4', '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /note: 1 row\(s\) left out, their prompt plus 4 answer tokens exceeds the model's 4096 positions: line 2 \(\d+ prompt tokens\)/,
    );
    expect(r.json()).toMatchObject({ rows: 2, skipped: 1 });
  });
});

describe('the trainer itself', () => {
  it('refuses examples that hold no label token at all (a run that would "finish" at loss 0)', async () => {
    const { exampleBatches } = await import('../../src/train/trainer.ts');
    const noLabel = { ids: Int32Array.of(1, 2, 3), labels: Int32Array.of(-100, -100, -100), truncated: 4 };
    // Position 0 is never predicted, so a label there teaches nothing either.
    const onlyFirst = { ids: Int32Array.of(1, 2), labels: Int32Array.of(1, -100), truncated: 0 };
    expect(() => exampleBatches([noLabel, onlyFirst], 0)).toThrow(/no training example has an answer token/);
  });
});

describe('a million rows', () => {
  it('stream into the CLI within a 640 MB heap (the whole text, its lines and their objects would not fit)', async () => {
    const path = join(tmp, 'million.jsonl');
    const out = createWriteStream(path);
    for (let i = 0; i < 1_000_000; i += 10_000) {
      let chunk = '';
      for (let j = i; j < i + 10_000; j++)
        chunk += `{"instruct":"把会议改名为","input":"会议${j}","output":{"tool_name":"RENAME","parameters":{"name":"会议${j}"}}}\n`;
      if (!out.write(chunk)) await new Promise((ok) => out.once('drain', ok));
    }
    await new Promise((ok) => out.end(ok));
    // eval reads every row (then evaluates the first), in its own process under a heap limit.
    const root = new URL('../..', import.meta.url).pathname;
    const child = spawn(
      process.execPath,
      [
        '--max-old-space-size=640',
        '--import',
        'tsx',
        join(root, 'src/cli/main.ts'),
        'eval',
        '--model',
        modelDir,
        '--data',
        path,
        '--limit',
        '1',
        '--max-new-tokens',
        '1',
        '--quiet',
      ],
      { cwd: root },
    );
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((ok) => child.on('exit', ok));
    expect(code, stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ command: 'eval', rows: 1 });
  }, 300_000);
});
