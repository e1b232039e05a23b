// A page importing a million rows must never hold the main thread for long (issue 23): the
// streamed import hands the reader a few rows at a time between looks at the clock, the split's
// sizes come without a pass over the rows, and a pass over all rows gives the event loop turns.
import { describe, expect, it } from 'vitest';
import { importDatasetBlob } from '../src/data/dataset.ts';
import { evalCount, forEachInSlices, splitDataset } from '../src/data/split.ts';

const line = (i: number) => JSON.stringify({ instruct: '改名为', input: `会议${i}`, output: `会议${i}` });

describe('streamed import in small steps', () => {
  it('yields (and reports progress) at most every 16 KiB of rows, never inside a row', async () => {
    const rows = 20_000;
    const text = Array.from({ length: rows }, (_, i) => line(i)).join('\n') + '\n';
    const seen: number[] = [];
    // sliceMs -1: a turn at every chance, so each progress report marks one step of work.
    const r = await importDatasetBlob(new Blob([text]), {
      file: 'm.jsonl',
      sliceMs: -1,
      onProgress: (p) => seen.push(p.rows),
    });
    expect(r.rows.length).toBe(rows);
    expect(r.rows[12_345].user).toBe('改名为会议12345');
    const shortest = Math.min(
      ...text
        .split('\n')
        .slice(0, -1)
        .map((l) => l.length + 1),
    );
    const steps = seen.slice(1).map((n, i) => n - seen[i]);
    // One 256 KiB piece was one step of ~4,000 rows before; now no step takes more than 16 KiB of lines.
    expect(Math.max(...steps)).toBeLessThanOrEqual(Math.ceil(16_384 / shortest) + 1);
    expect(seen.at(-1)).toBe(rows);
  });

  it('keeps a line longer than a step whole', async () => {
    const long = JSON.stringify({ instruct: '', input: 'x'.repeat(100_000), output: 'ok' });
    const r = await importDatasetBlob(new Blob([`${line(0)}\n${long}\n${line(1)}\n`]), {
      file: 'm.jsonl',
      sliceMs: -1,
    });
    expect(r.rows.map((x) => x.user.length)).toEqual(['改名为会议0'.length, 100_000, '改名为会议1'.length]);
  });
});

describe('split sizes and passes in slices', () => {
  it('evalCount is the size of the eval side splitDataset draws', () => {
    for (const n of [0, 1, 2, 3, 10, 999, 1000, 12_345])
      for (const f of [0, 0.001, 0.1, 0.5, 0.9]) {
        const s = splitDataset(
          Array.from({ length: n }, (_, i) => i),
          { evalFraction: f, seed: 7 },
        );
        expect([n, f, evalCount(n, f)]).toEqual([n, f, s.eval.length]);
        expect(s.train.length).toBe(n - s.eval.length);
      }
    expect(() => evalCount(10, 1)).toThrow(RangeError);
  });

  it('forEachInSlices visits every item in order and gives the event loop a turn between slices', async () => {
    const items = Array.from({ length: 50_001 }, (_, i) => i);
    const order: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await forEachInSlices(
      items,
      (x, i) => {
        expect(x).toBe(i);
        order.push(x);
      },
      10_000,
    );
    clearInterval(timer);
    expect(order).toEqual(items);
    // 6 slices: the interval ran in the gaps between them.
    expect(ticks).toBeGreaterThanOrEqual(1);
  });
});
