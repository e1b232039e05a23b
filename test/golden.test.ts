// The CPU engine against PyTorch: every check of each golden case (logits, loss, every LoRA
// gradient, each AdamW step, train loss/grad-norm/lr, greedy generation, merge). The cases' rows
// are ragged: the engine packs them end to end by default (engine/packing.ts); one run per case
// computes on the padded layout instead.
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { runGoldenCase } from '../src/cli/golden.ts';
import { compare, GOLDEN_BOUNDS } from '../src/cli/golden-case.ts';

const root = 'test/fixtures/golden';
const cases = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

describe.each(cases)('golden %s', (name) => {
  for (const scalar of [true, false]) {
    it(`${scalar ? 'scalar' : 'default'} CPU kernels reproduce PyTorch`, async () => {
      const lines: string[] = [];
      const { checks } = await runGoldenCase(`${root}/${name}`, 'cpu', (l) => lines.push(l), { scalar });
      expect(checks.length).toBeGreaterThan(40);
      // the adapter after each step is compared itself, not only each step's update
      expect(checks.filter((c) => /^step\d+\.\S+$/.test(c.name)).length).toBeGreaterThan(0);
      const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`);
      expect(failed).toEqual([]);
    });
  }
  it('on the padded micro-batches (no packing)', async () => {
    const { checks } = await runGoldenCase(`${root}/${name}`, 'cpu', () => {}, {}, undefined, undefined, false);
    expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
  });
  it('with gradient checkpointing (the WebGPU memory plan) on the CPU too', async () => {
    const { checks } = await runGoldenCase(`${root}/${name}`, 'cpu', () => {}, {}, true);
    expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
  });
});

describe('the golden checker', () => {
  it('a length mismatch fails every metric, not only exact (extra values were never compared)', () => {
    const want = [1, 2, 3];
    for (const metric of ['maxAbs', 'relL2', 'maxRel', 'exact'] as const) {
      expect(compare('x', [1, 2, 3], want, metric, 0).ok, metric).toBe(true);
      const longer = compare('x', [1, 2, 3, 99], want, metric, 1e-3);
      expect(longer.ok, metric).toBe(false);
      expect(longer.name).toBe('x (length 4, expected 3)');
      expect(compare('x', [1, 2], want, metric, 1e-3).ok, metric).toBe(false);
    }
  });

  it('f32: each AdamW update within 5e-3 relL2 and the adapter after each step within 1e-4 (the CPU engine: 2.4e-3 and 4.4e-5 at worst)', () => {
    expect(GOLDEN_BOUNDS.f32.update).toBeLessThanOrEqual(5e-3);
    expect(GOLDEN_BOUNDS.f32.adapter).toBeLessThanOrEqual(1e-4);
  });
});
