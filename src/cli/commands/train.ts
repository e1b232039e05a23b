// `train`: LoRA fine-tuning of a model folder on a dataset file, writing a PEFT adapter folder.
// Without hyperparameter flags a model with a preset trains with it (the built-in demo model its
// own, a catalog model such as Qwen2.5-0.5B-Instruct the seed's run); each flag overrides its
// setting. A model without one gets the seed's PyTorch run (r 8, alpha 32, dropout 0.1, all
// seven projections, batch 4 x accumulation 4, lr 1e-4, 8 epochs, max length 384).

import { copyFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DatasetError, formatIssue, WebtuneError } from '../../core/errors.ts';
import { type AdapterRunRecord, RUN_RECORD, runRecordText } from '../run-record.ts';
import { controlSettings, siblingsOf } from './train-add.ts';
import { loadSchema } from './build-data.ts';
import { buildExamples, DEFAULT_SYSTEM_PROMPT } from '../../data/examples.ts';
import { splitIndices } from '../../data/stream-examples.ts';
import { storeExamples } from '../../data/token-store.ts';
import type { EngineKind, LoraSettings } from '../../engine/engine.ts';
import { writePeftAdapter } from '../../export/peft.ts';
import { runIdentityOf, runTraining } from '../../train/loop.ts';
import { describeMismatch } from '../../train/fingerprint.ts';
import { Sha256 } from '../../io/sha256.ts';
import {
  DEFAULT_RECIPE,
  folderPreset,
  loraOf,
  stepCount,
  trainOf,
  type Preset,
  type Recipe,
} from '../../train/recipe.ts';
import { CATALOG } from '../../core/catalog.ts';
import { parseFlags, UsageError, type FlagSpec, type Flags } from '../args.ts';
import { parseTargets, recipeFromFlags, settingFlags } from '../setting-flags.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder, type ModelFolder } from '../model-folder.ts';
import { OutputError, StagedOutput } from '../output.ts';
import { checkTargetsAgainstInputs, sweepLeftovers } from '../output-guard.ts';
import { CHECKPOINT_FILE, prepareTrainOut, type TrainOut } from '../train-out.ts';
import type { ImportedAdapter } from '../../export/peft-import.ts';
import { NodeFolder } from '../node-sink.ts';
import { progressBar } from '../progress.ts';
import {
  ALLOW_CONTROL_FLAG,
  controlTextPolicy,
  ENGINE_FLAG,
  F16_FLAG,
  f16Options,
  QUANT_FLAG,
  QUIET_FLAG,
  SPLIT_FLAG,
  line,
  loadEngine,
  loadExamples,
  loadRows,
  splitRows,
  type CliIo,
} from './common.ts';
import type { Quantization } from '../../core/nf4.ts';

export const TRAIN_SUMMARY = 'fine-tune a model folder with LoRA on a dataset; writes a PEFT adapter folder';

export const TRAIN_FLAGS: Record<string, FlagSpec> = {
  model: {
    kind: 'string',
    required: true,
    help: 'Hugging Face model folder (config.json, model.safetensors, tokenizer.json)',
  },
  data: { kind: 'string', required: true, help: 'dataset: seed JSON/JSONL, Alpaca, chat or ShareGPT' },
  out: {
    kind: 'string',
    required: true,
    help: 'adapter folder to write (checked before training; holds the checkpoint while it runs)',
  },
  overwrite: { kind: 'bool', help: 'replace an adapter (or start over from a checkpoint) already in --out' },
  resume: { kind: 'bool', help: 'continue the checkpoint in --out exactly (same model, data and flags)' },
  adapter: {
    kind: 'string',
    help: 'PEFT adapter folder to continue training from (its r, alpha and targets are kept; fresh optimizer)',
  },
  engine: ENGINE_FLAG,
  f16: F16_FLAG,
  quant: QUANT_FLAG,
  // every training setting (epochs, lr, r, alpha, ...) from the settings spec, checked as the page checks it
  ...settingFlags(DEFAULT_RECIPE),
  system: { kind: 'string', help: `system prompt (default "${DEFAULT_SYSTEM_PROMPT}")` },
  'eval-fraction': SPLIT_FLAG,
  'allow-control-text': ALLOW_CONTROL_FLAG,
  'stop-after': {
    kind: 'int',
    min: 1,
    help: 'stop after this many optimizer steps (the schedule still spans all epochs)',
  },
  add: {
    kind: 'string',
    help: 'wrong evaluation rows (eval --wrong-out): each adds a new row from its template with other values, never itself (needs --schema)',
  },
  schema: { kind: 'string', help: 'tool schema whose templates make the --add rows' },
  control: {
    kind: 'bool',
    help: 'with --add: train on --data alone for the same optimizer steps (the control of the error loop)',
  },
  quiet: QUIET_FLAG,
};

