// CSV and TSV rows (what a spreadsheet exports) into the seed format through a column mapping.
// Oracle: tables written by hand with quotes, doubled quotes, line breaks in a cell and CRLF,
// and the rows the JSON importer gives for the same rows written as seed JSON.
import { describe, expect, it } from 'vitest';
import {
  guessMapping,
  mappedJsonLines,
  mappingProblem,
  parseDelimited,
  sniffDelimited,
} from '../src/data/delimited.ts';
import { importDataset } from '../src/data/dataset.ts';
import { DatasetError } from '../src/core/errors.ts';

const CSV = 'question,answer,notes\r\n"Book a room, please","{""intent"": ""BOOK""}",x\r\nsay,"two\nlines",y\r\n';

describe('delimited tables', () => {
  it('are told from JSON by their first line', () => {
    expect(sniffDelimited(CSV)).toBe(',');
    expect(sniffDelimited('\uFEFFinput\toutput\na\tb')).toBe('\t');
    expect(sniffDelimited('[{"a":1}]')).toBeUndefined();
    expect(sniffDelimited('  {"instruct":"x, y"}\n')).toBeUndefined();
    expect(sniffDelimited('just text')).toBeUndefined();
    // UTF-16 JSON read as UTF-8 has NULs between its commas: not a table
    expect(sniffDelimited('\uFFFD\uFFFD[\0{\0"\0a\0"\0,\0')).toBeUndefined();
  });

  it('read quotes, doubled quotes, line breaks in a cell and CRLF as RFC 4180 says', () => {
    const d = parseDelimited(CSV, ',');
    expect(d.header).toEqual(['question', 'answer', 'notes']);
    expect(d.rows.map((r) => r.cells)).toEqual([
      ['Book a room, please', '{"intent": "BOOK"}', 'x'],
      ['say', 'two\nlines', 'y'],
    ]);
    expect(d.rows.map((r) => r.line)).toEqual([2, 3]);
  });

  it('a row with the wrong number of cells or an open quote is named by its line', () => {
    expect(() => parseDelimited('a,b\n1,2\n3\n4,5,6\n', ',', 't.csv')).toThrow(
      /t\.csv: 2 problem\(s\): line 3, has 1 cells, the header has 2; line 4, has 3 cells/,
    );
    const e = (() => {
      try {
        parseDelimited('a,b\n1,"2\n', ',', 'q.csv');
      } catch (x) {
        return x as DatasetError;
      }
    })();
    expect(e?.issues).toEqual([{ line: 2, message: 'a quoted cell is never closed (a " is missing)' }]);
  });

  it('guesses the mapping from the header, and needs the user text and the answer', () => {
    expect(guessMapping(['Question', 'answer', 'notes'])).toEqual({ input: 0, output: 1 });
    expect(guessMapping(['instruction', 'input', 'output', 'system'])).toEqual({
      instruct: 0,
      input: 1,
      output: 2,
      system: 3,
    });
    expect(guessMapping(['a', 'b'])).toEqual({});
    expect(mappingProblem({ input: 0 })).toMatch(/answer/);
    expect(mappingProblem({ input: 0, output: 0 })).toMatch(/two fields/);
    expect(mappingProblem({ input: 1, output: 0 })).toBeUndefined();
  });

  it('mapped rows import exactly as the same rows written as seed JSON', () => {
    const d = parseDelimited('sys\tq\ta\nBe brief.\thi\t{"x": 1}\n\tbye\tok\n', '\t');
    const viaTable = importDataset(mappedJsonLines(d, { system: 0, input: 1, output: 2 }), { file: 't.tsv' });
    const seed = [
      { system: 'Be brief.', instruct: '', input: 'hi', output: '{"x": 1}' },
      { instruct: '', input: 'bye', output: 'ok' },
    ];
    const viaJson = importDataset(JSON.stringify(seed), { file: 's.json' });
    expect(viaTable.rows.map((r) => [r.system, r.user, r.answer])).toEqual(
      viaJson.rows.map((r) => [r.system, r.user, r.answer]),
    );
    expect(viaTable.rows).toHaveLength(2);
  });
});

describe('the CLI reads a CSV by its header', () => {
  it('loads mapped rows, and names the columns when it cannot tell them apart', async () => {
    const { loadRows } = await import('../src/cli/commands/common.ts');
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'delimited-'));
    try {
      // the answer is stored in the one compact JSON form, as every import does
      await writeFile(join(dir, 'ok.csv'), 'prompt,response\nhi,"{""a"": 1}"\nbye,ok\n');
      expect((await loadRows(join(dir, 'ok.csv'))).map((r) => [r.user, r.answer])).toEqual([
        ['hi', '{"a":1}'],
        ['bye', 'ok'],
      ]);
      await writeFile(join(dir, 'bad.csv'), 'a,b\n1,2\n');
      await expect(loadRows(join(dir, 'bad.csv'))).rejects.toThrow(
        /bad\.csv: 1 problem\(s\): line 1, a table whose columns cannot be told apart: .*\(it has: a, b\)/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
