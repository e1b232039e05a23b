// `eval` without --limit holds what its outputs need, not the rows it scores (issue 23). A 40 MB
// JSON lines file (about 215k rows, each answered right, so no wrong answer is kept) is scored
// the way eval does now (streamed) and the way it did (all rows loaded, then scored), in a child
// process each (test/helpers/eval-stream-child.ts: the tiny model's tokenizer, an engine that
// answers at once). Oracle: both give the same report and eval_set; peak RSS by GNU time.
// Measured 2026-12-08 on the loaded 2-core machine (noisy): 215,652 rows, peak RSS streamed 158
// MiB, all rows held 451 MiB; 272 s for both. Slow: in test/full/.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const gnuTime = existsSync('/usr/bin/time');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-eval-mem-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function rightRows(path: string, bytes: number): Promise<number> {
  const w = createWriteStream(path);
  let written = 0,
    rows = 0;
  while (written < bytes) {
    const line =
      JSON.stringify({
        instruct: '请将以下会议语音指令转换为工具调用JSON：',
        input: `请在大会议室创建第${rows}次周例会，并通知所有参会人员准时参加`,
        output: 'ok',
      }) + '\n';
    written += Buffer.byteLength(line);
    rows++;
    if (!w.write(line)) await once(w, 'drain');
  }
  w.end();
  await once(w, 'finish');
  return rows;
}

const child = (data: string, mode: 'stream' | 'whole') =>
  spawnSync(
    '/usr/bin/time',
    [
      '-v',
      process.execPath,
      '--import',
      'tsx',
      join(root, 'test/helpers/eval-stream-child.ts'),
      join(root, 'public/models/tiny'),
      data,
      mode,
    ],
    { cwd: root, encoding: 'utf8' },
  );
const peakMiB = (stderr: string) => Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]) / 1024;

describe('eval scoring a 40 MB file', () => {
  // Under CI a missing GNU time must fail, not skip.
  it.skipIf(!gnuTime && !process.env.CI)(
    'streams: the same report as scoring all rows at once, within 200 MiB, at least 150 MiB under it',
    async () => {
      const data = join(tmp, 'right.jsonl');
      const rows = await rightRows(data, 40e6);
      const streamed = child(data, 'stream'),
        whole = child(data, 'whole');
      expect(streamed.status, streamed.stderr).toBe(0);
      expect(whole.status, whole.stderr).toBe(0);
      const s = JSON.parse(streamed.stdout),
        w = JSON.parse(whole.stdout);
      expect(s).toEqual(w);
      expect(s).toMatchObject({ rows, accuracy: 1, wrong: 0 });
      const [sm, wm] = [peakMiB(streamed.stderr), peakMiB(whole.stderr)];
      console.log(
        `eval of ${rows} rows (40 MB): peak RSS streamed ${sm.toFixed(0)} MiB, all rows held ${wm.toFixed(0)} MiB`,
      );
      expect(sm).toBeLessThan(200);
      expect(wm - sm).toBeGreaterThan(150);
    },
    1_200_000,
  );
});
