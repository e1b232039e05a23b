// The job export carries the run's own settings. Oracles: the settings given to `train`
// (read back from the zip's config.json), HF's scheduler names written out here, and
// train.py itself run by python3 on the placeholder base.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, strFromU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { jobSettings } from '../src/cli/commands/export-job.ts';
import { hfSchedule, loadableBase, NO_BASE } from '../src/export/job.ts';
import { DEFAULT_TRAIN } from '../src/train/recipe.ts';
import { cli } from './helpers/cli.ts';

const TINY = new URL('../public/models/tiny', import.meta.url).pathname;
const python = (() => {
  try {
    execFileSync('python3', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

describe('job settings', () => {
  it('map schedules to HF names and bases to loadable ones', () => {
    expect(['linear', 'cosine', 'constant'].map((s) => hfSchedule(s as 'linear'))).toEqual([
      'linear',
      'cosine',
      'constant_with_warmup',
    ]);
    expect(loadableBase('Qwen/Qwen2.5-0.5B-Instruct')).toBe('Qwen/Qwen2.5-0.5B-Instruct');
    expect(loadableBase('./base-model')).toBe('./base-model');
    expect(loadableBase('tiny')).toMatch(new RegExp(`^${NO_BASE} .*"tiny"`));
    expect(loadableBase(loadableBase('tiny'))).toBe(loadableBase('tiny'));
  });

  it('come from the run record, each flag over it', () => {
    const record = { settings: { ...DEFAULT_TRAIN, lr: 3e-3, epochs: 5 }, maxLength: 200 } as never;
    expect(jobSettings(record, { epochs: 2 })).toMatchObject({
      train: { lr: 3e-3, epochs: 2 },
      maxLength: 200,
      flagged: ['--epochs 2'],
    });
    expect(jobSettings(undefined, {})).toMatchObject({ train: DEFAULT_TRAIN, maxLength: 384 });
  });
});

describe('export --format job after train', () => {
  it('writes the settings the adapter was trained with; train.py refuses the placeholder base', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtune-jobrun-'));
    const data = join(dir, 'd.json');
    writeFileSync(
      data,
      JSON.stringify(
        Array.from({ length: 6 }, (_, i) => ({
          instruct: '',
          input: `开会${i}`,
          output: { tool_name: 'A', parameters: {} },
        })),
      ),
    );
    const ad = join(dir, 'ad');
    const t = await cli(
      'train',
      '--model',
      TINY,
      '--data',
      data,
      '--out',
      ad,
      '--lr',
      '3e-3',
      '--schedule',
      'constant',
      '--warmup',
      '2',
      '--epochs',
      '3',
      '--batch',
      '2',
      '--accum',
      '1',
      '--max-length',
      '200',
      '--stop-after',
      '1',
      '--quiet',
    );
    expect(t.code, t.err).toBe(0);
    const zip = join(dir, 'job.zip');
    const e = await cli(
      'export',
      '--model',
      TINY,
      '--adapter',
      ad,
      '--format',
      'job',
      '--out',
      zip,
      '--data',
      data,
      '--batch',
      '3',
      '--quiet',
    );
    expect(e.code, e.err).toBe(0);
    expect(e.err).toMatch(/"tiny" has no Hugging Face hub id/);
    const files = unzipSync(readFileSync(zip));
    const config = JSON.parse(strFromU8(files['webtune-job/config.json']));
    expect(config.train).toMatchObject({
      lr: 3e-3,
      schedule: 'constant_with_warmup',
      warmup_steps: 2,
      epochs: 3,
      batch_size: 3,
      grad_accum: 1,
    });
    expect(config.max_length).toBe(200);
    expect(config.base_model.startsWith(NO_BASE)).toBe(true);
    if (!python) {
      if (process.env.CI === 'true') throw new Error('python3 is missing: train.py cannot be checked');
      return;
    }
    writeFileSync(join(dir, 'train.py'), files['webtune-job/train.py']);
    writeFileSync(join(dir, 'config.json'), files['webtune-job/config.json']);
    const r = spawnSync('python3', [join(dir, 'train.py')], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/names no loadable base model.*"tiny".*--model/);
  }, 120_000);
});
