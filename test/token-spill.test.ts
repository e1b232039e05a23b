// The token store past its memory budget (issue 23): full chunks go to a file (the CLI's
// FileSpill) and come back when an example is read. Oracle: an in-memory store given the same
// examples: every example's ids, labels and counts, and the batches a seeded shuffle draws
// through storeExamples, are the same; only the budget's worth of chunks stays in memory.
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeExamples, TokenStore } from '../src/data/token-store.ts';
import { IGNORE_INDEX } from '../src/data/examples.ts';
import { FileSpill } from '../src/cli/token-spill.ts';
import { seededShuffle } from '../src/core/rng.ts';
import type { TrainExample } from '../src/engine/engine.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-spill-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Example i: a pseudo-random length and prompt, ids that name their example and position. */
function example(i: number): TrainExample {
  const n = 5 + ((i * 7919) % 180),
    p = 1 + ((i * 104729) % (n - 1));
  const ids = Int32Array.from({ length: n }, (_, k) => i * 1000 + k);
  const labels = Int32Array.from(ids, (v, k) => (k < p ? IGNORE_INDEX : v));
  return { ids, labels, truncated: i % 5 };
}

describe('TokenStore with a spill', () => {
  it('gives the same examples and batches as the in-memory store, holding only its budget', () => {
    const spill = new FileSpill(tmp);
    // The file is unlinked as soon as it is open: nothing is left in the folder, even after kill -9.
    expect(readdirSync(tmp)).toEqual([]);
    const spilled = new TokenStore({ chunkTokens: 1000, budgetTokens: 3000, spill });
    const plain = new TokenStore({ chunkTokens: 1000 });
    let peakHeld = 0;
    for (let i = 0; i < 2000; i++) {
      expect(spilled.add(example(i))).toBe(plain.add(example(i)));
      peakHeld = Math.max(peakHeld, (spilled as unknown as { held: number }).held);
    }
    expect(spilled.tokens).toBe(plain.tokens);
    expect(spilled.spilled).toBeGreaterThan(100);
    // The budget (3 chunks), never more.
    expect(peakHeld).toBeLessThanOrEqual(3);
    for (let i = 0; i < 2000; i++) {
      expect(spilled.example(i)).toEqual(plain.example(i));
      expect([spilled.length(i), spilled.labelTokens(i), spilled.truncated(i)]).toEqual([
        plain.length(i),
        plain.labelTokens(i),
        plain.truncated(i),
      ]);
    }
    // Batches as the trainer draws them: a seeded order over a subset, read through storeExamples.
    const order = Uint32Array.from(seededShuffle([...Array(2000).keys()], 7).slice(0, 1500));
    const a = storeExamples(spilled, order),
      b = storeExamples(plain, order);
    for (let at = 0; at < a.length; at += 16) {
      const batch = (x: readonly TrainExample[]) =>
        Array.from({ length: Math.min(16, x.length - at) }, (_, k) => x[at + k]);
      expect(batch(a)).toEqual(batch(b));
    }
    spill.close();
  });

  it('without a spill the budget is not enforced (the page keeps every chunk)', () => {
    const s = new TokenStore({ chunkTokens: 1000, budgetTokens: 1000 });
    for (let i = 0; i < 200; i++) s.add(example(i));
    expect(s.spilled).toBe(0);
    expect(s.example(0)).toEqual(example(0));
  });
});
