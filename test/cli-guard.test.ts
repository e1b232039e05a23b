// The output guard (src/cli/output-guard.ts): no command that writes may write over one of its
// own inputs (compared by real path and inode: symlinks and hard links included), two of its
// targets may not be one file, a target is checked before any work, partial files go on failure
// and leftovers of dead writers go at the next start. Plus the CLI's exit codes (README: 2 bad
// arguments, 3 bad data) and repeated single-value flags. Oracles: the files' bytes before and
// after, folder listings, and the exit codes the README documents.
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { cli } from './helpers/cli.ts';

const root = new URL('..', import.meta.url).pathname;
const sample = JSON.parse(readFileSync(join(root, 'public/samples/meeting-eval.json'), 'utf8')) as unknown[];
let tmp: string, tiny: string, data: string, schema: string, adapter: string;

/** Every file under a path as name -> bytes (base64), to compare before and after. */
function bytes(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  try {
    return Object.fromEntries(
      readdirSync(path)
        .sort()
        .map((f) => [f, readFileSync(join(path, f)).toString('base64')]),
    );
  } catch {
    return { '': readFileSync(path).toString('base64') };
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-guard-'));
  tiny = join(tmp, 'tiny');
  await makeTinyModel({ preset: 'tiny', out: tiny, seed: 3 });
  data = join(tmp, 'data.json');
  writeFileSync(data, JSON.stringify(sample.slice(0, 4)));
  schema = join(tmp, 'schema.json');
  writeFileSync(schema, readFileSync(join(root, 'public/samples/meeting-schema.json')));
  adapter = join(tmp, 'adapter');
  const t = await cli(
    'train',
    '--model',
    tiny,
    '--data',
    data,
    '--out',
    adapter,
    '--batch',
    '2',
    '--accum',
    '1',
    '--epochs',
    '1',
    '--stop-after',
    '1',
    '--checkpoint-every',
    '0',
    '--quiet',
  );
  expect(t.code, t.err).toBe(0);
}, 120_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('a command never writes over its own inputs', () => {
  it('eval --predictions onto its own data is refused (exit 2) and leaves the data as it was, also through a symlink or a hard link', async () => {
    const before = bytes(data);
    const sym = join(tmp, 'sym.json'),
      hard = join(tmp, 'hard.json');
    symlinkSync(data, sym);
    linkSync(data, hard);
    for (const target of [data, sym, hard, join(tmp, '.', 'x', '..', 'data.json')]) {
      const r = await cli('eval', '--model', tiny, '--data', data, '--predictions', target, '--overwrite', '--quiet');
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(/--predictions is --data \(.*\), which this command reads; it is never written over/);
      expect(bytes(data)).toEqual(before);
    }
    // The dataset given as the link, the target as the file: the same inode.
    const r = await cli('eval', '--model', tiny, '--data', hard, '--predictions', data, '--overwrite', '--quiet');
    expect(r.code).toBe(2);
    expect(bytes(data)).toEqual(before);
  });

  it('build-data --out onto its own schema, and --out equal to --eval-out, are refused and change nothing', async () => {
    const before = bytes(schema);
    const r = await cli('build-data', '--schema', schema, '--per-tool', '2', '--out', schema, '--overwrite');
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/--out is --schema \(.*schema\.json\), which this command reads/);
    expect(bytes(schema)).toEqual(before);
    const same = join(tmp, 'rows.json');
    const s = await cli(
      'build-data',
      '--schema',
      schema,
      '--per-tool',
      '2',
      '--out',
      same,
      '--eval-out',
      same,
      '--eval-per-tool',
      '1',
    );
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/--eval-out and --out name the same place/);
    expect(existsSync(same)).toBe(false);
    // Both written, or neither: a fine run writes both, and leaves no partial file.
    const ok = await cli(
      'build-data',
      '--schema',
      schema,
      '--per-tool',
      '2',
      '--out',
      same,
      '--eval-out',
      join(tmp, 'held.json'),
      '--eval-per-tool',
      '1',
    );
    expect(ok.code, ok.err).toBe(0);
    expect(readdirSync(tmp).filter((n) => n.includes('.partial-'))).toEqual([]);
    // An existing --out file is replaced only with --overwrite.
    const again = await cli('build-data', '--schema', schema, '--per-tool', '2', '--out', same);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already exists; pass --overwrite/);
  });

  it('export --overwrite never takes the dataset, the model folder or its weights as --out', async () => {
    const model = bytes(tiny),
      rows = bytes(data),
      ad = bytes(adapter);
    const cases: [string[], RegExp][] = [
      [['--format', 'job', '--data', data, '--out', data], /--out is --data/],
      [['--format', 'merged', '--out', tiny], /--out is --model/],
      [
        ['--format', 'gguf', '--out', join(tiny, 'model.safetensors')],
        /--out is .*model\.safetensors, a file of --model/,
      ],
      [['--format', 'peft', '--out', adapter], /--out is --adapter/],
      [['--format', 'peft', '--out', tmp], /--out holds .* which this command reads; it is never replaced/],
    ];
    for (const [more, why] of cases) {
      const r = await cli('export', '--model', tiny, '--adapter', adapter, '--overwrite', '--quiet', ...more);
      expect(r.code, more.join(' ')).toBe(2);
      expect(r.err, more.join(' ')).toMatch(why);
    }
    expect(bytes(tiny)).toEqual(model);
    expect(bytes(data)).toEqual(rows);
    expect(bytes(adapter)).toEqual(ad);
  });

  it('train --out may not be the model, the adapter it continues, or a folder holding the data', async () => {
    for (const [out, more] of [
      [tiny, []],
      [adapter, ['--adapter', adapter]],
      [tmp, []],
    ] as const) {
      const r = await cli('train', '--model', tiny, '--data', data, '--out', out, '--overwrite', '--quiet', ...more);
      expect(r.code, out).toBe(2);
      expect(r.err, out).toMatch(/which this command reads/);
    }
  });

  it('golden --dump onto a file of its own case is refused', async () => {
    // A real case: without the guard the replay runs and the dump replaces what it checks against.
    const c = join(tmp, 'case');
    cpSync(join(root, 'test/fixtures/golden/tiny-f32'), c, { recursive: true });
    const before = bytes(c);
    const r = await cli('golden', c, '--dump', join(c, 'expected.safetensors'), '--overwrite');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--dump is .*expected\.safetensors, a file of <case-dir>/);
    expect(bytes(c)).toEqual(before);
  });
});

