// Rows streamed into a token store (src/data/stream-examples.ts, token-store.ts): the same
// examples as the in-memory path (buildExamples over importDataset's rows, the oracle), the same
// duplicates left out, no row kept in memory, and an over-long row measured by its length and
// cut before tokenizing (the tokenizer never sees more than max length's worth of it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { importDataset, importDatasetBlob } from '../src/data/dataset.ts';
import { buildExamples } from '../src/data/examples.ts';
import { HashMap64, rowHash64 } from '../src/data/row-hashes.ts';
import { splitIndices, streamExamples } from '../src/data/stream-examples.ts';
import { storeExamples, TokenStore } from '../src/data/token-store.ts';
import { splitDataset } from '../src/data/dataset.ts';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';

const root = new URL('..', import.meta.url).pathname;
const tok = ChatTokenizer.fromJson(
  readFileSync(root + 'public/models/tiny/tokenizer.json', 'utf8'),
  readFileSync(root + 'public/models/tiny/tokenizer_config.json', 'utf8'),
);
const sample = JSON.parse(readFileSync(root + 'public/samples/meeting-train.json', 'utf8')) as Record<
  string,
  unknown
>[];
// Repeats (left out), a row with a system prompt, and a long prompt that fills max length 256.
const rows = [
  ...sample.slice(0, 120),
  sample[3],
  sample[7],
  { ...sample[1], system: '另一个系统提示' },
  { instruct: '', input: '很长'.repeat(200), output: 'x' },
];
const jsonl = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const opts = { system: '现在你要扮演会议语音助手', maxLength: 256 };

describe('streaming into a token store', () => {
  it("gives the in-memory path's examples, duplicates and skips, and keeps no row", async () => {
    const mem = importDataset(jsonl, { file: 'f.jsonl' });
    const set = buildExamples(tok, mem.rows, opts);
    const s = await streamExamples(new Blob([jsonl]), tok, { file: 'f.jsonl', ...opts, allowControlText: false });
    expect(s.import.rows).toEqual([]);
    expect(s.import.kept).toBe(mem.rows.length);
    expect(s.import.duplicates).toEqual(mem.duplicates);
    expect(s.store.count).toBe(mem.rows.length);
    const labelled = [...splitIndices(s.store.count, undefined, 1, 'train')].filter((i) => s.store.labelTokens(i) > 0);
    const got = storeExamples(s.store, Uint32Array.from(labelled));
    expect(got.length).toBe(set.examples.length);
    expect(set.skipped.answerCutOff?.count).toBe(1);
    for (let i = 0; i < got.length; i++) {
      expect([...got[i].ids], `example ${i}`).toEqual([...set.examples[i].ids]);
      expect([...got[i].labels], `example ${i}`).toEqual([...set.examples[i].labels]);
      expect(got[i].truncated).toBe(set.examples[i].truncated);
    }
    // Array behaviour the training loop and the fingerprint rely on.
    expect(got.some((e) => e.ids.length > 0)).toBe(true);
    expect([...got].length).toBe(got.length);
    // The split picks the same rows as splitDataset over the rows.
    const held = splitDataset(mem.rows, { evalFraction: 0.2, seed: 7 }).eval.map((r) => r.origin.line);
    expect([...splitIndices(s.store.count, 0.2, 7, 'eval')].map((i) => s.origins[i])).toEqual(held);
  });

  it("measures a 10 MB row by its length: the tokenizer sees at most max length's worth, and the row is skipped and counted", async () => {
    const huge = JSON.stringify({ instruct: '', input: '会议'.repeat(1_700_000), output: 'ok' });
    const text = `${JSON.stringify(sample[0])}\n${huge}\n${JSON.stringify(sample[1])}\n`;
    let seen = 0;
    const counting = Object.create(tok) as ChatTokenizer;
    counting.encode = (t: string) => {
      seen += t.length;
      return tok.encode(t);
    };
    const s = await streamExamples(new Blob([text]), counting, { file: 'f.jsonl', ...opts, allowControlText: false });
    expect(s.clipped).toBe(1);
    expect(seen).toBeLessThan(3 * (256 + 8) * tok.maxTokenBytes);
    expect(s.store.count).toBe(3);
    expect(s.store.labelTokens(1)).toBe(0);
    expect(s.longPrompts.get(1)).toBeGreaterThanOrEqual(256);
    expect(s.origins[1]).toBe(2);
  });

  it('a hash map of 64-bit keys finds every repeat among 200k rows and nothing else', () => {
    const m = new HashMap64();
    let fresh = 0,
      found = 0;
    for (let i = 0; i < 200_000; i++)
      if (m.addOrGet(rowHash64({ user: `u${i}`, answer: `a${i % 3}` }), i) === undefined) fresh++;
    for (let i = 0; i < 200_000; i += 997)
      if (m.addOrGet(rowHash64({ user: `u${i}`, answer: `a${i % 3}` }), 0) === i) found++;
    expect(fresh).toBe(200_000);
    expect(found).toBe(Math.ceil(200_000 / 997));
    expect(m.size).toBe(200_000);
    // Texts split differently are different rows.
    expect(rowHash64({ user: 'ab', answer: 'c' })).not.toEqual(rowHash64({ user: 'a', answer: 'bc' }));
  });

  it('stores about 4 bytes a token', () => {
    const s = new TokenStore();
    for (let i = 0; i < 10_000; i++)
      s.add({ ids: new Int32Array(100).fill(i), labels: new Int32Array(100).fill(-100).fill(i, 40), truncated: 0 });
    expect(s.tokens).toBe(1_000_000);
    expect(s.example(9999).labels[40]).toBe(9999);
    expect(s.example(9999).labels[39]).toBe(-100);
    expect(s.labelTokens(5)).toBe(60);
  });

  it('restarts cleanly when a file turns out not to be UTF-8 half way', async () => {
    const { encodeGb18030 } = await import('./helpers/encodings.mjs');
    const text =
      sample
        .slice(0, 30)
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n';
    const s = await streamExamples(new Blob([encodeGb18030(text) as BlobPart]), tok, {
      file: 'gb.jsonl',
      ...opts,
      allowControlText: false,
    });
    const mem = await importDatasetBlob(new Blob([text]), { file: 'u.jsonl' });
    expect(s.import.encoding).toBe('GB18030');
    expect(s.store.count).toBe(mem.rows.length);
  });
});
