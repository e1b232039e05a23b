// Memory bounded by the model and the batch, not the file: `train` on a 100 MB JSON lines file
// (about 300k rows, two of them 10 MB long), generated in the temp folder by
// scripts/make-big-dataset.ts, runs one step of the tiny model within 800 MB peak RSS, measured
// by GNU time. Slow (several minutes of tokenizing on a busy 2-core machine): in test/full/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBigDataset } from '../../scripts/make-big-dataset.ts';

const root = new URL('../..', import.meta.url).pathname;
const gnuTime = existsSync('/usr/bin/time');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-mem-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('a 100 MB dataset', () => {
  // Under CI a missing GNU time must fail, not skip.
  it.skipIf(!gnuTime && !process.env.CI)(
    'trains one step of the tiny model within 800 MB peak RSS, the 10 MB rows skipped and counted',
    async () => {
      const data = join(tmp, 'big.jsonl');
      const made = await makeBigDataset(data, 100e6, 2, 10e6);
      expect(made.bytes).toBeGreaterThanOrEqual(100e6);
      execFileSync('npx', ['tsx', 'scripts/make-tiny-model.ts', '--preset', 'tiny', '--out', join(tmp, 'tiny')], {
        cwd: root,
      });
      const r = spawnSync(
        '/usr/bin/time',
        [
          '-v',
          process.execPath,
          '--import',
          'tsx',
          join(root, 'src/cli/main.ts'),
          'train',
          '--model',
          join(tmp, 'tiny'),
          '--data',
          data,
          '--out',
          join(tmp, 'out'),
          '--stop-after',
          '1',
          '--batch',
          '4',
          '--accum',
          '1',
          '--quiet',
        ],
        { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 },
      );
      expect(r.status, r.stderr).toBe(0);
      const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
      console.log(`peak RSS ${(kb / 1024).toFixed(0)} MiB for ${made.rows} rows, ${(made.bytes / 1e6).toFixed(0)} MB`);
      expect(kb * 1024).toBeLessThan(800e6);
      expect(r.stderr).toMatch(
        /note: 1 row\(s\) of .* are far longer than --max-length 384; only their first part was tokenized/,
      );
      expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ steps: 1 });
    },
    1_800_000,
  );
});
