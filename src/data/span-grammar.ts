// Values tied to the utterance: inside a span parameter's string (x-source "utterance", the
// default for a string without enum) only a non-empty substring of the row's utterance may be
// written. The call grammar (call-grammar.ts) is per schema; this wraps it per row with a
// suffix automaton over the utterance's UTF-8 bytes, built once per row in O(n), whose states
// are exactly the substrings' equivalence classes: a byte is allowed iff the text so far plus
// that byte still occurs in the utterance.
//
// The value is written as canonical JSON (JSON.stringify): raw UTF-8, with `"`, `\` and control
// characters escaped. So `"` closes the value, `\` starts an escape whose decoded byte must
// continue the substring, and a value starts and ends on a character boundary (a substring of
// valid UTF-8 that does is itself valid). Row states are numbered from SPAN_BASE up, so they
// never collide with the schema grammar's own (lazily grown) state ids.

import { ToolCallGrammar } from './call-grammar.ts';
import type { ToolSchema } from './schema.ts';

const enc = new TextEncoder();
export const SPAN_BASE = 1 << 24;
const Q = 0x22,
  BSL = 0x5c;
/** JSON's two-character escapes and the byte each stands for. */
const SHORT_ESC: Record<number, number> = {
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
  0x62: 0x08,
  0x66: 0x0c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
};
const hexVal = (b: number) =>
  b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1;

/** Suffix automaton of a byte string (transitions in maps: an utterance is short). */
export class SuffixAutomaton {
  readonly next: Map<number, number>[] = [new Map()];
  private readonly link: number[] = [-1];
  private readonly len: number[] = [0];

  constructor(bytes: Uint8Array) {
    let last = 0;
    for (const b of bytes) {
      const cur = this.add(this.len[last] + 1);
      let p = last;
      while (p >= 0 && !this.next[p].has(b)) {
        this.next[p].set(b, cur);
        p = this.link[p];
      }
      if (p < 0) this.link[cur] = 0;
      else {
        const q = this.next[p].get(b)!;
        if (this.len[p] + 1 === this.len[q]) this.link[cur] = q;
        else {
          const clone = this.add(this.len[p] + 1);
          this.next[clone] = new Map(this.next[q]);
          this.link[clone] = this.link[q];
          while (p >= 0 && this.next[p].get(b) === q) {
            this.next[p].set(b, clone);
            p = this.link[p];
          }
          this.link[q] = this.link[cur] = clone;
        }
      }
      last = cur;
    }
  }

  private add(len: number): number {
    this.next.push(new Map());
    this.link.push(-1);
    this.len.push(len);
    return this.len.length - 1;
  }

  get size(): number {
    return this.len.length;
  }

  /** True when some byte in [lo, hi] continues state s. */
  hasIn(s: number, lo: number, hi: number): boolean {
    for (const b of this.next[s].keys()) if (b >= lo && b <= hi) return true;
    return false;
  }
}

