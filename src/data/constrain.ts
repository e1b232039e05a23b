// Schema-constrained decoding at token level: the call grammar (bytes) meets the tokenizer's
// vocabulary (multi-byte tokens, tokens that hold a piece of a Chinese character) through a
// byte trie of all tokens. From a grammar state, one walk down the trie, pruned wherever the
// grammar refuses a byte, lists every token that may come next and the state it leads to.
// That list depends on the state alone, so it is computed once per state and reused for every
// later step and row; a decoding step then costs one pass over the allowed ids.
//
// The answer must also end in time: a token is offered only if, after it, the fewest bytes
// that complete the call (each byte is a token in a byte-level vocabulary) plus the end token
// still fit in the tokens left. So even an untrained model writes a whole, valid call.
//
// With the rows' utterances (forUtterances), span values are tied to them (span-grammar.ts):
// lists that no utterance changes stay shared between rows, the others are kept per row.

import type { TokenConstraint, TokenCursor } from '../engine/engine.ts';
import { TokenizerError } from '../core/errors.ts';
import { ToolCallGrammar } from './call-grammar.ts';
import { LEX_TO_CLOSE } from './json-string.ts';
import { minValueOf, RowGrammar, SPAN_BASE } from './span-grammar.ts';
import type { ToolSchema } from './schema.ts';
import { byMin, lexClosure, scratch, tokenTrie, type Allowed, type TokenTrie } from './token-trie.ts';

// The vocabulary's byte trie and the string-body closures are in token-trie.ts (no grammar there).
export { TokenTrie, tokenTrie } from './token-trie.ts';

/** Allowed-id lists kept at most (ids + mins, 8 bytes each): ~64 MB. */
const CACHE_ENTRIES = 8_000_000;

/** What the token-level constraint needs of a byte grammar: the schema's, or a row's (span-grammar.ts). */
interface ByteGrammar {
  readonly start: number;
  isAccept(s: number): boolean;
  minBytes(s: number): number;
  step(s: number, b: number): number;
  stringAt(s: number): ReturnType<ToolCallGrammar['stringAt']>;
}

/** A bounded map of allowed lists, oldest out first. */
class AllowedCache {
  private readonly map = new Map<number, Allowed>();
  private entries = 0;
  get(s: number): Allowed | undefined {
    return this.map.get(s);
  }
  set(s: number, a: Allowed): void {
    while (this.entries + a.ids.length > CACHE_ENTRIES && this.map.size) {
      const [k, v] = this.map.entries().next().value!;
      this.map.delete(k);
      this.entries -= v.ids.length;
    }
    this.map.set(s, a);
    this.entries += a.ids.length;
  }
}

/**
 * Every token that may follow state s under grammar g, and how many bytes each leaves. `dep`
 * says which states depend on the row (its utterance); `touched` reports whether any was
 * passed, i.e. whether the list may be shared between rows.
 */
function allowedOf(
  g: ByteGrammar,
  t: TokenTrie,
  s: number,
  dep: (s: number) => boolean,
): { entry: Allowed; touched: boolean } {
  return g.stringAt(s) ? inString(g, t, s, dep) : walk(g, t, s, dep);
}

/** Outside strings: one walk down the trie, pruned where the grammar refuses a byte. */
function walk(
  g: ByteGrammar,
  t: TokenTrie,
  s: number,
  dep: (s: number) => boolean,
): { entry: Allowed; touched: boolean } {
  const { ids, aux: mins, nodes, states } = scratch(t);
  let count = 0,
    top = 0,
    touched = false;
  nodes[top] = 0;
  states[top++] = s;
  while (top > 0) {
    const n = nodes[--top],
      st = states[top];
    const e0 = t.edgeStart[n],
      e1 = e0 + t.edgeCount[n];
    for (let e = e0; e < e1; e++) {
      const ns = g.step(st, t.edgeByte[e]);
      if (ns < 0) continue;
      if (!touched && dep(ns)) touched = true;
      const c = t.edgeChild[e];
      const tok = t.tokenAt[c];
      if (tok >= 0) {
        ids[count] = tok;
        mins[count++] = g.minBytes(ns);
      }
      if (t.edgeCount[c]) {
        nodes[top] = c;
        states[top++] = ns;
      }
    }
  }
  return { entry: byMin(ids, mins, count), touched };
}

/** Inside a free string value: the tokenizer's lexical closure, plus the closing tokens this grammar takes. */
function inString(
  g: ByteGrammar,
  t: TokenTrie,
  s: number,
  dep: (s: number) => boolean,
): { entry: Allowed; touched: boolean } {
  const { lex, afterClose, rest } = g.stringAt(s)!;
  const cl = lexClosure(t, lex);
  const ids: number[] = [],
    mins: number[] = [];
  let touched = false;
  for (let k = 0; k < cl.closing.length; k++) {
    const id = cl.closing[k];
    const bytes = t.bytes[id]!;
    let ns = afterClose;
    for (let i = cl.closeAt[k]; i < bytes.length && ns >= 0; i++) {
      ns = g.step(ns, bytes[i]);
      if (ns >= 0 && dep(ns)) touched = true;
    }
    if (ns >= 0) {
      ids.push(id);
      mins.push(g.minBytes(ns));
    }
  }
  const n = cl.ids.length;
  const allIds = new Int32Array(n + ids.length),
    allMins = new Int32Array(n + ids.length);
  allIds.set(cl.ids);
  allIds.set(ids, n);
  for (let k = 0; k < n; k++) allMins[k] = LEX_TO_CLOSE[cl.after[k]] + rest;
  allMins.set(mins, n);
  return { entry: byMin(allIds, allMins, n + ids.length), touched };
}

