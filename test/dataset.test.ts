// Dataset import against hand-written files in every supported format, the all-issues-at-once
// report, purity, the seeded split, and the shipped meeting samples.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { importDataset, splitDataset, parseToolCall, type DatasetRow, type ImportResult } from '../src/data/dataset.ts';
import { DatasetError } from '../src/core/errors.ts';
import { mulberry32, SeededRng, seededShuffle } from '../src/core/rng.ts';

const INSTRUCT = '请将以下会议语音指令转换为工具调用JSON：';

function failure(fn: () => unknown): DatasetError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    return e as DatasetError;
  }
  throw new Error('expected a DatasetError');
}

const strip = (rows: DatasetRow[]) => rows.map(({ origin, ...r }) => r);

describe('seed format', () => {
  const seed = [
    {
      instruct: INSTRUCT,
      input: '创建汇报会会议',
      output: { tool_name: 'INSTANT_MEETING', parameters: { meeting_name: '汇报会' } },
    },
    { instruct: INSTRUCT, input: '结束会议', output: '{"tool_name": "END_MEETING", "parameters": {}}' },
    { instruct: '你好', input: '', output: '你好！有什么可以帮你？' },
  ];

  it('reads a JSON array: user = instruct + input, object outputs as compact JSON with non-ASCII kept', () => {
    const r = importDataset(JSON.stringify(seed, null, 2), { file: 'seed.json' });
    expect(r).toMatchObject({ file: 'seed.json', format: 'seed', container: 'json', total: 3, issues: [] });
    expect(r.rows[0]).toEqual({
      user: INSTRUCT + '创建汇报会会议',
      answer: '{"tool_name":"INSTANT_MEETING","parameters":{"meeting_name":"汇报会"}}',
      expected: { tool_name: 'INSTANT_MEETING', parameters: { meeting_name: '汇报会' } },
      origin: { index: 0 },
    });
    // A JSON string output is rewritten in the one compact form (issue 21: the form constrained decoding writes), and counted.
    expect(r.rows[1].answer).toBe('{"tool_name":"END_MEETING","parameters":{}}');
    expect(r.normalized).toBe(1);
    expect(r.rows[1].expected).toEqual({ tool_name: 'END_MEETING', parameters: {} });
    expect(r.rows[2]).toMatchObject({ user: '你好', answer: '你好！有什么可以帮你？', expected: null });
  });

  it('reads the same rows as JSON lines, located by 1-based line', () => {
    const text = seed.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const r = importDataset(text);
    expect(r).toMatchObject({ format: 'seed', container: 'jsonl', total: 3 });
    expect(strip(r.rows)).toEqual(strip(importDataset(JSON.stringify(seed)).rows));
    expect(r.rows.map((x) => x.origin)).toEqual([{ line: 1 }, { line: 2 }, { line: 3 }]);
  });

  it('reads a single pretty-printed object as a one-row dataset', () => {
    const r = importDataset(JSON.stringify(seed[0], null, 2));
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0].user).toBe(INSTRUCT + '创建汇报会会议');
  });
});

