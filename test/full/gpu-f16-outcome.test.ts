// The f16 path judged by its outcome, not kernel by kernel: the built-in tiny model trained to the
// end on the sample meeting data (its preset: lr 5e-3, 12 epochs, batch 4, no dropout; 600
// optimizer steps) by the CLI on the same device (Mesa 25 lavapipe) once on f16 tiles and once
// with --f16 off, each adapter evaluated on the sample eval rows on its own path. The final
// losses must agree within 2% and the exact match within 2 points; and training must have
// worked at all (a loss far below the first, some exact matches), or agreement would mean nothing.
import { needGpu } from '../helpers/gpu-env.ts';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

const run = needGpu('lavapipe', 'the f16 against f32 outcome test');
const MODEL = 'public/models/tiny';

/** Runs the CLI in-process; its last stdout line is its JSON summary. */
async function cli(argv: string[]): Promise<Record<string, number>> {
  let out = '',
    err = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  } as never);
  expect(code, err).toBe(0);
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function trainAndEval(dir: string, f16: 'on' | 'off') {
  const out = join(dir, `adapter-${f16}`);
  const train = await cli([
    'train',
    '--model',
    MODEL,
    '--data',
    'public/samples/meeting-train.json',
    '--out',
    out,
    '--engine',
    'webgpu',
    '--f16',
    f16,
    '--lr',
    '5e-3',
    '--epochs',
    '12',
    '--batch',
    '4',
    '--accum',
    '1',
    '--dropout',
    '0',
    '--checkpoint-every',
    '0',
    '--quiet',
  ]);
  const evaluation = await cli([
    'eval',
    '--model',
    MODEL,
    '--adapter',
    out,
    '--data',
    'public/samples/meeting-eval.json',
    '--engine',
    'webgpu',
    '--f16',
    f16,
    '--quiet',
  ]);
  return { train, evaluation };
}

describe.skipIf(!run)('f16 against f32 tiles, trained to the end on one device', () => {
  type Outcome = Awaited<ReturnType<typeof trainAndEval>>;
  let f16: Outcome, f32: Outcome;
  const dir = mkdtempSync(join(tmpdir(), 'webtune-f16-outcome-'));
  beforeAll(async () => {
    f16 = await trainAndEval(dir, 'on');
    f32 = await trainAndEval(dir, 'off');
    console.log(JSON.stringify({ f16, f32 }));
  }, 3_600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('both runs trained (agreement between two failed runs would mean nothing)', () => {
    for (const r of [f16, f32]) {
      expect(r.train.steps).toBe(600);
      expect(r.train.last_loss).toBeLessThan(r.train.first_loss * 0.5);
      expect(r.evaluation.exact_match).toBeGreaterThan(0.1);
    }
  });

  it('final losses within 2%', () => {
    expect(Math.abs(f16.train.last_loss / f32.train.last_loss - 1)).toBeLessThanOrEqual(0.02);
  });

  // The bound. Measured on lavapipe, the merged main of 2026-12-08 07:00 UTC: 50% on f16
  // against 48% on f32 (losses 1.2270 and 1.2372). The same test on the tree before the
  // subgroup kernels and the file splits gave 52% against 48% (4 points, two of the 50 rows):
  // the f16-trained adapter evaluated on the f32 path gave the same text on all 50 rows, so the
  // gap is the 600-step trajectory that f16 rounding bends, not the f16 kernels at evaluation
  // (BENCHMARKS.md, "Outcome: why"). A change of the f16 path that moves a row or two shows here
  // first; the row-by-row texts in the log say which.
  it("exact match within 2 points (the issue's bound)", () => {
    expect(Math.abs(f16.evaluation.exact_match - f32.evaluation.exact_match) * 100).toBeLessThanOrEqual(2 + 1e-9);
  });
});
