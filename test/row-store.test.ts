// The page's imported rows kept packed (issue 23: a million rows in the page without the GC pauses
// of a million row objects). Oracle: the in-memory import (importDataset) of the same text, row
// for row; and the import path the page uses (importRows, in-process under Node) keeps its
// problems, duplicates, encoding note and refusal exactly as the in-memory import reports them.
import { describe, expect, it } from 'vitest';
import { importDataset } from '../src/data/dataset.ts';
import { RowStore } from '../src/data/row-store.ts';
import { DatasetError } from '../src/core/errors.ts';
import { importRows } from '../src/worker/import-rows.ts';
import { encodeGb18030 } from './helpers/encodings.mjs';

const seed = (i: number) => ({
  instruct: '改名为',
  input: `会议${i}`,
  output: i % 3 ? `会议${i}` : JSON.stringify({ tool_name: `t${i % 7}`, parameters: { n: i } }),
});

describe('RowStore', () => {
  it('gives back every row exactly, across chunks, with a row larger than a chunk', () => {
    const items = Array.from({ length: 30_000 }, (_, i) => seed(i));
    items.splice(12_345, 0, { instruct: '', input: 'x'.repeat(1_500_000), output: 'ok' });
    const rows = importDataset(JSON.stringify(items)).rows;
    const store = RowStore.of(rows);
    expect(store.length).toBe(rows.length);
    for (const i of [0, 1, 12_344, 12_345, 12_346, rows.length - 1]) expect(store.get(i)).toEqual(rows[i]);
    expect(store.all()).toEqual(rows);
    expect(store.slice(5, 9)).toEqual(rows.slice(5, 9));
    expect(store.tools).toEqual(new Set(rows.flatMap((r) => (r.expected ? [r.expected.tool_name] : []))));
    expect(() => store.get(rows.length)).toThrow(RangeError);
    // Bytes, not objects: about the rows' JSON size.
    expect(store.bytes).toBeLessThan(JSON.stringify(rows).length * 1.1 * 3);
  });

  it('forEach visits the rows in order with turns of the event loop between slices', async () => {
    const rows = importDataset(JSON.stringify(Array.from({ length: 12_000 }, (_, i) => seed(i)))).rows;
    const store = RowStore.of(rows);
    const seen: string[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await store.forEach((r, i) => seen.push(`${i}:${r.user}`), 3000);
    clearInterval(timer);
    expect(seen).toEqual(rows.map((r, i) => `${i}:${r.user}`));
    expect(ticks).toBeGreaterThanOrEqual(1);
  });
});

describe('importRows (the page import path)', () => {
  it('matches the in-memory import: rows, problems with line and field, duplicates, format', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify(seed(i)));
    lines[10] = '{"instruct":"x","input":"y"}';
    lines[20] = 'not json';
    lines[30] = lines[29];
    const text = lines.join('\n') + '\n';
    const want = importDataset(text, { file: 'f.jsonl' });
    const progress: number[] = [];
    const got = await importRows(new Blob([text]), { file: 'f.jsonl', onProgress: (p) => progress.push(p.bytes) });
    expect(got.rows.all()).toEqual(want.rows);
    const { rows: _r, ...summary } = want;
    expect(got.result).toEqual({ ...summary, kept: want.rows.length });
    expect(got.result.issues.map((i) => [i.line, i.field])).toEqual(want.issues.map((i) => [i.line, i.field]));
    expect(got.result.duplicates.count).toBe(1);
    expect(progress.at(-1)).toBe(new Blob([text]).size);
  });

  it('a file read again in another encoding keeps no rows of the first reading', async () => {
    // 400 KiB of ASCII rows (taken as UTF-8, packed) before the first GB18030 byte: the reader
    // starts again from the top and the store must not keep the first reading's rows twice.
    const ascii = Array.from({ length: 6000 }, (_, i) =>
      JSON.stringify({ instruct: 'rename', input: `meeting ${i}`, output: `m${i}` }),
    );
    const text = [...ascii, ...Array.from({ length: 50 }, (_, i) => JSON.stringify(seed(i)))].join('\n') + '\n';
    const gb = encodeGb18030(text);
    expect(gb.findIndex((b: number) => b >= 0x80)).toBeGreaterThan(300_000);
    const got = await importRows(new Blob([gb as BlobPart]), { file: 'gb.jsonl' });
    expect(got.result.encoding).toBe('GB18030');
    expect(got.rows.all()).toEqual(importDataset(text).rows);
  });

  it('a file with no usable row is refused with a DatasetError naming its problems', async () => {
    const err = await importRows(new Blob(['{"a":1}\n{"b":2}\n']), { file: 'bad.jsonl' }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    const want = (() => {
      try {
        importDataset('{"a":1}\n{"b":2}\n', { file: 'bad.jsonl' });
      } catch (e) {
        return e as DatasetError;
      }
    })()!;
    expect(err.issues).toEqual(want.issues);
    expect(err.message).toBe(want.message);
  });
});

describe("the page's data over packed rows", () => {
  it('trainSpread decodes only the spread rows: the rows and count splitRows then spread give', async () => {
    const { DataController } = await import('../src/ui/data/datasets.ts');
    const { initialState } = await import('../src/ui/app/state.ts');
    const { spread } = await import('../src/ui/train/estimate.ts');
    let state = { ...initialState('en'), evalFraction: 0.2, splitSeed: 5 };
    const dc = new DataController({
      get state() {
        return state;
      },
      patch: (fn) => (state = { ...state, ...fn(state) }),
    });
    const text = Array.from({ length: 3001 }, (_, i) => JSON.stringify(seed(i))).join('\n') + '\n';
    await dc.importData('t.jsonl', text, 'train', true);
    for (const n of [1, 8, 64]) {
      const { train } = dc.splitRows();
      expect(dc.trainSpread(n)).toEqual({ count: train.length, rows: spread(train, n) });
    }
    state = { ...state, evalFraction: 0.35, splitSeed: 9 };
    expect(dc.trainSpread(8)).toEqual({ count: dc.splitRows().train.length, rows: spread(dc.splitRows().train, 8) });
    await dc.importData('e.jsonl', JSON.stringify(seed(99_999)) + '\n', 'eval', true);
    expect(dc.trainSpread(8)).toEqual({ count: 3001, rows: spread(dc.splitRows().train, 8) });
    expect(state.dataset?.rows.length).toBe(3001);
    expect(state.dataset?.rows.slice(0, 2)).toEqual(dc.splitRows().train.slice(0, 2));
  });
});
