// `eval` keeps only the rows it scores (issue 23: memory bounded by the model, not the file): the
// streamed pick must be exactly the rows the whole-file path gives (splitRows over loadRows, then
// --limit), duplicates left out first, for several fractions, seeds and limits.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvalRows, loadRows, splitRows } from '../src/cli/commands/common.ts';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-evalrows-'));
  data = join(tmp, 'rows.jsonl');
  // 300 lines, every 7th repeating an earlier row (left out before the split draws).
  const lines = Array.from({ length: 300 }, (_, i) => {
    const j = i % 7 === 6 ? i - 3 : i;
    return JSON.stringify({ instruct: '改名为', input: `会议${j}`, output: `会议${j}` });
  });
  await writeFile(data, lines.join('\n') + '\n');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('loadEvalRows', () => {
  it('picks the rows splitRows picks from all rows, then the first --limit of them', async () => {
    const all = await loadRows(data);
    expect(all.length).toBe(300 - Math.floor(300 / 7));
    for (const [fraction, seed, limit] of [
      [undefined, 42, undefined],
      [undefined, 42, 3],
      [0.1, 42, undefined],
      [0.25, 7, undefined],
      [0.5, 1, 9],
      [0.003, 42, undefined],
    ] as const) {
      const want = splitRows(all, fraction, seed, 'eval', data).slice(0, limit ?? Infinity);
      const got = await loadEvalRows(data, fraction, seed, limit);
      expect(got.map((r) => r.origin.line)).toEqual(want.map((r) => r.origin.line));
      expect(got.length).toBeGreaterThan(0);
    }
  });

  it('refuses a split of a one-row file as splitRows does', async () => {
    const one = join(tmp, 'one.jsonl');
    await writeFile(one, JSON.stringify({ instruct: '', input: 'a', output: 'b' }) + '\n');
    await expect(loadEvalRows(one, 0.2, 42, undefined)).rejects.toThrow(/needs at least 2 rows .* the file has 1/);
  });
});
