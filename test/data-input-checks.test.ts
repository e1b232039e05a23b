// Hostile or odd dataset bytes: a Latin-1 byte in an ASCII file is not GB18030 (it would change
// the text), 100k levels of nesting are refused with the line instead of overflowing the stack,
// a bare CR is named. Oracles: hand-placed bytes at known lines and columns, the GB18030 twin of
// real Chinese rows (still read as GB18030), and the CLI's documented exit code 3.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, SchemaError } from '../src/core/errors.ts';
import { importDatasetBlob } from '../src/data/dataset.ts';
import { parseToolSchema } from '../src/data/schema.ts';
import { cli } from './helpers/cli.ts';
import { encodeGb18030 } from './helpers/encodings.mjs';

const root = new URL('..', import.meta.url).pathname;
const blob = (b: Uint8Array | string) => new Blob([b as BlobPart]);
const enc = (s: string) => new TextEncoder().encode(s);
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-input-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function refusal(b: Blob): Promise<DatasetError> {
  try {
    await importDatasetBlob(b, { file: 'f.jsonl' });
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    return e as DatasetError;
  }
  throw new Error('imported');
}

describe('encodings', () => {
  it('an ASCII file with one Latin-1 byte ("naïve") is refused as not UTF-8 with its line and byte, not read as GB18030', async () => {
    const head = '{"instruct":"","input":"a","output":"ok"}\n';
    const bytes = new Uint8Array([...enc(head + '{"instruct":"","input":"na'), 0xef, ...enc('ve","output":"ok"}\n')]);
    const e = await refusal(blob(bytes));
    expect(e.issues[0].line).toBe(2);
    expect(e.issues[0].message).toMatch(
      /not valid UTF-8 \(byte 0xEF at byte 27\); read as GB18030 its bytes would not be Chinese text either/,
    );
    // Windows-1252 "café" + "Ärger" + two high bytes in a row: refused as well.
    const w = new Uint8Array([
      ...enc('{"instruct":"","input":"caf'),
      0xe9,
      ...enc(' '),
      0xc4,
      ...enc('rger'),
      ...enc('","output":"ok"}\n'),
    ]);
    expect((await refusal(blob(w))).issues[0].message).toMatch(/not valid UTF-8/);
  });

  it('real Chinese rows saved as GB18030 are still read as GB18030, to the same text', async () => {
    const rows = JSON.parse(readFileSync(join(root, 'public/samples/meeting-train.json'), 'utf8')).slice(
      0,
      20,
    ) as unknown[];
    const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const r = await importDatasetBlob(blob(encodeGb18030(text)), { file: 'gb.jsonl' });
    expect(r.encoding).toBe('GB18030');
    const twin = await importDatasetBlob(blob(text), { file: 'u.jsonl' });
    expect(r.rows.map((x) => [x.user, x.answer])).toEqual(twin.rows.map((x) => [x.user, x.answer]));
  });
});

describe('structure', () => {
  const deep = (n: number) => '{"instruct":"","input":"a","output":' + '{"a":'.repeat(n) + '1' + '}'.repeat(n) + '}';

  it('100k levels of nesting: exit 3 naming the line, in JSON lines and in a JSON array; a schema likewise', async () => {
    const good = '{"instruct":"","input":"b","output":"ok"}';
    const files = {
      'deep.jsonl': `${good}\n${good.replace('b', 'c')}\n${deep(100_000)}\n`,
      'deep.json': `[${good},\n${good.replace('b', 'c')},\n${deep(100_000)}]\n`,
    };
    for (const [name, text] of Object.entries(files)) {
      const f = join(tmp, name);
      writeFileSync(f, text);
      const r = await cli('inspect', '--model', join(root, 'public/models/tiny'), '--data', f, '--row', '1');
      expect(r.code, r.err).toBe(3);
      expect(r.err).toMatch(/line 3, nests deeper than 512 levels/);
      expect(r.err).not.toMatch(/call stack/);
    }
    // A row nesting a little (tool calls, messages) is fine.
    const ok = await importDatasetBlob(blob(`${deep(20)}\n`), { file: 'ok.jsonl' });
    expect(ok.rows).toHaveLength(1);
    const schemaText = '{"tools": [\n' + '['.repeat(100_000) + ']'.repeat(100_000) + ']}';
    expect(() => parseToolSchema(schemaText, 's.json')).toThrow(SchemaError);
    try {
      parseToolSchema(schemaText, 's.json');
    } catch (e) {
      expect((e as SchemaError).issues[0]).toMatchObject({ line: 2 });
    }
  });

  it('lines ending in a bare CR are refused naming the CR and where it is', async () => {
    const text = '{"instruct":"","input":"b","output":"ok"}\r{"instruct":"","input":"c","output":"ok"}\r';
    const e = await refusal(blob(text));
    expect(e.issues[0]).toMatchObject({ line: 1 });
    expect(e.issues[0].message).toMatch(/a bare carriage return \(CR, 0x0D, not followed by LF\) at character 42/);
    // CR LF is fine.
    expect((await importDatasetBlob(blob(text.replaceAll('\r', '\r\n')), { file: 'crlf.jsonl' })).rows).toHaveLength(2);
  });
});