/** A continued adapter keeps its shape: flags that would change it are refused, not ignored. */
function adapterLora(adapter: ImportedAdapter, f: Flags, recipe: Recipe): LoraSettings {
  const a = adapter.settings;
  const clash = (flag: string, mine: unknown, theirs: unknown) => {
    if (f[flag] !== undefined && JSON.stringify(mine) !== JSON.stringify(theirs))
      throw new UsageError(
        `train: --${flag} ${f[flag]} conflicts with --adapter, whose ${flag} is ${Array.isArray(theirs) ? theirs.join(',') : theirs}`,
      );
  };
  clash('r', f.r, a.r);
  clash('alpha', f.alpha, a.alpha);
  if (f.targets !== undefined) clash('targets', parseTargets('train', f.targets as string, a.targets), a.targets);
  return { ...a, dropout: f.dropout !== undefined ? recipe.dropout : a.dropout };
}

/**
 * Everything the flags ask for, checked: the recipe (each setting's range, and the engine's
 * limits such as WebGPU's largest rank) and the engine. What the page's form accepts this
 * accepts, and what it refuses this refuses (test/settings-spec.test.ts).
 */
export function trainRecipe(argv: string[]): { f: Flags; recipe: Recipe; engine: EngineKind } {
  const f = parseFlags('train', argv, TRAIN_FLAGS);
  const engine = (f.engine as EngineKind | undefined) ?? 'cpu';
  return { f, recipe: recipeFromFlags('train', f, DEFAULT_RECIPE, engine), engine };
}

