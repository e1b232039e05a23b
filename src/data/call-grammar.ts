// The byte-level grammar of one tool call under a schema, as the seed writes calls (compact
// JSON): {"tool_name":"<a tool>","parameters":{<that tool's properties, each at most once, in
// any order, the required ones present, enum values exactly, other strings non-empty valid
// JSON with valid UTF-8>}}.
//
// It is a DFA built lazily: a state is a small record (where in the call, which tool, which
// parameters are used), interned to an integer the first time it is reached, and each
// transition is computed once and kept in a table. Decoding only ever reaches a few dozen
// states, so a schema with many parameters costs nothing until they are used. Every state
// knows the fewest bytes that still complete a call (minBytes), which is what lets decoding
// finish a call inside its token budget.

import { SchemaError } from '../core/errors.ts';
import { LEX_CLOSE, LEX_DEAD, LEX_EMPTY, LEX_TO_CLOSE, lexStep } from './json-string.ts';
import { isSpanParam, type ToolSchema } from './schema.ts';

const enc = new TextEncoder();
const DEAD = -1;
const UNKNOWN = -2;
const Q = 0x22,
  RBRACE = 0x7d,
  COMMA = 0x2c;

/** A byte trie over a few literal strings, each ending in a value (tool, parameter, enum index). */
class LiteralTrie {
  readonly next: Map<number, number>[] = [new Map()];
  readonly depth: number[] = [0];
  /** Literals below each node: [value, remaining bytes from the node]. */
  readonly below: [number, number][][] = [[]];
  readonly leaf: number[] = [-1];

  add(bytes: Uint8Array, value: number): void {
    let n = 0;
    this.below[0].push([value, bytes.length]);
    for (const b of bytes) {
      let c = this.next[n].get(b);
      if (c === undefined) {
        c = this.next.length;
        this.next.push(new Map());
        this.depth.push(this.depth[n] + 1);
        this.below.push([]);
        this.leaf.push(-1);
        this.next[n].set(b, c);
      }
      n = c;
      this.below[n].push([value, bytes.length - this.depth[n]]);
    }
    this.leaf[n] = value;
  }
}

interface Tool {
  name: string;
  /** `"key":` per parameter, and each one's bit. */
  keys: LiteralTrie;
  required: number;
  params: { enum: LiteralTrie | null; minValue: number; keyLen: number; span: boolean }[];
}

/** Where a state is. In a free string value, lex is the state of the string's body (json-string.ts). */
type State =
  | { k: 'head'; node: number }
  | { k: 'params'; tool: number; used: number; first: boolean }
  | { k: 'key'; tool: number; used: number; node: number }
  | { k: 'enum'; tool: number; used: number; p: number; node: number }
  | { k: 'open'; tool: number; used: number; p: number }
  | { k: 'str'; tool: number; used: number; p: number; lex: number }
  | { k: 'close' }
  | { k: 'accept' };

function keyOf(s: State): string {
  switch (s.k) {
    case 'head':
      return `h${s.node}`;
    case 'params':
      return `p${s.tool},${s.used},${s.first ? 1 : 0}`;
    case 'key':
      return `k${s.tool},${s.used},${s.node}`;
    case 'enum':
      return `e${s.tool},${s.used},${s.p},${s.node}`;
    case 'open':
      return `o${s.tool},${s.used},${s.p}`;
    case 'str':
      return `s${s.tool},${s.used},${s.p},${s.lex}`;
    default:
      return s.k;
  }
}

const MAX_PARAMS = 30;

export class ToolCallGrammar {
  readonly start: number;
  private readonly head = new LiteralTrie();
  private readonly tools: Tool[];
  private readonly states: State[] = [];
  private readonly ids = new Map<string, number>();
  private readonly mins: number[] = [];
  private readonly spanAfters: number[] = [];
  private trans = new Int32Array(0);
  readonly acceptState: number;

