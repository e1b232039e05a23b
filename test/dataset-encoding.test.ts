// Dataset files in the encodings people actually have: GB18030 (Excel on a Chinese Windows),
// UTF-16 with a byte-order mark, UTF-8 with a BOM, and damaged UTF-8. Oracle: the same rows
// written as plain UTF-8 and imported from the text, and hand-placed bad bytes at known lines.
// Also the streaming reader against JSON.parse, with the text cut into pieces anywhere.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../src/core/errors.ts';
import { importDataset, importDatasetBlob, type ImportResult } from '../src/data/dataset.ts';
import { JsonItemReader, type Item } from '../src/data/json-items.ts';
import { encodeGb18030, encodeUtf16 } from './helpers/encodings.mjs';

const sample = JSON.parse(
  readFileSync(new URL('../public/samples/meeting-train.json', import.meta.url), 'utf8'),
) as unknown[];
const jsonl =
  sample
    .slice(0, 30)
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n';
const utf8 = new TextEncoder().encode(jsonl);

const blob = (...parts: Uint8Array[]) => new Blob(parts as BlobPart[]);
const view = (r: ImportResult) => r.rows.map(({ user, answer, system, origin }) => ({ user, answer, system, origin }));

async function refused(p: Promise<unknown>): Promise<DatasetError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    return e as DatasetError;
  }
  throw new Error('expected a DatasetError');
}

describe('dataset encodings', () => {
  const twin = importDataset(jsonl, { file: 'twin.jsonl' });

  it('reads plain UTF-8 as UTF-8', async () => {
    const r = await importDatasetBlob(blob(utf8), { file: 'a.jsonl' });
    expect(r.encoding).toBe('UTF-8');
    expect(view(r)).toEqual(view(twin));
  });

  it('reads a GB18030 file as the same rows as its UTF-8 twin, and says so', async () => {
    const gb = encodeGb18030(jsonl);
    // The defect: read as UTF-8 every Chinese character became U+FFFD.
    expect(new TextDecoder().decode(gb)).toContain('\uFFFD');
    const r = await importDatasetBlob(blob(gb), { file: 'gbk.jsonl' });
    expect(r.encoding).toBe('GB18030');
    expect(view(r)).toEqual(view(twin));
    expect(r.rows[0].user).toContain('创建汇报会会议');
  });

  it('reads UTF-16 LE and BE with a byte-order mark, and UTF-8 with one, as the same rows', async () => {
    for (const [bytes, enc] of [
      [encodeUtf16(jsonl, 'le'), 'UTF-16LE'],
      [encodeUtf16(jsonl, 'be'), 'UTF-16BE'],
      [Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8), 'UTF-8'],
    ] as const) {
      const r = await importDatasetBlob(blob(bytes), { file: `x-${enc}.jsonl` });
      expect(r.encoding, enc).toBe(enc);
      expect(view(r), enc).toEqual(view(twin));
    }
  });

  it('refuses UTF-8 with one damaged line, naming the file, that line and UTF-8', async () => {
    const lines = jsonl.split('\n');
    // A GBK-encoded phrase pasted into line 7 of an otherwise UTF-8 file.
    const bad = [
      ...lines.slice(0, 6).map((l) => new TextEncoder().encode(l + '\n')),
      encodeGb18030(lines[6] + '\n'),
      new TextEncoder().encode(lines.slice(7).join('\n')),
    ];
    const e = await refused(importDatasetBlob(blob(...bad), { file: 'damaged.jsonl' }));
    expect(e.file).toBe('damaged.jsonl');
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0].line).toBe(7);
    expect(e.issues[0].message).toMatch(
      /not valid UTF-8 \(byte 0x[0-9A-F]{2} at byte \d+\); 29 other line\(s\) are UTF-8/,
    );
  });

  it('refuses a file that is neither UTF-8 nor GB18030, and a UTF-8-BOM file with bad bytes', async () => {
    const neither = new TextEncoder().encode(
      '{"instruct":"a","input":"b","output":"c"}\n{"instruct":"\u00ff","input":"b","output":"c"}\n',
    );
    const bytes = Uint8Array.from([...neither].map((b) => (b === 0xc3 ? 0xff : b))); // 0xFF is in neither
    const e = await refused(importDatasetBlob(blob(bytes), { file: 'n.jsonl' }));
    expect(e.issues[0]).toMatchObject({ line: 2 });
    expect(e.issues[0].message).toMatch(/not valid UTF-8.*not GB18030 either/);
    const withBom = await refused(
      importDatasetBlob(
        blob(Uint8Array.of(0xef, 0xbb, 0xbf), encodeGb18030('{"instruct":"汇报","input":"","output":"x"}\n')),
        { file: 'b.jsonl' },
      ),
    );
    expect(withBom.issues[0]).toMatchObject({ line: 1 });
    expect(withBom.issues[0].message).toMatch(/not valid UTF-8.*byte-order mark/);
  });

  it('refuses UTF-16 without a byte-order mark (NUL bytes) and UTF-16 with a broken surrogate, with the line', async () => {
    const e = await refused(importDatasetBlob(blob(encodeUtf16(jsonl, 'le', false)), { file: 'nobom.jsonl' }));
    expect(e.issues[0]).toMatchObject({ line: 1 });
    expect(e.issues[0].message).toMatch(/NUL byte.*UTF-16 or UTF-32 without a byte-order mark/);
    const text = jsonl
      .split('\n')
      .map((l, i) => (i === 2 ? l.replace('请', '\uD800请') : l))
      .join('\n');
    const bad16 = await refused(importDatasetBlob(blob(encodeUtf16(text, 'be')), { file: 'sur.jsonl' }));
    expect(bad16.issues[0]).toMatchObject({ line: 3 });
    expect(bad16.issues[0].message).toMatch(/not valid UTF-16BE \(an unpaired surrogate/);
  });

  it('a U+FFFD the file really holds is kept: only undecodable bytes are refused', async () => {
    const r = await importDatasetBlob(
      blob(new TextEncoder().encode('{"instruct":"a\uFFFDb","input":"","output":"c"}\n')),
      { file: 'fffd.jsonl' },
    );
    expect(r.encoding).toBe('UTF-8');
    expect(r.rows[0].user).toBe('a\uFFFDb');
  });
});