export async function runTrain(argv: string[], io: CliIo): Promise<number> {
  const parsed = trainRecipe(argv);
  const { f, engine: engineKind } = parsed;
  let recipe = parsed.recipe;
  const t0 = performance.now();
  // The output folder is checked first: a bad --out costs a second, not the whole run; it is
  // never the model, the data or the adapter continued from (nor a folder holding them).
  await checkTargetsAgainstInputs(
    'train',
    [{ flag: '--out', path: f.out as string, kind: 'dir' }],
    [
      { flag: '--model', path: f.model as string },
      { flag: '--data', path: f.data as string },
      { flag: '--adapter', path: f.adapter as string | undefined },
    ],
  );
  await sweepLeftovers(dirname(resolve(f.out as string)));
  const out = await prepareTrainOut(f.out as string, { overwrite: Boolean(f.overwrite), resume: Boolean(f.resume) });
  const model = await openModelFolder(f.model as string);
  const adapter = f.adapter ? await openAdapterFolder(f.adapter as string, model.config) : null;
  // With no hyperparameter flags a model trains with its own preset (the built-in model's, the
  // seed's recipe for Qwen2.5-0.5B); each flag overrides its one setting, checked by the spec.
  const found = folderPreset(model.name, model.rawConfig, CATALOG);
  if (found) {
    line(io.stderr, `preset of ${found.model}: ${describePreset(found.preset)} (flags override)`);
    recipe = recipeFromFlags('train', f, { ...DEFAULT_RECIPE, ...found.preset }, engineKind);
  }
  const lora: LoraSettings = adapter ? adapterLora(adapter, f, recipe) : loraOf(recipe);
  // a continued adapter brings its own rank: the engine's limit holds for it as for --r
  if (adapter) recipeFromFlags('train', {}, { ...recipe, ...lora }, engineKind);
  const tok = await folderTokenizer(model);
  // The data is checked before the engine loads: a bad file costs nothing.
  const seed = recipe.seed;
  const system = (f.system as string) ?? DEFAULT_SYSTEM_PROMPT;
  const maxLength = recipe.maxLength;
  const allowControlText = Boolean(f['allow-control-text']);
  // Rows stream from the file into a token store: memory grows with the tokens, not the rows.
  const data = await loadExamples(f.data as string, tok, { system, maxLength, allowControlText }, io);
  const fraction = f['eval-fraction'] as number | undefined;
  if (fraction && data.store.count < 2)
    throw new DatasetError(f.data as string, [
      {
        message: `--eval-fraction ${fraction} needs at least 2 rows (one to train on, one to hold out); the file has ${data.store.count}`,
      },
    ]);
  const picked = splitIndices(data.store.count, fraction, seed, 'train');
  let keep = picked.filter((i) => data.store.labelTokens(i) > 0);
  const skipped = picked.filter((i) => data.store.labelTokens(i) === 0);
  const isJsonl = data.import.container === 'jsonl';
  if (skipped.length)
    line(
      io.stderr,
      `note: ${skipped.length} row(s) skipped: the prompt fills the max length ${maxLength}, so no answer token is left to learn (${[...skipped.subarray(0, 5)].map((i) => `${isJsonl ? 'line' : 'row'} ${data.origins[i]}`).join(', ')}${skipped.length > 5 ? ', ...' : ''})`,
    );
  // The error loop: new rows from the templates of wrong evaluation rows (never those rows).
  // The training rows are read again only here, to keep the new utterances unlike them.
  if ((f.add === undefined) !== (f.schema === undefined)) throw new UsageError('train: --add and --schema go together');
  if (f.control && !f.add)
    throw new UsageError('train: --control needs --add (it trains for the steps the added rows would take)');
  const added = f.add
    ? siblingsOf(
        await loadSchema(f.schema as string),
        await loadRows(f.add as string, io),
        splitRows(await loadRows(f.data as string), fraction, seed, 'train', f.data as string),
        f.add as string,
        seed,
      )
    : null;
  if (added) {
    for (const l of added.left) line(io.stderr, `note: ${f.add}: ${formatIssue(l)}; left out`);
    line(
      io.stderr,
      `${f.add}: ${added.rows.length} new row(s) from the templates of the wrong rows (never the rows themselves)${f.control ? '; --control: not trained on, only their steps' : ''}`,
    );
    if (!f.control) {
      const controlTokens = controlTextPolicy(tok, added.rows, f.add as string, allowControlText);
      const extra = buildExamples(tok, added.rows, { system, maxLength, controlTokens }).examples.map((e) =>
        data.store.add(e),
      );
      keep = Uint32Array.from([...keep, ...extra]);
    }
  }
  if (!keep.length) {
    let longest = 0;
    for (const i of skipped) longest = Math.max(longest, data.longPrompts.get(i) ?? 0);
    throw new DatasetError(f.data as string, [
      {
        message: `no row is left to train on: every prompt fills --max-length ${maxLength}, so no answer token remains; raise --max-length above ${longest} (the longest prompt)`,
      },
    ]);
  }
  const examples = storeExamples(data.store, keep);
  let cut = 0;
  for (const i of keep) if (data.store.truncated(i) > 0) cut++;
  if (cut)
    line(
      io.stderr,
      `note: ${cut} of ${examples.length} examples are longer than --max-length ${maxLength} and were cut`,
    );
  let settings = trainOf(recipe);
  if (added && f.control) settings = controlSettings(settings, examples.length, added.rows.length);
  const run = {
    train: examples,
    settings,
    padId: tok.endOfTextId,
    lora,
    modelKey: await folderModelKey(model),
    start: adapter ? { from: f.adapter as string, tensors: adapter.tensors } : undefined,
  };
  if (f.resume) await checkResumable(out, await runIdentityOf(run), f.out as string);
  let maxSeq = 0;
  for (const i of keep) maxSeq = Math.max(maxSeq, data.store.length(i));
  const { totalSteps, stepsPerEpoch } = stepCount(examples.length, settings);
  const stopAt = Math.min(totalSteps, (f['stop-after'] as number) ?? Infinity);
  const engine = await loadEngine(
    engineKind,
    model,
    lora,
    settings.batchSize,
    maxSeq,
    f.quant as Quantization | undefined,
    f16Options(f.f16),
    io,
  );
  await out.create().catch(async (e) => {
    await engine.dispose();
    throw e;
  });
  let savedAt: number | undefined;
  try {
    line(
      io.stderr,
      `training ${examples.length} examples, ${totalSteps} optimizer steps (${stepsPerEpoch} per epoch)${stopAt < totalSteps ? `, stopping after ${stopAt}` : ''}`,
    );
    const bar = progressBar('train', stopAt, io.stderr, Boolean(f.quiet));
    const outcome = await runTraining({
      ...run,
      engine,
      eval: [],
      checkpoints: out.checkpoints,
      resume: Boolean(f.resume),
      stopAfter: stopAt,
      throwErrors: true,
      onProgress: (p) => {
        if (p.checkpointedAt !== undefined) savedAt = p.checkpointedAt;
        if (p.resumedFrom !== undefined && p.step === p.resumedFrom && p.state === 'running')
          line(io.stderr, `resumed from the checkpoint at step ${p.resumedFrom}`);
        if (p.state === 'running' && p.step > 0)
          bar.update(p.step, `loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)}`);
      },
    });
    const losses = outcome.history.map((h) => h.loss);
    bar.finish(`loss ${losses[losses.length - 1].toFixed(4)}`);
    const record: AdapterRunRecord = {
      format: 'webtune-run-1',
      model: model.name,
      settings,
      lora,
      maxLength,
      system,
      data: f.data as string,
      examples: examples.length,
      steps: outcome.steps,
      ...(adapter ? { fromAdapter: f.adapter as string } : {}),
      ...(added ? { added: added.rows.length, control: Boolean(f.control) } : {}),
    };
    await writeTrainedAdapter(
      out.dir,
      outcome.state === 'done' ? undefined : out.checkpoints.path,
      model,
      lora,
      await engine.getLora(),
      record,
    );
    line(
      io.stderr,
      `adapter written to ${f.out}${outcome.state === 'done' ? '' : ` (with the checkpoint at step ${outcome.steps}: --resume continues it)`}`,
    );
    line(
      io.stdout,
      JSON.stringify({
        command: 'train',
        out: f.out,
        quant: (f.quant as Quantization | undefined) ?? 'none',
        ...(adapter ? { from_adapter: f.adapter } : {}),
        ...(outcome.resumedFrom !== undefined ? { resumed_from: outcome.resumedFrom } : {}),
        examples: examples.length,
        steps: outcome.steps,
        total_steps: totalSteps,
        ...(added ? { added: added.rows.length, control: Boolean(f.control) } : {}),
        first_loss: losses[0],
        last_loss: losses[losses.length - 1],
        seconds: +((performance.now() - t0) / 1000).toFixed(2),
      }),
    );
    return 0;
  } catch (e) {
    // Nothing after the last good checkpoint was saved: say where it is and how to go on.
    if (e instanceof WebtuneError)
      line(
        io.stderr,
        savedAt !== undefined
          ? `note: the last good checkpoint, step ${savedAt}, is kept in ${out.checkpoints.path}`
          : `note: no checkpoint was saved before this (one is written every --checkpoint-every ${settings.checkpointEvery} steps)`,
      );
    throw e;
  } finally {
    await engine.dispose();
  }
}