describe('other formats', () => {
  it('Alpaca: instruction and input joined by a newline, optional input and system', () => {
    const r = importDataset(
      JSON.stringify([
        { instruction: '翻译成英文', input: '你好', output: 'Hello' },
        { instruction: 'Say hi', output: 'hi', system: 'Be brief.' },
      ]),
    );
    expect(r.format).toBe('alpaca');
    expect(strip(r.rows)).toEqual([
      { user: '翻译成英文\n你好', answer: 'Hello', expected: null },
      { system: 'Be brief.', user: 'Say hi', answer: 'hi', expected: null },
    ]);
  });

  it('chat messages, with and without a system message', () => {
    const r = importDataset(
      [
        JSON.stringify({
          messages: [
            { role: 'system', content: 'S' },
            { role: 'user', content: '静音' },
            { role: 'assistant', content: '{"tool_name":"MUTE_MICROPHONE","parameters":{}}' },
          ],
        }),
        JSON.stringify({
          messages: [
            { role: 'user', content: 'u' },
            { role: 'assistant', content: 'a' },
          ],
        }),
      ].join('\n'),
    );
    expect(r.format).toBe('chat');
    expect(strip(r.rows)).toEqual([
      {
        system: 'S',
        user: '静音',
        answer: '{"tool_name":"MUTE_MICROPHONE","parameters":{}}',
        expected: { tool_name: 'MUTE_MICROPHONE', parameters: {} },
      },
      { user: 'u', answer: 'a', expected: null },
    ]);
  });

  it('ShareGPT conversations, human/gpt roles and a top-level system', () => {
    const r = importDataset(
      JSON.stringify([
        {
          conversations: [
            { from: 'human', value: 'q' },
            { from: 'gpt', value: 'a' },
          ],
          system: 'sys',
        },
        {
          conversations: [
            { from: 'system', value: 'inner' },
            { from: 'human', value: 'q2' },
            { from: 'gpt', value: 'a2' },
          ],
        },
      ]),
    );
    expect(r.format).toBe('sharegpt');
    expect(strip(r.rows)).toEqual([
      { system: 'sys', user: 'q', answer: 'a', expected: null },
      { system: 'inner', user: 'q2', answer: 'a2', expected: null },
    ]);
  });

  it('detects the majority format and reports rows of another format', () => {
    const r = importDataset(
      JSON.stringify([
        { instruct: 'a', input: 'b', output: 'c' },
        { instruct: 'd', input: 'e', output: 'f' },
        { instruction: 'x', output: 'y' },
      ]),
    );
    expect(r.format).toBe('seed');
    expect(r.rows).toHaveLength(2);
    expect(r.issues).toEqual([{ index: 2, field: 'instruct', message: 'is missing' }]);
  });

  it('obeys a forced format', () => {
    const text = JSON.stringify([{ instruct: 'a', input: 'b', output: 'c' }]);
    const e = failure(() => importDataset(text, { format: 'alpaca', file: 'f.json' }));
    expect(e.issues).toEqual([{ index: 0, field: 'instruction', message: 'is missing' }]);
    expect(e.message).toContain('f.json');
  });
});

describe('problems are all reported, with line or index and field', () => {
  it('JSON lines: bad JSON, missing and mistyped fields, several per line; valid rows stay usable', () => {
    const lines = [
      '{"instruct":"a","input":"b","output":{"tool_name":"X","parameters":{}}}',
      '{"instruct": "broken",',
      '',
      '{"instruct":"c","input":"d"}',
      '{"instruct":5,"input":"e","output":[1,2]}',
      '{"instruct":"f","input":"g","output":"   "}',
      '"just a string"',
      '{"instruct":"h","input":"i","output":"ok"}',
    ];
    const r = importDataset(lines.join('\n'), { file: 'train.jsonl' });
    expect(r.total).toBe(7);
    expect(r.rows.map((x) => x.origin.line)).toEqual([1, 8]);
    expect(r.issues.map(({ message, ...where }) => where)).toEqual([
      { line: 2 },
      { line: 4, field: 'output' },
      { line: 5, field: 'instruct' },
      { line: 5, field: 'output' },
      { line: 6, field: 'output' },
      { line: 7 },
    ]);
    expect(r.issues[0].message).toMatch(/not valid JSON/);
    expect(r.issues[1].message).toBe('is missing');
    expect(r.issues[2].message).toMatch(/must be a string, got number/);
    expect(r.issues[3].message).toMatch(/got an array/);
    expect(r.issues[4].message).toBe('is empty');
    expect(r.issues[5].message).toMatch(/not a JSON object/);
  });

  it('JSON lines whose first line is broken still give the good lines and every bad one', () => {
    const text = [
      'instruct: oops',
      '{"instruct":"a","input":"b","output":"c"}',
      '// note',
      '{"instruct":"d","input":"e","output":"f"}',
    ].join('\n');
    const r = importDataset(text, { file: 'x.jsonl' });
    expect(r.container).toBe('jsonl');
    expect(r.rows.map((x) => x.origin.line)).toEqual([2, 4]);
    expect(r.issues.map((i) => i.line)).toEqual([1, 3]);
    expect(r.issues[0].message).toMatch(/not valid JSON/);
  });

  it('JSON arrays locate rows by 0-based index (said from 1), chat turns by their field and number from 1', () => {
    const e = failure(() =>
      importDataset(
        JSON.stringify([
          {
            messages: [
              { role: 'user', content: 'a' },
              { role: 'user', content: 'b' },
            ],
          },
          {
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: 'b' },
              { role: 'user', content: 'c' },
              { role: 'assistant', content: 'd' },
            ],
          },
          {
            messages: [
              { role: 'narrator', content: 'a' },
              { role: 'assistant', content: 3 },
            ],
          },
          { messages: 'hi' },
        ]),
        { file: 'chat.json' },
      ),
    );
    expect(e.issues.map(({ message, ...where }) => where)).toEqual([
      { index: 0, field: 'messages turn 2' },
      { index: 1, field: 'messages' },
      { index: 2, field: 'messages turn 1 (role)' },
      { index: 2, field: 'messages turn 2 (content)' },
      { index: 3, field: 'messages' },
    ]);
    expect(e.issues[1].message).toMatch(/only one user turn/);
    expect(e.message).toMatch(/^chat\.json: 5 problem\(s\): row 1, field "messages turn 2"/);
  });

  it('a broken JSON array names the line of the syntax error', () => {
    const text = '[\n  {"instruct": "a", "input": "b", "output": "c"},\n  {"instruct": "d" "input": "e"}\n]';
    const e = failure(() => importDataset(text, { file: 'broken.json' }));
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0].line).toBe(3);
  });

  it('refuses empty files, non-JSON and unknown row shapes', () => {
    expect(failure(() => importDataset('  \n ')).issues[0].message).toMatch(/empty/);
    expect(failure(() => importDataset('hello')).issues[0].message).toMatch(/JSON array/);
    expect(failure(() => importDataset('[{"question": "q", "answer": "a"}]')).issues[0].message).toMatch(
      /known format/,
    );
    expect(failure(() => importDataset('[]')).issues[0].message).toMatch(/no rows/);
  });
});

