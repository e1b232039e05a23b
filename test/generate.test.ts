// Batched decoding against one-prompt decoding (itself checked by the golden cases): left
// padding with masked pads must not change any row's greedy tokens.
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/create.ts';
import { GREEDY } from '../src/engine/engine.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { hash32 } from '../src/engine/ops.ts';
import { randomModel } from './helpers/random-model.ts';

describe('generateBatch', () => {
  for (const scalar of [true, false]) {
    it(`equals generate row by row (${scalar ? 'scalar' : 'default'} CPU)`, async () => {
      const { cfg, weights } = randomModel({ vocab_size: 128 }, 5);
      const engine = await createEngine('cpu', { scalar });
      await engine.load(cfg, weights, { maxBatch: 2, maxSeq: 16, lora: { ...DEFAULT_LORA, r: 4, alpha: 8 } });
      await engine.initLora(1);
      // a non-zero B so the adapter takes part in decoding
      const lora = await engine.getLora();
      for (const [name, t] of Object.entries(lora))
        if (name.includes('lora_B')) t.forEach((_, i) => (t[i] = (hash32(7, i) / 2 ** 32 - 0.5) * 0.2));
      await engine.setLora(lora);
      const prompts = [Int32Array.of(5, 9, 17, 33, 2, 8, 1), Int32Array.of(40), Int32Array.of(11, 12, 13, 100)];
      const opts = { ...GREEDY, maxNewTokens: 12, stopTokens: [3] };
      const batched = await engine.generateBatch(prompts, opts);
      for (let b = 0; b < prompts.length; b++) {
        const single = await engine.generate(prompts[b], opts);
        expect(Array.from(batched[b].tokens), `row ${b}`).toEqual(Array.from(single.tokens));
        batched[b].margins.forEach((m, i) => expect(Math.abs(m - single.margins[i])).toBeLessThan(1e-3));
      }
      await engine.dispose();
    });
  }
});

describe('constrained decoding hook', () => {
  it('picks the best allowed id at each step, by the full-sequence forward logits', async () => {
    const V = 128;
    const { cfg, weights } = randomModel({ vocab_size: V }, 9);
    const engine = await createEngine('cpu');
    await engine.load(cfg, weights, { maxBatch: 2, maxSeq: 24, lora: { ...DEFAULT_LORA, r: 4, alpha: 8 } });
    await engine.initLora(1);
    // Allowed sets that change with the step and the previous id, so a cursor that was not
    // advanced (or advanced with the wrong id) would be caught.
    const seen: { left: number; prev: number }[][] = [];
    const allowedAt = (step: number, prev: number) =>
      Int32Array.from({ length: 5 }, (_, k) => (prev * 7 + step * 13 + k * 17) % V);
    const constraint = {
      start() {
        const log: { left: number; prev: number }[] = [];
        seen.push(log);
        let prev = 1,
          step = 0;
        return {
          allowed(left: number) {
            log.push({ left, prev });
            return allowedAt(step, prev);
          },
          advance(id: number) {
            prev = id;
            step++;
          },
        };
      },
    };
    const prompts = [Int32Array.of(5, 9, 17, 33), Int32Array.of(40, 2)];
    const out = await engine.generateBatch(prompts, { ...GREEDY, maxNewTokens: 6, stopTokens: [], constraint });
    for (let b = 0; b < prompts.length; b++) {
      const ids = Array.from(out[b].tokens);
      expect(ids.length).toBe(6);
      expect(seen[b].map((s) => s.left)).toEqual([6, 5, 4, 3, 2, 1]);
      let prev = 1;
      for (let i = 0; i < ids.length; i++) {
        const seq = Int32Array.from([...prompts[b], ...ids.slice(0, i)]);
        const T = seq.length;
        const { logits } = await engine.forward(
          { B: 1, T, inputIds: seq, attentionMask: new Int32Array(T).fill(1), labels: new Int32Array(T).fill(-100) },
          true,
        );
        const last = logits!.subarray((T - 1) * V, T * V);
        const allowed = Array.from(allowedAt(i, prev));
        const best = allowed.reduce((a, c) => (last[c] > last[a] ? c : a));
        expect(ids[i], `row ${b} step ${i}`).toBe(best);
        prev = ids[i];
      }
    }
    await engine.dispose();
  });
});
