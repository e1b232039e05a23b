// The benchmark harnesses (scripts/bench.ts and its PyTorch twin) end with one JSON line of
// the same shape, whose throughput is the step time restated: B*T tokens / seconds per step.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../scripts/bench-core.ts';
import { needTool } from '../helpers/skip.ts';

interface BenchLine {
  engine: string;
  preset: string;
  batch: number;
  seq: number;
  train_tokens_per_s: number;
  ms_per_step: number;
  peak_rss_mb: number;
}

function lastJson(stdout: string): BenchLine {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as BenchLine;
}

function checkLine(r: BenchLine, engine: string): void {
  expect(r).toMatchObject({ engine, preset: 'small', batch: 2, seq: 16 });
  expect(Object.keys(r).sort()).toEqual([
    'batch',
    'engine',
    'ms_per_step',
    'peak_rss_mb',
    'preset',
    'seq',
    'train_tokens_per_s',
  ]);
  expect(r.ms_per_step).toBeGreaterThan(0);
  // tokens/s is rounded from the unrounded step time: within the 0.5 ms rounding of ms_per_step
  const implied = (2 * 16) / (r.ms_per_step / 1000);
  expect(Math.abs(r.train_tokens_per_s - implied) / implied).toBeLessThan(0.5 / r.ms_per_step + 1e-3);
  expect(r.peak_rss_mb).toBeGreaterThan(10);
}

describe('benchmark harness', () => {
  it('npm run bench prints the step and a consistent JSON line', () => {
    const r = spawnSync(
      'npx',
      [
        'tsx',
        'scripts/bench.ts',
        '--engine',
        'cpu',
        '--preset',
        'small',
        '--batch',
        '2',
        '--seq',
        '16',
        '--steps',
        '1',
        '--threads',
        '2',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/WebAssembly SIMD/);
    expect(r.stdout).toMatch(/step 1: \d+ ms, loss \d+\.\d+/);
    checkLine(lastJson(r.stdout), 'cpu');
  }, 120_000);

  it('rejects an unknown preset, naming the known ones', () => {
    const r = spawnSync('npx', ['tsx', 'scripts/bench.ts', '--preset', 'huge'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`unknown preset "huge" (${Object.keys(PRESETS).join(', ')})`);
    expect(Object.keys(PRESETS)).toContain('qwen2.5-0.5b');
  }, 60_000);

  const hasTorch = needTool(
    'PyTorch (the bench twin, scripts/bench_torch.py)',
    spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0
      ? undefined
      : 'no torch for /usr/bin/python3 (Debian: apt-get install python3-torch; .ci/run does)',
  );
  it.skipIf(!hasTorch)(
    'the PyTorch twin prints the same JSON line',
    () => {
      const r = spawnSync(
        '/usr/bin/python3',
        ['scripts/bench_torch.py', '--preset', 'small', '--batch', '2', '--seq', '16', '--steps', '1'],
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      checkLine(lastJson(r.stdout), 'pytorch');
    },
    120_000,
  );
});
