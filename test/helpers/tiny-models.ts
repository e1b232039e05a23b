// makeTinyModel for tests, built once per run: the first call for a preset and seed writes the
// folder into the run's model cache ($WEBTUNE_TEST_MODELS, test/helpers/global-setup.ts), later
// calls (any file, any worker) copy it. The folder is the same bytes either way; test/tiny-model
// tests the generator itself and calls scripts/make-tiny-model.ts directly.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyModel as build, type MadeModel, type MakeTinyModelOptions } from '../../scripts/make-tiny-model.ts';

export async function makeTinyModel(opts: MakeTinyModelOptions): Promise<MadeModel> {
  const cache = process.env.WEBTUNE_TEST_MODELS;
  if (!cache || opts.ifMissing || opts.qwenTokenizerPath) return build(opts);
  const key = join(cache, `${opts.preset}-${opts.seed ?? 'default'}`);
  if (!existsSync(join(key, 'made.json'))) {
    // Built beside and renamed into place, so a worker never copies a half-written folder.
    const tmp = `${key}.${process.pid}.${Date.now()}`;
    const made = await build({ ...opts, out: tmp });
    writeFileSync(join(tmp, 'made.json'), JSON.stringify(made));
    try {
      renameSync(tmp, key);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another worker got there first: same bytes
    }
  }
  mkdirSync(opts.out, { recursive: true });
  cpSync(key, opts.out, { recursive: true, filter: (src) => !src.endsWith('made.json') });
  const made = JSON.parse(readFileSync(join(key, 'made.json'), 'utf8')) as MadeModel;
  return { ...made, dir: opts.out };
}
