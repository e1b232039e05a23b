// Where the CLI writes, and what survives when it is killed. `train --out` is checked before any
// work; every export is complete or absent; kill -9 of `train` at a random step and --resume
// end bitwise equal to an uninterrupted run; kill -9 during each export leaves the previous
// output or none. Oracles: uninterrupted runs and exports of the same inputs, compared byte for
// byte, and the folder listings themselves.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../helpers/tiny-models.ts';
import { cli } from '../helpers/cli.ts';
import { decodeCheckpoint } from '../../src/train/checkpoint.ts';

const root = new URL('../..', import.meta.url).pathname;
const sample = JSON.parse(readFileSync(join(root, 'public/samples/meeting-eval.json'), 'utf8')) as unknown[];
let tmp: string, tiny: string, small: string, data: string;

/** Every file of a folder (or the one file) as name -> bytes; null when absent. */
function snapshot(path: string): Record<string, string> | null {
  if (!existsSync(path)) return null;
  // A zip records when it was made: its entries are what must match.
  if (path.endsWith('.zip'))
    return Object.fromEntries(
      Object.entries(unzipSync(readFileSync(path))).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
  if (statSync(path).isFile()) return { '': readFileSync(path).toString('base64') };
  return Object.fromEntries(
    readdirSync(path)
      .sort()
      .map((f) => [f, readFileSync(join(path, f)).toString('base64')]),
  );
}

/** The CLI as its own process (tsx loaded in-process, so the pid is the writer's). */
function spawnCli(args: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the CLI and SIGKILLs it at the `nth` change `watched` sees, or lets it finish. Resolves when it is gone. */
function runAndKill(
  args: string[],
  watched: string,
  nth: number,
  match: (name: string) => boolean = () => true,
): Promise<{ killed: boolean; err: string }> {
  return new Promise((resolve) => {
    const child = spawnCli(args);
    let seen = 0,
      killed = false,
      err = '';
    child.stderr.on('data', (d) => (err += d));
    const w = watch(watched, (_event, name) => {
      if (killed || !name || !match(String(name))) return;
      if (++seen >= nth) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', () => {
      w.close();
      resolve({ killed, err });
    });
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-out-'));
  tiny = join(tmp, 'tiny');
  small = join(tmp, 'small');
  await makeTinyModel({ preset: 'tiny', out: tiny, seed: 3 });
  await makeTinyModel({ preset: 'small', out: small, seed: 4 });
  data = join(tmp, 'data.json');
  writeFileSync(data, JSON.stringify(sample.slice(0, 20)));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// A flag in `more` replaces the default here: the CLI refuses a flag given twice.
const trainArgs = (model: string, out: string, ...more: string[]) => {
  const defaults: [string, string][] = [
    ['--batch', '2'],
    ['--accum', '1'],
    ['--epochs', '2'],
    ['--lr', '5e-3'],
  ];
  return [
    'train',
    '--model',
    model,
    '--data',
    data,
    '--out',
    out,
    ...defaults.filter(([k]) => !more.includes(k)).flat(),
    '--quiet',
    ...more,
  ];
};

describe('train --out is checked before any work', () => {
  it('refuses a file, an unwritable place and /proc/foo at once, before the model loads', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const [out, why] of [
      [file, /is a file, not a folder/],
      ['/proc/foo', /cannot write in \/proc \(/],
      ['/sys/webtune-out', /cannot write in \/sys \(/],
      [join(file, 'sub'), /a-file is a file, not a folder/],
    ] as const) {
      const r = await cli(...trainArgs(join(tmp, 'no-such-model'), out));
      expect(r.code, out).toBe(2);
      expect(r.err, out).toMatch(why);
      // The model folder does not exist: had --out been checked later, that would be the error.
      expect(r.err, out).not.toMatch(/no-such-model/);
    }
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it("refuses someone else's folder, and a previous adapter or checkpoint without --overwrite / --resume", async () => {
    const foreign = join(tmp, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    for (const flags of [[], ['--overwrite']]) {
      const r = await cli(...trainArgs(tiny, foreign, ...flags));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/holds files that are not a Webtune adapter \(notes\.txt\)/);
    }
    expect(readdirSync(foreign)).toEqual(['notes.txt']);

    const prev = join(tmp, 'prev');
    expect((await cli(...trainArgs(tiny, prev, '--stop-after', '2'))).code).toBe(0);
    expect(readdirSync(prev).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'checkpoint.safetensors',
      'webtune_run.json',
    ]);
    const again = await cli(...trainArgs(tiny, prev));
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/holds the checkpoint of an unfinished run.*--resume.*--overwrite/);
    // --overwrite starts over and, done, leaves only the new adapter.
    const over = await cli(...trainArgs(tiny, prev, '--overwrite'));
    expect(over.code, over.err).toBe(0);
    expect(over.json()).toMatchObject({ steps: 20 });
    expect(readdirSync(prev).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'webtune_run.json']);
    const noCk = await cli(...trainArgs(tiny, prev, '--resume'));
    expect(noCk.err).toMatch(/--resume: there is no checkpoint\.safetensors/);
    const adapterThere = await cli(...trainArgs(tiny, prev));
    expect(adapterThere.err).toMatch(/holds an adapter \(adapter_config\.json\); pass --overwrite/);
  });

  it('--resume of another run says what differs', async () => {
    const out = join(tmp, 'other-run');
    expect((await cli(...trainArgs(tiny, out, '--stop-after', '1'))).code).toBe(0);
    const r = await cli(...trainArgs(tiny, out, '--resume', '--lr', '1e-3', '--seed', '7'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /other-run: --resume: the checkpoint here is of another run \(lr: 0\.005 in the checkpoint, 0\.001 now; seed: 42 in the checkpoint, 7 now\)/,
    );
  });
});

describe('kill -9', () => {
  it('of train at a random step, then --resume, gives the uninterrupted adapter bit for bit', async () => {
    const whole = join(tmp, 'whole');
    const ref = await cli(...trainArgs(tiny, whole, '--checkpoint-every', '1'));
    expect(ref.code, ref.err).toBe(0);
    const out = join(tmp, 'killed');
    const at = 2 + Math.floor(Math.random() * 15);
    // The folder is watched from the start, so it is made first; killed once the at-th checkpoint is in place.
    mkdirSync(out);
    const k = await runAndKill(
      trainArgs(tiny, out, '--checkpoint-every', '1'),
      out,
      at,
      (n) => n === 'checkpoint.safetensors',
    );
    expect(k.killed).toBe(true);
    const ck = await decodeCheckpoint(new Blob([readFileSync(join(out, 'checkpoint.safetensors'))]));
    expect(ck.meta.position.step).toBeGreaterThanOrEqual(at);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(false);
    const resumed = await cli(...trainArgs(tiny, out, '--checkpoint-every', '1', '--resume'));
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.json()).toMatchObject({
      resumed_from: ck.meta.position.step,
      steps: 20,
      last_loss: ref.json().last_loss,
    });
    expect(readFileSync(join(out, 'adapter_model.safetensors'))).toEqual(
      readFileSync(join(whole, 'adapter_model.safetensors')),
    );
    expect(readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'webtune_run.json']);
  });

  it('during each export leaves the previous complete output or none, never a mix', { timeout: 600_000 }, async () => {
    // Two different adapters of the small model: the previous output is A's, the killed export B's.
    const [a, b] = [join(tmp, 'ad-a'), join(tmp, 'ad-b')];
    for (const [dir, seed] of [
      [a, '1'],
      [b, '2'],
    ])
      expect((await cli(...trainArgs(small, dir, '--stop-after', '1', '--seed', seed))).code).toBe(0);
    for (const dir of [a, b]) await rm(join(dir, 'checkpoint.safetensors'));
    // The job zip holds the data and settings, not the weights: B's export also gets other rows.
    const dataB = join(tmp, 'data-b.json');
    writeFileSync(dataB, JSON.stringify(sample.slice(20, 40)));
    const exportArgs = (adapter: string, format: string, out: string) => [
      'export',
      '--model',
      small,
      '--adapter',
      adapter,
      '--format',
      format,
      '--out',
      out,
      '--data',
      adapter === b ? dataB : data,
      '--quiet',
      '--overwrite',
    ];
    for (const format of ['merged', 'peft', 'gguf', 'job']) {
      const name = format === 'gguf' ? 'x.gguf' : format === 'job' ? 'x.zip' : 'x';
      const dir = join(tmp, `exp-${format}`);
      mkdirSync(dir);
      const target = join(dir, name);
      const fresh = join(tmp, `fresh-${format}`);
      mkdirSync(fresh);
      expect((await cli(...exportArgs(b, format, join(fresh, name)))).code).toBe(0);
      const newer = snapshot(join(fresh, name));
      expect((await cli(...exportArgs(a, format, target))).code).toBe(0);
      const previous = snapshot(target);
      expect(previous).not.toEqual(newer);
      const outcomes = new Set<string>();
      // Killed at each change the writer makes beside the target: staging created, old moved aside, new moved in.
      for (let nth = 1; nth <= 4; nth++) {
        const k = await runAndKill(exportArgs(b, format, target), dir, nth);
        const now = snapshot(target);
        const what =
          now === null
            ? 'none'
            : JSON.stringify(now) === JSON.stringify(previous)
              ? 'previous'
              : JSON.stringify(now) === JSON.stringify(newer)
                ? 'new'
                : 'MIX';
        outcomes.add(what);
        expect(what, `${format}, killed at change ${nth} (${k.killed ? 'killed' : 'finished'})`).not.toBe('MIX');
        // The next run puts back or sweeps what the killed one left; then the previous output is restored for the next kill.
        expect((await cli(...exportArgs(a, format, target))).code).toBe(0);
        expect(snapshot(target)).toEqual(previous);
        expect(readdirSync(dir)).toEqual([name]);
      }
      expect(outcomes.has('previous') || outcomes.has('none'), `${format}: ${[...outcomes]}`).toBe(true);
    }
  });
});

describe('exports', () => {
  it("refuse a non-empty target without --overwrite, replace it whole with it, and never replace someone else's folder", async () => {
    const ad = join(tmp, 'ad-e');
    expect((await cli(...trainArgs(tiny, ad, '--stop-after', '1'))).code).toBe(0);
    await rm(join(ad, 'checkpoint.safetensors'));
    const out = join(tmp, 'merged-out');
    // A previous PEFT export in the folder: its adapter_config.json must not survive next to a merged model.
    await cp(ad, out, { recursive: true });
    const base = ['export', '--model', tiny, '--adapter', ad, '--format', 'merged', '--out', out, '--quiet'];
    const refused = await cli(...base);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(
      /is not empty \(adapter_config\.json, adapter_model\.safetensors, webtune_run\.json\); pass --overwrite/,
    );
    const r = await cli(...base, '--overwrite');
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const gguf = join(tmp, 'one.gguf');
    writeFileSync(gguf, 'old');
    const g = await cli('export', '--model', tiny, '--adapter', ad, '--format', 'gguf', '--out', gguf);
    expect(g.err).toMatch(/already exists; pass --overwrite/);
    expect(readFileSync(gguf, 'utf8')).toBe('old');
    const mine = join(tmp, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'thesis.tex'), 'years of work');
    const m = await cli('export', '--model', tiny, '--adapter', ad, '--format', 'peft', '--out', mine, '--overwrite');
    expect(m.err).toMatch(
      /holds files Webtune did not write \(thesis\.tex\); it is not replaced even with --overwrite/,
    );
    expect(readFileSync(join(mine, 'thesis.tex'), 'utf8')).toBe('years of work');
  });
});