const never = () => false;

export class ToolCallConstraint implements TokenConstraint {
  /** Lists under the schema grammar alone (span values as free strings). */
  private readonly cache = new AllowedCache();
  /**
   * Per shortest span value (see ToolCallGrammar's spanValueMin): the schema grammar with that
   * bound and the lists under row grammars that no row's utterance changes, shared by its rows.
   */
  private readonly variants = new Map<number, { grammar: ToolCallGrammar; shared: AllowedCache }>();
  private readonly ends: Int32Array;

  /** endIds: the tokens that end an answer (also the decoding's stop tokens). */
  constructor(
    readonly grammar: ToolCallGrammar,
    readonly trie: TokenTrie,
    endIds: readonly number[],
  ) {
    this.ends = Int32Array.from(endIds);
  }

  /** Fewest tokens a whole answer can take: the shortest call, byte by byte, and the end token. */
  get minTokens(): number {
    return this.grammar.minBytes(this.grammar.start) + 1;
  }

  /** A cursor without an utterance: span values are free strings. */
  start(): CallCursor {
    return new CallCursor(this, this.grammar, (s) => this.allowedFrom(s));
  }

  /**
   * Rows decoded together, one utterance each: start(row) ties span values to that row's
   * utterance. An empty utterance has no span to give: its values stay free strings.
   */
  forUtterances(utterances: readonly string[]): TokenConstraint & { rows: (RowConstraint | null)[] } {
    const rows = utterances.map((u) => {
      const min = minValueOf(u);
      if (min === Infinity) return null;
      let v = this.variants.get(min);
      if (!v)
        this.variants.set(
          min,
          (v = { grammar: new ToolCallGrammar(this.grammar.schema, min), shared: new AllowedCache() }),
        );
      return new RowConstraint(this, v.grammar, v.shared, u);
    });
    return {
      rows,
      start: (row?: number) => {
        if (row === undefined || row < 0 || row >= rows.length)
          throw new Error(`no utterance for row ${row} of ${rows.length}`);
        return rows[row]?.start() ?? this.start();
      },
    };
  }

  endIds(): Int32Array {
    return this.ends;
  }

  /** Every token that may follow state s, and how many bytes each leaves to write. */
  allowedFrom(s: number): Allowed {
    let hit = this.cache.get(s);
    if (!hit) this.cache.set(s, (hit = allowedOf(this.grammar, this.trie, s, never).entry));
    return hit;
  }
}

/** One row's constraint: lists that depend on its utterance kept here, the others shared. */
export class RowConstraint {
  private readonly own = new Map<number, Allowed>();
  private readonly dep: (s: number) => boolean;

  readonly grammar: RowGrammar;

  constructor(
    readonly parent: ToolCallConstraint,
    base: ToolCallGrammar,
    private readonly shared: AllowedCache,
    utterance: string,
  ) {
    this.grammar = new RowGrammar(base, utterance);
    this.dep = (s) => s >= SPAN_BASE || base.spanAfter(s) >= 0;
  }

  start(): CallCursor {
    return new CallCursor(this.parent, this.grammar, (s) => this.allowedFrom(s));
  }

  allowedFrom(s: number): Allowed {
    const hit = this.own.get(s) ?? (s < SPAN_BASE ? this.shared.get(s) : undefined);
    if (hit) return hit;
    const { entry, touched } = allowedOf(this.grammar, this.parent.trie, s, this.dep);
    if (touched || s >= SPAN_BASE) this.own.set(s, entry);
    else this.shared.set(s, entry);
    return entry;
  }
}

export class CallCursor implements TokenCursor {
  private state: number;

  constructor(
    private readonly c: ToolCallConstraint,
    private readonly g: ByteGrammar,
    private readonly allowedFrom: (s: number) => Allowed,
  ) {
    this.state = g.start;
  }

  allowed(left: number): Int32Array {
    if (this.g.isAccept(this.state)) return this.c.endIds();
    const { ids, mins } = this.allowedFrom(this.state);
    if (!ids.length)
      throw new TokenizerError(
        'the vocabulary has no token that continues the tool call here (a byte-level vocabulary has one for every byte)',
      );
    // After this token, left - 1 remain: the rest of the call and then the end token. When too
    // few remain for any whole call, the ids that come closest, rather than none.
    const limit = Math.max(left - 2, mins[0]);
    if (mins[mins.length - 1] <= limit) return ids;
    let lo = 0,
      hi = mins.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (mins[mid] <= limit) lo = mid + 1;
      else hi = mid;
    }
    return ids.subarray(0, lo);
  }

  advance(id: number): void {
    if (this.g.isAccept(this.state)) return;
    const bytes = this.c.trie.bytes[id];
    let next = this.state;
    if (bytes) for (let i = 0; i < bytes.length && next >= 0; i++) next = this.g.step(next, bytes[i]);
    if (!bytes || next < 0) throw new Error(`token ${id} does not continue the tool call here`);
    this.state = next;
  }

  /** Where the cursor is, for tests. */
  get grammarState(): number {
    return this.state;
  }
}

/** A constraint that makes decoding write one valid call of the schema, then an end token. */
export function toolCallConstraint(
  schema: ToolSchema,
  tokenizerJson: string | object,
  endIds: readonly number[],
): ToolCallConstraint {
  return new ToolCallConstraint(new ToolCallGrammar(schema), tokenTrie(tokenizerJson), endIds);
}