describe('purity', () => {
  it('a failed import leaves the dataset the caller holds untouched', () => {
    const text = JSON.stringify([{ instruct: 'a', input: 'b', output: { tool_name: 'T', parameters: { x: 1 } } }]);
    let current: ImportResult = importDataset(text);
    const snapshot = structuredClone(current);
    try {
      current = importDataset('[{"instruct": 1}]');
    } catch (e) {
      expect(e).toBeInstanceOf(DatasetError);
    }
    expect(current).toEqual(snapshot);
    // Two imports of the same text share no objects, so editing one cannot reach the other.
    const again = importDataset(text);
    expect(again).toEqual(current);
    expect(again.rows[0]).not.toBe(current.rows[0]);
    expect(again.rows[0].expected).not.toBe(current.rows[0].expected);
  });
});

describe('parseToolCall', () => {
  it('accepts objects with a string tool_name and object parameters only', () => {
    expect(parseToolCall('{"tool_name":"A","parameters":{"k":"v"}}')).toEqual({
      tool_name: 'A',
      parameters: { k: 'v' },
    });
    expect(parseToolCall('{"tool_name":"A"}')).toEqual({ tool_name: 'A', parameters: {} });
    expect(parseToolCall('{"tool_name":"A","parameters":[1]}')).toBeNull();
    expect(parseToolCall('{"name":"A"}')).toBeNull();
    expect(parseToolCall('{"tool_name":"A"')).toBeNull();
    expect(parseToolCall('"A"')).toBeNull();
  });
});