describe('streaming reader', () => {
  const items = (text: string, cut: (i: number) => number) => {
    const got: Item[] = [];
    const issues: unknown[] = [];
    const r = new JsonItemReader('t', { item: (it) => got.push(it), issue: (i) => issues.push(i) });
    for (let i = 0; i < text.length;) {
      const n = Math.max(1, cut(i));
      r.push(text.slice(i, i + n));
      i += n;
    }
    r.end();
    return { got, issues, container: r.container };
  };
  const tricky = [
    {
      instruct: 'a "quoted" ] } [ {',
      input: 'back\\slash \\" \n newline',
      output: { tool_name: 'T', parameters: { list: [1, [2, { x: '}' }]] } },
    },
    'a bare string, with a comma',
    12.5e3,
    true,
    null,
    [1, 2, '['],
    { instruct: '汇报会\u2028', input: '', output: 'x' },
  ];

  it('gives the same elements as JSON.parse however the text is cut', () => {
    for (const text of [
      JSON.stringify(tricky),
      JSON.stringify(tricky, null, 2),
      `\uFEFF \n [ ${tricky.map((t) => JSON.stringify(t)).join(' ,\n ')} ] \n`,
    ]) {
      for (const cut of [() => 1, () => 7, (i: number) => (i * 7919) % 13, () => 1 << 20]) {
        const r = items(text, cut);
        expect(r.container).toBe('json');
        expect(r.got.map((x) => x.value)).toEqual(tricky);
        expect(r.got.map((x) => x.where.index)).toEqual(tricky.map((_, i) => i));
      }
    }
  });

  it('gives JSON lines with their line numbers however the text is cut, CRLF included', () => {
    const text = tricky.map((t) => JSON.stringify(t)).join('\r\n') + '\r\n\r\n';
    for (const cut of [() => 1, () => 5, () => 1 << 20]) {
      const r = items(text, cut);
      expect(r.container).toBe('jsonl');
      expect(r.got.map((x) => x.value)).toEqual(tricky);
      expect(r.got.map((x) => x.where.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it('names the line of a syntax error inside an element, and of a missing comma between elements', () => {
    const e1 = (() => {
      try {
        items('[\n{"a": 1},\n{"b":\n 2 "c": 3}\n]', () => 3);
      } catch (e) {
        return e as DatasetError;
      }
    })();
    expect(e1?.issues[0].line).toBe(4);
    const e2 = (() => {
      try {
        items('[\n{"a": 1}\n{"b": 2}\n]', () => 2);
      } catch (e) {
        return e as DatasetError;
      }
    })();
    expect(e2?.issues[0]).toMatchObject({ line: 3, message: expect.stringMatching(/expected "," or "\]"/) });
  });
});