/** "lr 0.005, 12 epochs, batch 4 x 1, dropout 0" for the log line. */
export function describePreset(p: Preset): string {
  const extra = [
    p.r !== undefined ? `r ${p.r}` : '',
    p.alpha !== undefined ? `alpha ${p.alpha}` : '',
    p.schedule ? `${p.schedule} schedule` : '',
    p.warmupSteps !== undefined ? `warmup ${p.warmupSteps}` : '',
    p.maxLength !== undefined ? `max length ${p.maxLength}` : '',
  ].filter(Boolean);
  return [
    `lr ${p.lr}`,
    `${p.epochs} epochs`,
    `batch ${p.batchSize} x ${p.gradAccum}`,
    `dropout ${p.dropout}`,
    ...extra,
  ].join(', ');
}

/** The base weights' identity for a folder: its name, config and tensor table (names, dtypes, shapes, byte ranges). */
async function folderModelKey(m: ModelFolder): Promise<string> {
  const table = [...m.weights.tensors.values()].map((t) => [
    t.name,
    t.dtype,
    t.shape,
    t.file.split(/[\\/]/).pop(),
    t.start,
    t.end,
  ]);
  return `folder:${m.name}:${(await Sha256.create())
    .update(new TextEncoder().encode(JSON.stringify([m.rawConfig, table])))
    .hex()
    .slice(0, 32)}`;
}

/** --resume continues only the same run; otherwise it says what differs. */
async function checkResumable(
  out: TrainOut,
  now: Awaited<ReturnType<typeof runIdentityOf>>,
  shown: string,
): Promise<void> {
  const ck = await out.checkpoints.load();
  if (!ck || ck.meta.fingerprint === now.fingerprint) return;
  const why = ck.meta.identity
    ? describeMismatch(ck.meta.identity, now.identity)
    : ['it was saved by an older Webtune'];
  throw new OutputError(
    shown,
    `--resume: the checkpoint here is of another run (${why.join('; ')}); use the same model, data and flags, or --overwrite to start over`,
  );
}

/**
 * The finished adapter replaces the folder in one rename (the old folder moved aside first), so a
 * kill leaves the old folder or the new one. A stopped run keeps its checkpoint next to the adapter.
 */
async function writeTrainedAdapter(
  dir: string,
  keepCheckpoint: string | undefined,
  model: ModelFolder,
  lora: LoraSettings,
  tensors: Record<string, Float32Array>,
  record: AdapterRunRecord,
): Promise<void> {
  const staged = await StagedOutput.folder(dir, { overwrite: true });
  await staged.run(async (path) => {
    await writePeftAdapter(new NodeFolder(path), model.config, lora, tensors, model.name);
    await writeFile(join(path, RUN_RECORD), runRecordText(record));
    if (keepCheckpoint) await copyFile(keepCheckpoint, join(path, CHECKPOINT_FILE));
  });
}