describe('targets are checked before any work, and nothing partial stays', () => {
  it('an unwritable --predictions fails at once, before the model is even opened', async () => {
    const r = await cli(
      'eval',
      '--model',
      join(tmp, 'no-such-model'),
      '--data',
      data,
      '--predictions',
      '/proc/webtune-pred.jsonl',
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot write in \/proc/);
    expect(r.err).not.toMatch(/no-such-model/);
  });

  it('a command failing after the check leaves no partial file; leftovers of dead writers are swept at the next start', async () => {
    const dir = join(tmp, 'sweep');
    mkdirSync(dir);
    const pred = join(dir, 'pred.jsonl');
    const failed = await cli('eval', '--model', join(tmp, 'no-such-model'), '--data', data, '--predictions', pred);
    expect(failed.code).toBe(3);
    expect(readdirSync(dir)).toEqual([]);
    // A killed writer (pid 999999999 is never alive) left a staging folder for another target.
    mkdirSync(join(dir, '.other-export.partial-999999999'));
    writeFileSync(join(dir, '.other-export.partial-999999999', 'model.safetensors'), new Uint8Array(1000));
    writeFileSync(join(dir, '.rows.json.partial-999999999'), 'half');
    // A live writer's staging (this process) is left alone.
    writeFileSync(join(dir, `.live.json.partial-${process.pid}`), 'busy');
    const r = await cli('build-data', '--schema', schema, '--per-tool', '1', '--out', join(dir, 'new.json'));
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([`.live.json.partial-${process.pid}`, 'new.json']);
  });
});

describe('exit codes as the README documents them', () => {
  it('2 for a repeated single-value flag, naming both values', async () => {
    const r = await cli('eval', '--model', tiny, '--data', data, '--data', schema);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--data is given 2 times \(".*data\.json", ".*schema\.json"\); it takes one value/);
    expect(
      (await cli('train', '--model', tiny, '--data', data, '--out', join(tmp, 'x'), '--lr', '1', '--lr=2')).code,
    ).toBe(2);
  });

  it('3 for a missing or damaged model or adapter, 2 for a bad --out', async () => {
    expect((await cli('eval', '--model', join(tmp, 'none'), '--data', data)).code).toBe(3);
    const broken = join(tmp, 'broken-adapter');
    mkdirSync(broken);
    writeFileSync(join(broken, 'adapter_config.json'), '{');
    writeFileSync(join(broken, 'adapter_model.safetensors'), 'x');
    const a = await cli('eval', '--model', tiny, '--adapter', broken, '--data', data, '--quiet');
    expect(a.code, a.err).toBe(3);
    expect(a.err).toMatch(/AdapterError/);
    writeFileSync(join(tmp, 'a-file'), 'x');
    expect((await cli('train', '--model', tiny, '--data', data, '--out', join(tmp, 'a-file'))).code).toBe(2);
  });
});
