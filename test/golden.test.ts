// The CPU engine against PyTorch: every check of each golden case (logits, loss, every LoRA
// gradient, each AdamW step, train loss/grad-norm/lr, greedy generation, merge). The cases' rows
// are ragged: the engine packs them end to end by default (engine/packing.ts); one run per case
// computes on the padded layout instead.
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { runGoldenCase } from '../src/cli/golden.ts';

const root = 'test/fixtures/golden';
const cases = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

describe.each(cases)('golden %s', (name) => {
  for (const scalar of [true, false]) {
    it(`${scalar ? 'scalar' : 'default'} CPU kernels reproduce PyTorch`, async () => {
      const lines: string[] = [];
      const { checks } = await runGoldenCase(`${root}/${name}`, 'cpu', (l) => lines.push(l), { scalar });
      expect(checks.length).toBeGreaterThan(40);
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
