// Tokenized training examples in typed arrays, not one object (and two typed arrays) per row:
// ids in chunks of 4 Mi tokens, and per example its chunk, start, length, prompt length and
// truncated count. About 4 bytes a token plus 20 a row, so a million rows of a 100 MB file fit
// in little more than their token count; labels are made when an example is read (-100 on the
// prompt, the ids after it), exactly as examples.ts would have stored them.

import type { TrainExample } from '../engine/engine.ts';
import { IGNORE_INDEX } from './examples.ts';

const CHUNK = 1 << 22;

/** Growable Uint32Array. */
class U32s {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/**
 * Where full chunks go once the store passes its memory budget (the CLI: a temporary file): each
 * chunk written once, then read back by range when an example is taken.
 */
export interface ChunkSpill {
  write(chunk: number, ids: Int32Array): void;
  read(chunk: number, start: number, length: number): Int32Array;
}

export interface TokenStoreOptions {
  /** Tokens a chunk holds (default 4 Mi). */
  chunkTokens?: number;
  /** With `spill`: tokens kept in memory; each chunk past them goes to the spill when full. */
  budgetTokens?: number;
  spill?: ChunkSpill;
}

export class TokenStore {
  /** A chunk spilled (undefined here) is read back from the spill. */
  private chunks: (Int32Array | undefined)[] = [];
  private readonly chunkTokens: number;
  private used: number;
  /** Chunks still in memory. */
  private held = 0;
  private readonly chunkOf = new U32s();
  private readonly start = new U32s();
  private readonly len = new U32s();
  private readonly promptLen = new U32s();
  private readonly cut = new U32s();
  /** Tokens stored. */
  tokens = 0;
  /** Longest example, in tokens. */
  maxLength = 0;

  constructor(private readonly opts: TokenStoreOptions = {}) {
    this.chunkTokens = opts.chunkTokens ?? CHUNK;
    this.used = this.chunkTokens;
  }

  /** Chunks written to the spill. */
  get spilled(): number {
    return this.chunks.length - this.held;
  }

  get count(): number {
    return this.len.length;
  }

  /** Keeps `ex` (its ids; the labels must be -100 on a prompt prefix and the ids after it). */
  add(ex: TrainExample): number {
    const n = ex.ids.length;
    if (n > this.chunkTokens) throw new RangeError(`an example of ${n} tokens is longer than a store chunk`);
    if (this.used + n > this.chunkTokens) {
      this.spillFull();
      // A chunk is allocated whole; the last one is trimmed by nothing (4 Mi tokens = 16 MiB at most unused).
      this.chunks.push(new Int32Array(this.chunkTokens));
      this.held++;
      this.used = 0;
    }
    let p = 0;
    while (p < n && ex.labels[p] === IGNORE_INDEX) p++;
    this.chunks[this.chunks.length - 1]!.set(ex.ids, this.used);
    this.chunkOf.push(this.chunks.length - 1);
    this.start.push(this.used);
    this.len.push(n);
    this.promptLen.push(p);
    this.cut.push(ex.truncated);
    this.used += n;
    this.tokens += n;
    this.maxLength = Math.max(this.maxLength, n);
    return this.count - 1;
  }

  /** The full last chunk goes to the spill when one more would pass the budget (memory stays at the budget plus a chunk). */
  private spillFull(): void {
    const { spill, budgetTokens } = this.opts;
    const last = this.chunks.length - 1;
    if (!spill || last < 0 || (this.held + 1) * this.chunkTokens <= (budgetTokens ?? Infinity)) return;
    spill.write(last, this.chunks[last]!.subarray(0, this.used));
    this.chunks[last] = undefined;
    this.held--;
  }

  /** Tokens of example i. */
  length(i: number): number {
    return this.len.data[i];
  }

  truncated(i: number): number {
    return this.cut.data[i];
  }

  /** Label tokens the loss sees in example i (position 0 never counts, as labelCount). */
  labelTokens(i: number): number {
    return Math.max(0, this.len.data[i] - Math.max(1, this.promptLen.data[i]));
  }

  /** Example i as the trainer takes it: ids a view into the store, labels made now. */
  example(i: number): TrainExample {
    const s = this.start.data[i],
      n = this.len.data[i],
      p = this.promptLen.data[i];
    const c = this.chunkOf.data[i],
      chunk = this.chunks[c];
    const ids = chunk ? chunk.subarray(s, s + n) : this.opts.spill!.read(c, s, n);
    const labels = new Int32Array(n);
    labels.fill(IGNORE_INDEX, 0, p);
    labels.set(ids.subarray(p), p);
    return { ids, labels, truncated: this.cut.data[i] };
  }
}

const isIndex = (key: string | symbol): key is string =>
  typeof key === 'string' && key.length > 0 && key.length < 16 && /^\d+$/.test(key);

/**
 * The examples `indices` (all, without it) of a store as a read-only array: the training loop,
 * fingerprint and batching index it as any array, and each example is made when read.
 */
export function storeExamples(store: TokenStore, indices?: Uint32Array): readonly TrainExample[] {
  const n = indices ? indices.length : store.count;
  return new Proxy([] as TrainExample[], {
    get(target, key, receiver) {
      if (key === 'length') return n;
      if (isIndex(key)) {
        const i = Number(key);
        return i < n ? store.example(indices ? indices[i] : i) : undefined;
      }
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      return isIndex(key) ? Number(key) < n : Reflect.has(target, key);
    },
    set() {
      return false;
    },
  });
}
