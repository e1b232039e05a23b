// One JSON form. Oracles: JSON texts written here from lists of key/value pairs (so which
// object repeats a key is known before any parsing), JSON.stringify for the compact form, and
// Python json.dumps' default form (", " and ": ", \u escapes) written out by hand.
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../src/core/rng.ts';
import { importDataset } from '../src/data/dataset.ts';
import { compactJson, duplicateKey } from '../src/data/json-keys.ts';
import { parseToolSchema, textCallProblems } from '../src/data/schema.ts';
import { scorePredictions } from '../src/eval/metrics.ts';

/** Random nested JSON as pairs; returns its text (keys written raw or \u-escaped) and the first repeated key in document order. */
function randomJson(rng: SeededRng, depth: number): { text: string; dup: string | null } {
  let dup: string | null = null;
  const keyText = (k: string) =>
    rng.float() < 0.3
      ? `"${[...k].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`
      : JSON.stringify(k);
  const write = (d: number): string => {
    const r = rng.float();
    if (d <= 0 || r < 0.3) return JSON.stringify(['a', 'b"c', '中', '{"x":1}'][rng.int(4)]);
    if (r < 0.45) return `[${Array.from({ length: rng.int(3) }, () => write(d - 1)).join(', ')}]`;
    const keys = Array.from({ length: rng.int(4) }, () => ['time', 'name', 'n"a', '时间'][rng.int(4)]);
    const seen = new Set<string>();
    const parts: string[] = [];
    for (const k of keys) {
      // Document order: this object's repeat is found when its second key is read, after earlier nested ones.
      if (seen.has(k) && dup === null) dup = k;
      seen.add(k);
      parts.push(`${keyText(k)}: ${write(d - 1)}`);
    }
    return `{${parts.join(', ')}}`;
  };
  const text = write(depth);
  return { text, dup };
}

describe('duplicateKey', () => {
  it('finds the first key repeated within one object, keys compared decoded, strings and arrays skipped', () => {
    const rng = new SeededRng(5);
    let dups = 0;
    for (let i = 0; i < 400; i++) {
      const { text, dup } = randomJson(rng, 4);
      JSON.parse(text);
      expect(duplicateKey(text), text).toBe(dup);
      if (dup) dups++;
    }
    expect(dups).toBeGreaterThan(50);
    expect(duplicateKey('{"a":{"a":1},"b":[{"a":1},{"a":2}]}')).toBeNull();
    expect(duplicateKey('{"tool_name":"S","parameters":{"time":"1","time":"2","time":"3","time":"4"}}')).toBe('time');
  });
});

describe('compact canonical form', () => {
  it('is JSON.stringify of the value; free text is left alone; a repeated key is reported', () => {
    const py =
      '{"tool_name": "SCHEDULE_MEETING", "parameters": {"time": "\\u660e\\u5929", "meeting_name": "\\u5468\\u4f1a"}}';
    expect(compactJson(py)).toEqual({
      text: '{"tool_name":"SCHEDULE_MEETING","parameters":{"time":"明天","meeting_name":"周会"}}',
    });
    expect(compactJson('好的，已经开会了')).toBeNull();
    expect(compactJson('{"a": 1, "a": 2}')).toEqual({ duplicate: 'a' });
  });

  it('import rewrites JSON answers once, counts them, merges rows that differed only in form, refuses repeated keys', () => {
    const rows = [
      { instruct: 'x', input: '开会', output: '{"tool_name": "A", "parameters": {"n": "\\u5468\\u4f1a"}}' },
      { instruct: 'x', input: '开会', output: '{"tool_name":"A","parameters":{"n":"周会"}}' },
      { instruct: 'x', input: '别的', output: { tool_name: 'B', parameters: {} } },
      { instruct: 'x', input: '说句话', output: 'plain text' },
    ];
    const r = importDataset(JSON.stringify(rows));
    expect(r.normalized).toBe(1);
    expect(r.duplicates.count).toBe(1);
    expect(r.rows.map((x) => x.answer)).toEqual([
      '{"tool_name":"A","parameters":{"n":"周会"}}',
      '{"tool_name":"B","parameters":{}}',
      'plain text',
    ]);
    const chat = importDataset(
      JSON.stringify({
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: '{"tool_name": "A", "parameters": {"t": "1", "t": "2"}}' },
        ],
      }) +
        '\n' +
        JSON.stringify({
          messages: [
            { role: 'user', content: 'q2' },
            { role: 'assistant', content: '{"tool_name": "A"}' },
          ],
        }),
      { file: 'c.jsonl' },
    );
    expect(chat.issues).toEqual([
      {
        line: 1,
        field: 'messages[1].content',
        message: 'has the key "t" twice in one object (JSON.parse would keep only the last)',
      },
    ]);
    expect(chat.rows.map((x) => x.answer)).toEqual(['{"tool_name":"A"}']);
  });
});

describe('a repeated key makes a call invalid', () => {
  const schema = parseToolSchema({
    tools: [
      {
        type: 'function',
        function: { name: 'S', parameters: { type: 'object', properties: { time: { type: 'string' } } } },
      },
    ],
  });
  const four = '{"tool_name":"S","parameters":{"time":"1","time":"2","time":"3","time":"4"}}';
  it('in the schema check and in the metrics', () => {
    expect(textCallProblems(schema, four)).toEqual(['the key "time" appears twice in one object']);
    expect(textCallProblems(schema, '{"tool_name":"S","parameters":{"time":"4"}}')).toEqual([]);
    const r = scorePredictions([{ expected: { tool_name: 'S', parameters: { time: '4' } }, generated: four }]);
    expect(r.tool!.invalidJsonRate).toBe(1);
    expect(r.tool!.exactMatch).toBe(0);
    expect(r.wrong[0].reason).toBe('invalid-json');
  });
});