describe('seeded split and RNG', () => {
  const rows = Array.from({ length: 200 }, (_, i) => i);

  it('splits deterministically by seed into disjoint sides that keep the original order', () => {
    const a = splitDataset(rows, { evalFraction: 0.1, seed: 7 });
    expect(splitDataset(rows, { evalFraction: 0.1, seed: 7 })).toEqual(a);
    expect(a.eval).toHaveLength(20);
    expect(a.train).toHaveLength(180);
    expect([...a.train, ...a.eval].sort((x, y) => x - y)).toEqual(rows);
    expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
    expect(splitDataset(rows, { evalFraction: 0.1, seed: 8 }).eval).not.toEqual(a.eval);
  });

  it('keeps at least one row on each side, none when the fraction is 0', () => {
    expect(splitDataset([1, 2, 3], { evalFraction: 0.01, seed: 1 }).eval).toHaveLength(1);
    expect(splitDataset([1, 2], { evalFraction: 0.9, seed: 1 }).train).toHaveLength(1);
    expect(splitDataset(rows, { evalFraction: 0, seed: 1 }).eval).toEqual([]);
    expect(() => splitDataset(rows, { evalFraction: 1, seed: 1 })).toThrow(RangeError);
  });

  it('draws uniform and normal numbers with the right moments, reproducibly', () => {
    const u = mulberry32(123);
    const first = Array.from({ length: 5 }, u);
    expect(Array.from({ length: 5 }, mulberry32(123))).toEqual(first);
    const rng = new SeededRng(99);
    let su = 0,
      sn = 0,
      sn2 = 0,
      outside = 0;
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      const x = rng.float();
      if (!(x >= 0 && x < 1)) outside++;
      su += x;
      const z = rng.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(outside).toBe(0);
    // Standard errors: uniform mean 0.29/sqrt(N) ~ 0.0009, normal mean 0.003, variance 0.0045.
    expect(Math.abs(su / N - 0.5)).toBeLessThan(0.004);
    expect(Math.abs(sn / N)).toBeLessThan(0.015);
    expect(Math.abs(sn2 / N - 1)).toBeLessThan(0.02);
    const input = [1, 2, 3, 4, 5, 6, 7, 8];
    const shuffled = seededShuffle(input, 5);
    expect(input).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...shuffled].sort()).toEqual(input);
  });
});

describe('shipped meeting samples', () => {
  const load = (f: string) =>
    importDataset(readFileSync(new URL(`../public/samples/${f}`, import.meta.url), 'utf8'), { file: f });
  const train = load('meeting-train.json');
  const evalSet = load('meeting-eval.json');
  const SLOTS: Record<string, string[]> = {
    INSTANT_MEETING: ['meeting_name'],
    SCHEDULE_MEETING: ['meeting_name', 'time'],
    INVITE_PARTICIPANT: ['name'],
    END_MEETING: [],
    MUTE_MICROPHONE: [],
    UNMUTE_MICROPHONE: [],
    START_RECORDING: [],
    STOP_RECORDING: [],
    SHARE_SCREEN: [],
    STOP_SHARE_SCREEN: [],
  };

  it('import cleanly as the seed format with one instruction', () => {
    for (const d of [train, evalSet]) {
      expect(d.issues).toEqual([]);
      expect(d.format).toBe('seed');
      expect(d.rows.length).toBe(d.total);
      for (const r of d.rows) expect(r.user.startsWith(INSTRUCT)).toBe(true);
    }
  });

  it('cover every intent, 20 per intent for training and 5 held out, with their slots found in the command', () => {
    const raw = JSON.parse(readFileSync(new URL('../public/samples/meeting-train.json', import.meta.url), 'utf8')) as {
      input: string;
    }[];
    for (const [d, per] of [
      [train, 20],
      [evalSet, 5],
    ] as const) {
      const count = new Map<string, number>();
      d.rows.forEach((r, i) => {
        const call = r.expected!;
        expect(call, r.user).not.toBeNull();
        expect(Object.keys(call.parameters).sort(), r.user).toEqual([...SLOTS[call.tool_name]].sort());
        // Slot values are spans of the spoken command, never invented.
        for (const v of Object.values(call.parameters)) expect(r.user.slice(INSTRUCT.length)).toContain(v);
        count.set(call.tool_name, (count.get(call.tool_name) ?? 0) + 1);
        if (d === train) expect(r.user).toBe(INSTRUCT + raw[i].input);
      });
      expect(Object.fromEntries(count)).toEqual(Object.fromEntries(Object.keys(SLOTS).map((k) => [k, per])));
    }
  });

  it('hold out commands and slot values the training set does not contain', () => {
    const seen = new Set(train.rows.map((r) => r.user));
    const values = new Set(train.rows.flatMap((r) => Object.values(r.expected!.parameters)));
    for (const r of evalSet.rows) {
      expect(seen.has(r.user), r.user).toBe(false);
      for (const v of Object.values(r.expected!.parameters)) expect(values.has(v), String(v)).toBe(false);
    }
    expect(new Set(train.rows.map((r) => r.user)).size).toBe(train.rows.length);
  });
});