/** Bytes of a UTF-8 character from its lead byte (0 for a continuation byte). */
function charLen(b: number): number {
  return b < 0x80 ? 1 : b < 0xc0 ? 0 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

/** Bytes the canonical JSON form spends on one raw byte that starts a character. */
function written(b: number): number {
  if (b === Q || b === BSL) return 2;
  if (b < 0x20) return [0x08, 0x09, 0x0a, 0x0c, 0x0d].includes(b) ? 2 : 6;
  return charLen(b);
}

/**
 * Fewest bytes a span value of this utterance takes with its quotes (its shortest character as
 * canonical JSON writes it); Infinity when the utterance is empty.
 */
export function minValueOf(utterance: string): number {
  let m = Infinity;
  for (const ch of utterance) m = Math.min(m, written(enc.encode(ch)[0]));
  return m + 2;
}

// Sub-states inside a value: 0-3 continuation bytes owed to the current character; then the
// escapes: after `\`, after `\u`, `\u0`, `\u00`, and `\u00h` (h = sub - ESC_H, ASCII only).
const ESC = 4,
  ESC_U = 5,
  ESC_U0 = 6,
  ESC_U00 = 7,
  ESC_H = 8;
const ESC_REST = [0, 0, 0, 0, 1, 4, 3, 2];

interface SpanState {
  /** The schema grammar's state right after the closing quote. */
  after: number;
  sam: number;
  sub: number;
}

/**
 * The schema grammar for one row: the same states and bytes, except that a span parameter's
 * value is a substring of `utterance`. Same interface as ToolCallGrammar where the constraint
 * uses it.
 */
export class RowGrammar {
  readonly sam: SuffixAutomaton;
  private readonly spans: SpanState[] = [];
  private readonly ids = new Map<string, number>();
  private readonly trans = new Map<number, number>();
  /** Fewest bytes of a one-character value and its closing quote. */
  private readonly minChar: number;

  /** base: the schema's grammar built with spanValueMin = minValueOf(utterance), so its bounds hold here. */
  constructor(
    readonly base: ToolCallGrammar,
    readonly utterance: string,
  ) {
    this.sam = new SuffixAutomaton(enc.encode(utterance));
    this.minChar = minValueOf(utterance) - 2;
    if (base.spanValueMin !== this.minChar + 2)
      throw new Error(
        `the schema grammar bounds span values at ${base.spanValueMin} bytes, this utterance at ${this.minChar + 2}`,
      );
  }

  /** A row grammar with its own schema grammar (the constraint shares one among rows instead). */
  static of(schema: ToolSchema, utterance: string): RowGrammar {
    return new RowGrammar(new ToolCallGrammar(schema, minValueOf(utterance)), utterance);
  }

  get start(): number {
    return this.base.start;
  }

  isAccept(s: number): boolean {
    return s < SPAN_BASE && this.base.isAccept(s);
  }

  isSpan(s: number): boolean {
    return s >= SPAN_BASE;
  }

  minBytes(s: number): number {
    if (s < SPAN_BASE) {
      const after = this.base.spanAfter(s);
      // An open span value: its quotes, one character, and the rest of the call.
      return after < 0 ? this.base.minBytes(s) : 1 + this.minChar + 1 + this.base.minBytes(after);
    }
    const st = this.spans[s - SPAN_BASE];
    const owed = st.sub < ESC ? st.sub : st.sub >= ESC_H ? 1 : ESC_REST[st.sub];
    const first = st.sam === 0 && st.sub === 0 ? this.minChar : 0;
    return owed + first + 1 + this.base.minBytes(st.after);
  }

  step(s: number, b: number): number {
    if (s < SPAN_BASE) {
      const after = this.base.spanAfter(s);
      if (after < 0) return this.base.step(s, b);
      // No character of the utterance can be written: the value cannot be opened.
      return b === Q && this.minChar < Infinity ? this.intern(after, 0, 0) : -1;
    }
    const key = (s - SPAN_BASE) * 256 + b;
    let t = this.trans.get(key);
    if (t === undefined) {
      t = this.compute(this.spans[s - SPAN_BASE], b);
      this.trans.set(key, t);
    }
    return t;
  }

  walk(s: number, bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length && s >= 0; i++) s = this.step(s, bytes[i]);
    return s;
  }

  /** Free strings (parameters with x-source "free") are the schema grammar's. */
  stringAt(s: number): ReturnType<ToolCallGrammar['stringAt']> {
    return s < SPAN_BASE ? this.base.stringAt(s) : null;
  }

  private intern(after: number, sam: number, sub: number): number {
    const k = `${after},${sam},${sub}`;
    let id = this.ids.get(k);
    if (id === undefined) {
      id = SPAN_BASE + this.spans.length;
      this.spans.push({ after, sam, sub });
      this.ids.set(k, id);
    }
    return id;
  }

  /** The substring so far plus raw byte c, or -1. */
  private take(st: SpanState, c: number): number {
    const n = this.sam.next[st.sam].get(c);
    if (n === undefined) return -1;
    if (st.sub > 0) return this.intern(st.after, n, st.sub - 1); // a continuation byte (the automaton checked it)
    const len = charLen(c);
    return len ? this.intern(st.after, n, len - 1) : -1; // never start inside a character
  }

  private compute(st: SpanState, b: number): number {
    const { sam, sub } = st;
    if (sub > 0 && sub < ESC) return b >= 0x80 && b < 0xc0 ? this.take(st, b) : -1;
    if (sub === 0) {
      if (b === Q) return sam === 0 ? -1 : st.after;
      if (b === BSL) {
        // Only if some escaped byte continues the substring, so no state is a dead end.
        const m = this.sam;
        return m.hasIn(sam, 0, 0x1f) || m.hasIn(sam, Q, Q) || m.hasIn(sam, BSL, BSL) || m.hasIn(sam, 0x2f, 0x2f)
          ? this.intern(st.after, sam, ESC)
          : -1;
      }
      if (b < 0x20) return -1;
      // Canonical JSON escapes these; a raw control byte is not JSON at all.
      return this.take(st, b);
    }
    const asciiNext = this.sam.hasIn(sam, 0, 0x7f);
    switch (sub) {
      case ESC:
        if (b === 0x75) return asciiNext ? this.intern(st.after, sam, ESC_U) : -1;
        return b in SHORT_ESC ? this.take({ ...st, sub: 0 }, SHORT_ESC[b]) : -1;
      case ESC_U:
      case ESC_U0:
        return b === 0x30 ? this.intern(st.after, sam, sub + 1) : -1;
      case ESC_U00: {
        const h = hexVal(b);
        return h >= 0 && h < 8 && this.sam.hasIn(sam, h * 16, h * 16 + 15) ? this.intern(st.after, sam, ESC_H + h) : -1;
      }
      default: {
        const l = hexVal(b);
        return l < 0 ? -1 : this.take({ ...st, sub: 0 }, (sub - ESC_H) * 16 + l);
      }
    }
  }
}
