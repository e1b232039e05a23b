// Seeded random training rows for tests that need data but no tokenizer: 8-17 tokens, the first
// 3-5 of them prompt (-100 labels). Used in Node and in the browser test page (e2e/io-page.ts).
import type { TrainExample } from '../../src/engine/engine.ts';

export function randomExamples(n: number, seed: number, vocab: number): TrainExample[] {
  let x = seed;
  const rnd = (k: number) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % k;
  };
  return Array.from({ length: n }, () => {
    const len = 8 + rnd(10);
    const ids = Int32Array.from({ length: len }, () => rnd(vocab));
    const prompt = 3 + rnd(3);
    return { ids, labels: ids.map((id, i) => (i < prompt ? -100 : id)), truncated: 0 };
  });
}
