// `export --format job` on a large file writes its zip as the rows stream in (issue 23): the
// streamed zip must hold exactly the files and texts buildJobZip gives for the same spec and rows
// (the whole-rows path is the oracle), whatever the number of rows (empty-ish, one piece, many).
import { readFileSync } from 'node:fs';
import { strFromU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { importDataset, type DatasetRow } from '../src/data/dataset.ts';
import { DEFAULT_SYSTEM_PROMPT } from '../src/data/examples.ts';
import { buildJobZip, type JobSpec } from '../src/export/job.ts';
import { JobZipStream } from '../src/export/job-stream.ts';
import { DEFAULT_LORA, DEFAULT_TRAIN } from '../src/train/recipe.ts';

const sample = importDataset(
  readFileSync(new URL('../public/samples/meeting-train.json', import.meta.url), 'utf8'),
).rows;
const textRow: DatasetRow = { system: '另一个系统提示', user: '你好', answer: '你好！', expected: null, origin: {} };

function streamed(spec: Omit<JobSpec, 'rows'>, rows: readonly DatasetRow[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const z = new JobZipStream((b) => parts.push(b.slice()));
  for (const r of rows) z.row(r);
  z.finish(spec);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

const texts = (zip: Uint8Array) =>
  Object.fromEntries(Object.entries(unzipSync(zip)).map(([k, v]) => [k, strFromU8(v)]));

describe('JobZipStream', () => {
  const spec: Omit<JobSpec, 'rows'> = {
    baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
    system: DEFAULT_SYSTEM_PROMPT,
    maxLength: 384,
    endToken: '<|im_end|>',
    lora: DEFAULT_LORA,
    train: { ...DEFAULT_TRAIN },
    quant: 'nf4',
  };
  for (const n of [1, 7, 3000]) {
    it(`writes the files buildJobZip writes (${n} rows)`, () => {
      const rows = Array.from({ length: n }, (_, i) =>
        i % 5 === 4
          ? { ...textRow, user: `你好${i}` }
          : { ...sample[i % sample.length], user: `${sample[i % sample.length].user}${i}` },
      );
      const want = texts(buildJobZip({ ...spec, rows }));
      const got = texts(streamed(spec, rows));
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const k of Object.keys(want)) expect([k, got[k]]).toEqual([k, want[k]]);
      expect(JSON.parse(got['webtune-job/data/train.json'])).toHaveLength(n);
    });
  }
});
