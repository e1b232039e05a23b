// Batched decoding against one-prompt decoding (itself checked by the golden cases): left
// padding with masked pads must not change any row's greedy tokens.
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/create.ts';
import { DEFAULT_LORA, GREEDY } from '../src/engine/engine.ts';
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
      for (const [name, t] of Object.entries(lora)) if (name.includes('lora_B')) t.forEach((_, i) => (t[i] = (hash32(7, i) / 2 ** 32 - 0.5) * 0.2));
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