  /**
   * spanValueMin: the fewest bytes of a span parameter's value with its quotes. Free strings
   * take 3 ("x"); a row's utterance may have no one-byte character (span-grammar.ts), and a
   * bound that is too low would let decoding run out of tokens.
   */
  constructor(
    readonly schema: ToolSchema,
    readonly spanValueMin = 3,
  ) {
    this.tools = schema.tools.map((t) => {
      if (t.params.length > MAX_PARAMS)
        throw new SchemaError('schema', [
          {
            tool: t.name,
            field: 'function.parameters.properties',
            message: `has ${t.params.length} parameters; constrained decoding handles up to ${MAX_PARAMS}`,
          },
        ]);
      const keys = new LiteralTrie();
      t.params.forEach((p, i) => keys.add(enc.encode(`${JSON.stringify(p.name)}:`), i));
      return {
        name: t.name,
        keys,
        required: t.params.reduce((m, p, i) => (p.required ? m | (1 << i) : m), 0),
        params: t.params.map((p) => {
          let e: LiteralTrie | null = null;
          if (p.enum) {
            e = new LiteralTrie();
            p.enum.forEach((v, i) => e!.add(enc.encode(JSON.stringify(v)), i));
          }
          const minValue = e ? Math.min(...e.below[0].map(([, n]) => n)) : isSpanParam(p) ? spanValueMin : 3; // "x"
          return { enum: e, minValue, keyLen: enc.encode(`${JSON.stringify(p.name)}:`).length, span: isSpanParam(p) };
        }),
      };
    });
    this.tools.forEach((t, i) => this.head.add(enc.encode(`{"tool_name":${JSON.stringify(t.name)},"parameters":{`), i));
    this.start = this.intern({ k: 'head', node: 0 });
    this.acceptState = this.intern({ k: 'accept' });
  }

  get stateCount(): number {
    return this.states.length;
  }

  isAccept(s: number): boolean {
    return s === this.acceptState;
  }

  /** Fewest bytes that take state s to a complete call. */
  minBytes(s: number): number {
    return this.mins[s];
  }

  /** The state after byte b, or -1 when b cannot come next. */
  step(s: number, b: number): number {
    const i = s * 256 + b;
    let t = this.trans[i];
    if (t === UNKNOWN) {
      const n = this.compute(this.states[s], b);
      t = n ? this.intern(n) : DEAD;
      this.trans[i] = t;
    }
    return t;
  }

  /**
   * For a state inside a free string value: the string body's state and the state right after
   * its closing quote, and the bytes that finish the call from there. Null elsewhere.
   */
  stringAt(s: number): { lex: number; afterClose: number; rest: number } | null {
    const st = this.states[s];
    if (st.k !== 'str') return null;
    const afterClose = this.intern({ k: 'params', tool: st.tool, used: st.used, first: false });
    return { lex: st.lex, afterClose, rest: this.mins[afterClose] };
  }

  /**
   * For a state right before a span parameter's opening quote (see span-grammar.ts): the state
   * after its closing quote; -1 elsewhere. Here its value is a free string; a row's grammar
   * narrows it to the utterance.
   */
  spanAfter(s: number): number {
    let a = this.spanAfters[s];
    if (a === undefined) {
      const st = this.states[s];
      a =
        st.k !== 'open' || !this.tools[st.tool].params[st.p].span
          ? -1
          : this.intern({ k: 'params', tool: st.tool, used: st.used, first: false });
      this.spanAfters[s] = a;
    }
    return a;
  }

