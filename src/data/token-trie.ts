// The tokenizer's vocabulary as a byte trie, and what each token does inside a JSON string body
// (lexClosure): the tokenizer half of schema-constrained decoding, computed once per tokenizer.
// Split from constrain.ts, which walks this trie against a grammar; the trie knows no grammar.

import { vocabBytes } from '../tokenizer/vocab-bytes.ts';
import { LEX_CLOSE, LEX_DEAD, lexStep } from './json-string.ts';

/** All regular tokens in a byte trie, children of a node contiguous (CSR). */
export class TokenTrie {
  readonly edgeStart: Int32Array;
  readonly edgeCount: Int32Array;
  /** Token id that ends at a node, or -1. */
  readonly tokenAt: Int32Array;
  readonly edgeByte: Uint8Array;
  readonly edgeChild: Int32Array;

  constructor(readonly bytes: readonly (Uint8Array | null)[]) {
    // Insert every token through one map keyed by (node, byte), then lay the edges out by parent.
    const child = new Map<number, number>();
    const parent: number[] = [-1],
      byte: number[] = [0],
      tokenAt: number[] = [-1];
    bytes.forEach((b, id) => {
      if (!b || !b.length) return;
      let n = 0;
      for (let i = 0; i < b.length; i++) {
        const key = n * 256 + b[i];
        let c = child.get(key);
        if (c === undefined) {
          c = parent.length;
          parent.push(n);
          byte.push(b[i]);
          tokenAt.push(-1);
          child.set(key, c);
        }
        n = c;
      }
      tokenAt[n] = id;
    });
    const N = parent.length;
    this.edgeCount = new Int32Array(N);
    for (let c = 1; c < N; c++) this.edgeCount[parent[c]]++;
    this.edgeStart = new Int32Array(N);
    for (let n = 1; n < N; n++) this.edgeStart[n] = this.edgeStart[n - 1] + this.edgeCount[n - 1];
    const fill = this.edgeStart.slice();
    this.edgeByte = new Uint8Array(N - 1);
    this.edgeChild = new Int32Array(N - 1);
    for (let c = 1; c < N; c++) {
      const e = fill[parent[c]]++;
      this.edgeByte[e] = byte[c];
      this.edgeChild[e] = c;
    }
    this.tokenAt = Int32Array.from(tokenAt);
  }

  get nodeCount(): number {
    return this.tokenAt.length;
  }
}

/** Ids ordered by the fewest bytes that finish the call after each: a budget keeps a prefix. */
export interface Allowed {
  ids: Int32Array;
  /** Ascending. */
  mins: Int32Array;
}

/** Counting sort by mins (small integers), so the decode loop never filters. */
export function byMin(ids: ArrayLike<number>, mins: ArrayLike<number>, n: number): Allowed {
  let top = 0;
  for (let k = 0; k < n; k++) if (mins[k] > top) top = mins[k];
  const start = new Int32Array(top + 2);
  for (let k = 0; k < n; k++) start[mins[k] + 1]++;
  for (let m = 1; m < start.length; m++) start[m] += start[m - 1];
  const out = { ids: new Int32Array(n), mins: new Int32Array(n) };
  for (let k = 0; k < n; k++) {
    const at = start[mins[k]]++;
    out.ids[at] = ids[k];
    out.mins[at] = mins[k];
  }
  return out;
}

/** What each token does inside a JSON string body from one lexical state (json-string.ts). */
export interface LexClosure {
  /** Tokens that stay inside the string, and the lexical state after each. */
  ids: Int32Array;
  after: Uint8Array;
  /** Tokens that close the string part way: the byte index right after the closing quote. */
  closing: Int32Array;
  closeAt: Int32Array;
}

/** Walk buffers for a trie: every node is on the stack at most once, every token listed once. */
export interface Scratch {
  ids: Int32Array;
  aux: Int32Array;
  nodes: Int32Array;
  states: Int32Array;
}

const scratchOf = new WeakMap<TokenTrie, Scratch>();
export function scratch(t: TokenTrie): Scratch {
  let s = scratchOf.get(t);
  if (!s) {
    const N = t.nodeCount;
    s = { ids: new Int32Array(N), aux: new Int32Array(N), nodes: new Int32Array(N), states: new Int32Array(N) };
    scratchOf.set(t, s);
  }
  return s;
}

const closuresOf = new WeakMap<TokenTrie, (LexClosure | undefined)[]>();

/**
 * The tokens a string body takes from lexical state `lex`: one trie walk, computed once per
 * tokenizer. String values are where most of the vocabulary is allowed, and this keeps the
 * per-grammar work there down to the few tokens that hold a closing quote.
 */
export function lexClosure(t: TokenTrie, lex: number): LexClosure {
  let all = closuresOf.get(t);
  if (!all) closuresOf.set(t, (all = []));
  const hit = all[lex];
  if (hit) return hit;
  const { ids, aux, nodes, states } = scratch(t);
  const closing: number[] = [],
    closeAt: number[] = [];
  // Depth rides in the state's high bits: lexical states fit in 4 bits.
  let count = 0,
    top = 0;
  nodes[top] = 0;
  states[top++] = lex;
  while (top > 0) {
    const n = nodes[--top],
      packed = states[top];
    const st = packed & 15,
      depth = packed >> 4;
    const e0 = t.edgeStart[n],
      e1 = e0 + t.edgeCount[n];
    for (let e = e0; e < e1; e++) {
      const ns = lexStep(st, t.edgeByte[e]);
      if (ns === LEX_DEAD) continue;
      const c = t.edgeChild[e];
      if (ns === LEX_CLOSE) {
        // Everything below closes here; what follows the quote is the grammar's to judge.
        const sub = [c];
        while (sub.length) {
          const x = sub.pop()!;
          if (t.tokenAt[x] >= 0) {
            closing.push(t.tokenAt[x]);
            closeAt.push(depth + 1);
          }
          for (let f = t.edgeStart[x]; f < t.edgeStart[x] + t.edgeCount[x]; f++) sub.push(t.edgeChild[f]);
        }
        continue;
      }
      const tok = t.tokenAt[c];
      if (tok >= 0) {
        ids[count] = tok;
        aux[count++] = ns;
      }
      if (t.edgeCount[c]) {
        nodes[top] = c;
        states[top++] = ns | ((depth + 1) << 4);
      }
    }
  }
  const out = {
    ids: ids.slice(0, count),
    after: Uint8Array.from(aux.subarray(0, count)),
    closing: Int32Array.from(closing),
    closeAt: Int32Array.from(closeAt),
  };
  all[lex] = out;
  return out;
}

let lastVocab: { json: string | object; trie: TokenTrie } | null = null;

/** The token trie of a tokenizer.json, built once for the last tokenizer seen. */
export function tokenTrie(tokenizerJson: string | object): TokenTrie {
  if (lastVocab?.json !== tokenizerJson)
    lastVocab = { json: tokenizerJson, trie: new TokenTrie(vocabBytes(tokenizerJson)) };
  return lastVocab.trie;
}