  /** The state after a byte string, or -1. */
  walk(s: number, bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length && s >= 0; i++) s = this.step(s, bytes[i]);
    return s;
  }

  private intern(st: State): number {
    const key = keyOf(st);
    let id = this.ids.get(key);
    if (id !== undefined) return id;
    id = this.states.length;
    this.states.push(st);
    this.ids.set(key, id);
    this.mins.push(this.minOf(st));
    if (this.trans.length < this.states.length * 256) {
      const grown = new Int32Array(Math.max(1024, this.states.length * 2) * 256).fill(UNKNOWN);
      grown.set(this.trans);
      this.trans = grown;
    }
    return id;
  }

  /** Bytes to finish the parameters object and the call, from "after a value or the opening brace". */
  private minParams(tool: number, used: number, first: boolean): number {
    const t = this.tools[tool];
    let cost = 2,
      missing = 0;
    t.params.forEach((p, i) => {
      if (t.required & (1 << i) && !(used & (1 << i))) {
        cost += p.keyLen + p.minValue;
        missing++;
      }
    });
    return cost + (missing ? missing - (first ? 1 : 0) : 0);
  }

  private minOf(s: State): number {
    switch (s.k) {
      case 'head':
        return Math.min(...this.head.below[s.node].map(([tool, rest]) => rest + this.minParams(tool, 0, true)));
      case 'params':
        return this.minParams(s.tool, s.used, s.first);
      case 'key': {
        const t = this.tools[s.tool];
        let best = Infinity;
        for (const [p, rest] of t.keys.below[s.node]) {
          if (s.used & (1 << p)) continue;
          best = Math.min(best, rest + t.params[p].minValue + this.minParams(s.tool, s.used | (1 << p), false));
        }
        return best;
      }
      case 'enum': {
        const e = this.tools[s.tool].params[s.p].enum!;
        return Math.min(...e.below[s.node].map(([, rest]) => rest)) + this.minParams(s.tool, s.used, false);
      }
      case 'open':
        return this.tools[s.tool].params[s.p].minValue + this.minParams(s.tool, s.used, false);
      case 'str':
        return LEX_TO_CLOSE[s.lex] + this.minParams(s.tool, s.used, false);
      case 'close':
        return 1;
      case 'accept':
        return 0;
    }
  }

  private compute(s: State, b: number): State | null {
    switch (s.k) {
      case 'head': {
        const n = this.head.next[s.node].get(b);
        if (n === undefined) return null;
        const tool = this.head.leaf[n];
        return tool >= 0 ? { k: 'params', tool, used: 0, first: true } : { k: 'head', node: n };
      }
      case 'params': {
        const t = this.tools[s.tool];
        if (b === RBRACE) return (t.required & ~s.used) === 0 ? { k: 'close' } : null;
        const free = t.params.length && s.used !== (1 << t.params.length) - 1;
        if (!free) return null;
        if (!s.first) return b === COMMA ? { k: 'key', tool: s.tool, used: s.used, node: 0 } : null;
        return this.compute({ k: 'key', tool: s.tool, used: s.used, node: 0 }, b);
      }
      case 'key': {
        const t = this.tools[s.tool];
        const n = t.keys.next[s.node].get(b);
        if (n === undefined || !t.keys.below[n].some(([p]) => !(s.used & (1 << p)))) return null;
        const p = t.keys.leaf[n];
        if (p < 0) return { k: 'key', tool: s.tool, used: s.used, node: n };
        const used = s.used | (1 << p);
        return t.params[p].enum ? { k: 'enum', tool: s.tool, used, p, node: 0 } : { k: 'open', tool: s.tool, used, p };
      }
      case 'enum': {
        const e = this.tools[s.tool].params[s.p].enum!;
        const n = e.next[s.node].get(b);
        if (n === undefined) return null;
        // Enum strings are whole JSON literals, so a leaf never has children ("a" cannot prefix "a"b").
        return e.leaf[n] >= 0
          ? { k: 'params', tool: s.tool, used: s.used, first: false }
          : { k: 'enum', tool: s.tool, used: s.used, p: s.p, node: n };
      }
      case 'open':
        return b === Q ? { k: 'str', tool: s.tool, used: s.used, p: s.p, lex: LEX_EMPTY } : null;
      case 'str': {
        const lex = lexStep(s.lex, b);
        if (lex === LEX_DEAD) return null;
        return lex === LEX_CLOSE ? { k: 'params', tool: s.tool, used: s.used, first: false } : { ...s, lex };
      }
      case 'close':
        return b === RBRACE ? { k: 'accept' } : null;
      case 'accept':
        return null;
    }
  }
}
