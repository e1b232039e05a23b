// `train`: LoRA fine-tuning of a model folder on a dataset file, writing a PEFT adapter folder.
// Without hyperparameter flags a model with a preset trains with it (the built-in demo model its
// own, a catalog model such as Qwen2.5-0.5B-Instruct the seed's run); each flag overrides its
// setting. A model without one gets the seed's PyTorch run (r 8, alpha 32, dropout 0.1, all
// seven projections, batch 4 x accumulation 4, lr 1e-4, 8 epochs, max length 384).

import { LORA_TARGETS, type LoraTarget } from '../../core/config.ts';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError, WebtuneError } from '../../core/errors.ts';
import { buildExamples, DEFAULT_MAX_LENGTH, DEFAULT_SYSTEM_PROMPT, describeSkipped } from '../../data/examples.ts';
import type { EngineKind } from '../../engine/create.ts';
import type { LoraSettings } from '../../engine/engine.ts';
import { writePeftAdapter } from '../../export/peft.ts';
import { runIdentityOf, runTraining } from '../../train/loop.ts';
import { describeMismatch } from '../../train/fingerprint.ts';
import { Sha256 } from '../../io/sha256.ts';
import { DEFAULT_LORA, DEFAULT_TRAIN, folderPreset, stepCount, type Preset, type TrainSettings } from '../../train/recipe.ts';
import { CATALOG } from '../../core/catalog.ts';
import { parseFlags, UsageError, type FlagSpec } from '../args.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder, type ModelFolder } from '../model-folder.ts';
import { OutputError, StagedOutput } from '../output.ts';
import { CHECKPOINT_FILE, prepareTrainOut, type TrainOut } from '../train-out.ts';
import type { ImportedAdapter } from '../../export/peft-import.ts';
import { NodeFolder } from '../node-sink.ts';
import { progressBar } from '../progress.ts';
import { ENGINE_FLAG, QUANT_FLAG, QUIET_FLAG, SPLIT_FLAG, line, loadEngine, loadRows, splitRows, type CliIo } from './common.ts';
import type { Quantization } from '../../core/nf4.ts';

export const TRAIN_SUMMARY = 'fine-tune a model folder with LoRA on a dataset; writes a PEFT adapter folder';

export const TRAIN_FLAGS: Record<string, FlagSpec> = {
  model: { kind: 'string', required: true, help: 'Hugging Face model folder (config.json, model.safetensors, tokenizer.json)' },
  data: { kind: 'string', required: true, help: 'dataset: seed JSON/JSONL, Alpaca, chat or ShareGPT' },
  out: { kind: 'string', required: true, help: 'adapter folder to write (checked before training; holds the checkpoint while it runs)' },
  overwrite: { kind: 'bool', help: 'replace an adapter (or start over from a checkpoint) already in --out' },
  resume: { kind: 'bool', help: 'continue the checkpoint in --out exactly (same model, data and flags)' },
  'checkpoint-every': { kind: 'int', min: 0, help: `save a checkpoint into --out every N optimizer steps (default ${DEFAULT_TRAIN.checkpointEvery}; 0: only at the end)` },
  adapter: { kind: 'string', help: 'PEFT adapter folder to continue training from (its r, alpha and targets are kept; fresh optimizer)' },
  engine: ENGINE_FLAG,
  quant: QUANT_FLAG,
  epochs: { kind: 'number', min: 0.001, help: `epochs (default: the model's preset, else ${DEFAULT_TRAIN.epochs})` },
  lr: { kind: 'number', min: 0, help: `peak learning rate (default: the model's preset, else ${DEFAULT_TRAIN.lr})` },
  schedule: { kind: 'choice', choices: ['linear', 'cosine', 'constant'], help: `learning-rate decay after warmup (default: the model's preset, else ${DEFAULT_TRAIN.schedule})` },
  warmup: { kind: 'int', min: 0, help: `warmup optimizer steps (default: the model's preset, else ${DEFAULT_TRAIN.warmupSteps})` },
  batch: { kind: 'int', min: 1, help: `rows per micro-batch (default: the model's preset, else ${DEFAULT_TRAIN.batchSize})` },
  accum: { kind: 'int', min: 1, help: `gradient accumulation steps (default: the model's preset, else ${DEFAULT_TRAIN.gradAccum})` },
  r: { kind: 'int', min: 1, help: `LoRA rank (default: the model's preset, else ${DEFAULT_LORA.r})` },
  alpha: { kind: 'number', above: 0, max: 65536, help: `LoRA alpha (default: the model's preset, else ${DEFAULT_LORA.alpha})` },
  dropout: { kind: 'number', min: 0, below: 1, help: `LoRA dropout (default: the model's preset, else ${DEFAULT_LORA.dropout})` },
  targets: { kind: 'string', help: 'comma-separated projections (default all seven)' },
  'max-length': { kind: 'int', min: 2, help: `longest example in tokens (default: the model's preset, else ${DEFAULT_MAX_LENGTH})` },
  seed: { kind: 'int', min: 0, help: `seed of the LoRA init, data order and dropout (default ${DEFAULT_TRAIN.seed})` },
  system: { kind: 'string', help: `system prompt (default "${DEFAULT_SYSTEM_PROMPT}")` },
  'eval-fraction': SPLIT_FLAG,
  'stop-after': { kind: 'int', min: 1, help: 'stop after this many optimizer steps (the schedule still spans all epochs)' },
  quiet: QUIET_FLAG,
};

function parseTargets(raw: string | undefined): LoraTarget[] {
  if (raw === undefined) return [...DEFAULT_LORA.targets];
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(LORA_TARGETS as readonly string[]).includes(n)) throw new UsageError(`train: --targets: "${n}" is not one of ${LORA_TARGETS.join(', ')}`);
  if (!names.length) throw new UsageError('train: --targets is empty');
  return LORA_TARGETS.filter((t) => names.includes(t));
}

/** A continued adapter keeps its shape: flags that would change it are refused, not ignored. */
function adapterLora(adapter: ImportedAdapter, f: Record<string, unknown>): LoraSettings {
  const a = adapter.settings;
  const clash = (flag: string, mine: unknown, theirs: unknown) => {
    if (f[flag] !== undefined && JSON.stringify(mine) !== JSON.stringify(theirs))
      throw new UsageError(`train: --${flag} ${f[flag]} conflicts with --adapter, whose ${flag} is ${Array.isArray(theirs) ? theirs.join(',') : theirs}`);
  };
  clash('r', f.r, a.r);
  clash('alpha', f.alpha, a.alpha);
  if (f.targets !== undefined) clash('targets', parseTargets(f.targets as string), a.targets);
  return { ...a, dropout: (f.dropout as number) ?? a.dropout };
}

export async function runTrain(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags('train', argv, TRAIN_FLAGS);
  const t0 = performance.now();
  // The output folder is checked first: a bad --out costs a second, not the whole run.
  const out = await prepareTrainOut(f.out as string, { overwrite: Boolean(f.overwrite), resume: Boolean(f.resume) });
  const model = await openModelFolder(f.model as string);
  const adapter = f.adapter ? await openAdapterFolder(f.adapter as string, model.config) : null;
  const found = folderPreset(model.name, model.rawConfig, CATALOG);
  const p: Partial<Preset> = found?.preset ?? {};
  if (found) line(io.stderr, `preset of ${found.model}: ${describePreset(found.preset)} (flags override)`);
  const lora: LoraSettings = adapter
    ? adapterLora(adapter, f)
    : {
        r: (f.r as number) ?? p.r ?? DEFAULT_LORA.r,
        alpha: (f.alpha as number) ?? p.alpha ?? DEFAULT_LORA.alpha,
        dropout: (f.dropout as number) ?? p.dropout ?? DEFAULT_LORA.dropout,
        targets: parseTargets(f.targets as string | undefined),
        rslora: false,
      };
  const tok = await folderTokenizer(model);
  // The data is checked before the engine loads: a bad file costs nothing.
  const seed = (f.seed as number) ?? DEFAULT_TRAIN.seed;
  const rows = splitRows(await loadRows(f.data as string, io), f['eval-fraction'] as number | undefined, seed, 'train', f.data as string);
  const system = (f.system as string) ?? DEFAULT_SYSTEM_PROMPT;
  const maxLength = (f['max-length'] as number) ?? p.maxLength ?? DEFAULT_MAX_LENGTH;
  const set = buildExamples(tok, rows, { system, maxLength });
  for (const note of describeSkipped(set, maxLength)) line(io.stderr, `note: ${note}`);
  if (!set.examples.length)
    throw new DatasetError(f.data as string, [{
      message: `no row is left to train on: every prompt fills --max-length ${maxLength}, so no answer token remains; raise --max-length above ${set.longestSkippedPrompt} (the longest prompt)`,
    }]);
  const examples = set.examples;
  const cut = examples.filter((e) => e.truncated > 0).length;
  if (cut) line(io.stderr, `note: ${cut} of ${examples.length} examples are longer than --max-length ${maxLength} and were cut`);
  const settings: TrainSettings = {
    ...DEFAULT_TRAIN,
    epochs: (f.epochs as number) ?? p.epochs ?? DEFAULT_TRAIN.epochs,
    lr: (f.lr as number) ?? p.lr ?? DEFAULT_TRAIN.lr,
    schedule: (f.schedule as TrainSettings['schedule']) ?? p.schedule ?? DEFAULT_TRAIN.schedule,
    warmupSteps: (f.warmup as number) ?? p.warmupSteps ?? DEFAULT_TRAIN.warmupSteps,
    batchSize: (f.batch as number) ?? p.batchSize ?? DEFAULT_TRAIN.batchSize,
    gradAccum: (f.accum as number) ?? p.gradAccum ?? DEFAULT_TRAIN.gradAccum,
    checkpointEvery: (f['checkpoint-every'] as number) ?? DEFAULT_TRAIN.checkpointEvery,
    seed,
  };
  const run = {
    train: examples, settings, padId: tok.endOfTextId, lora, modelKey: await folderModelKey(model),
    start: adapter ? { from: f.adapter as string, tensors: adapter.tensors } : undefined,
  };
  if (f.resume) await checkResumable(out, await runIdentityOf(run), f.out as string);
  const maxSeq = examples.reduce((m, e) => Math.max(m, e.ids.length), 0);
  const { totalSteps, stepsPerEpoch } = stepCount(examples.length, settings);
  const stopAt = Math.min(totalSteps, (f['stop-after'] as number) ?? Infinity);
  const engine = await loadEngine(((f.engine as EngineKind) ?? 'cpu'), model, lora, settings.batchSize, maxSeq, f.quant as Quantization | undefined);
  await out.create().catch(async (e) => {
    await engine.dispose();
    throw e;
  });
  let savedAt: number | undefined;
  try {
    line(io.stderr, `training ${examples.length} examples, ${totalSteps} optimizer steps (${stepsPerEpoch} per epoch)${stopAt < totalSteps ? `, stopping after ${stopAt}` : ''}`);
    const bar = progressBar('train', stopAt, io.stderr, Boolean(f.quiet));
    const outcome = await runTraining({
      ...run, engine, eval: [], checkpoints: out.checkpoints, resume: Boolean(f.resume), stopAfter: stopAt, throwErrors: true,
      onProgress: (p) => {
        if (p.checkpointedAt !== undefined) savedAt = p.checkpointedAt;
        if (p.resumedFrom !== undefined && p.step === p.resumedFrom && p.state === 'running') line(io.stderr, `resumed from the checkpoint at step ${p.resumedFrom}`);
        if (p.state === 'running' && p.step > 0) bar.update(p.step, `loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)}`);
      },
    });
    const losses = outcome.history.map((h) => h.loss);
    bar.finish(`loss ${losses[losses.length - 1].toFixed(4)}`);
    await writeTrainedAdapter(out.dir, outcome.state === 'done' ? undefined : out.checkpoints.path, model, lora, await engine.getLora());
    line(io.stderr, `adapter written to ${f.out}${outcome.state === 'done' ? '' : ` (with the checkpoint at step ${outcome.steps}: --resume continues it)`}`);
    line(io.stdout, JSON.stringify({
      command: 'train', out: f.out, quant: (f.quant as Quantization | undefined) ?? 'none', ...(adapter ? { from_adapter: f.adapter } : {}), ...(outcome.resumedFrom !== undefined ? { resumed_from: outcome.resumedFrom } : {}),
      examples: examples.length, steps: outcome.steps, total_steps: totalSteps,
      first_loss: losses[0], last_loss: losses[losses.length - 1], seconds: +((performance.now() - t0) / 1000).toFixed(2),
    }));
    return 0;
  } catch (e) {
    // Nothing after the last good checkpoint was saved: say where it is and how to go on.
    if (e instanceof WebtuneError)
      line(io.stderr, savedAt !== undefined
        ? `note: the last good checkpoint, step ${savedAt}, is kept in ${out.checkpoints.path}`
        : `note: no checkpoint was saved before this (one is written every --checkpoint-every ${settings.checkpointEvery} steps)`);
    throw e;
  } finally {
    await engine.dispose();
  }
}

/** "lr 0.005, 12 epochs, batch 4 x 1, dropout 0" for the log line. */
export function describePreset(p: Preset): string {
  const extra = [p.r !== undefined ? `r ${p.r}` : '', p.alpha !== undefined ? `alpha ${p.alpha}` : '', p.schedule ? `${p.schedule} schedule` : '',
    p.warmupSteps !== undefined ? `warmup ${p.warmupSteps}` : '', p.maxLength !== undefined ? `max length ${p.maxLength}` : ''].filter(Boolean);
  return [`lr ${p.lr}`, `${p.epochs} epochs`, `batch ${p.batchSize} x ${p.gradAccum}`, `dropout ${p.dropout}`, ...extra].join(', ');
}

/** The base weights' identity for a folder: its name, config and tensor table (names, dtypes, shapes, byte ranges). */
async function folderModelKey(m: ModelFolder): Promise<string> {
  const table = [...m.weights.tensors.values()].map((t) => [t.name, t.dtype, t.shape, t.file.split(/[\\/]/).pop(), t.start, t.end]);
  return `folder:${m.name}:${(await Sha256.create()).update(new TextEncoder().encode(JSON.stringify([m.rawConfig, table]))).hex().slice(0, 32)}`;
}

/** --resume continues only the same run; otherwise it says what differs. */
async function checkResumable(out: TrainOut, now: Awaited<ReturnType<typeof runIdentityOf>>, shown: string): Promise<void> {
  const ck = await out.checkpoints.load();
  if (!ck || ck.meta.fingerprint === now.fingerprint) return;
  const why = ck.meta.identity ? describeMismatch(ck.meta.identity, now.identity) : ['it was saved by an older Webtune'];
  throw new OutputError(shown, `--resume: the checkpoint here is of another run (${why.join('; ')}); use the same model, data and flags, or --overwrite to start over`);
}

/**
 * The finished adapter replaces the folder in one rename (the old folder moved aside first), so a
 * kill leaves the old folder or the new one. A stopped run keeps its checkpoint next to the adapter.
 */
async function writeTrainedAdapter(dir: string, keepCheckpoint: string | undefined, model: ModelFolder, lora: LoraSettings, tensors: Record<string, Float32Array>): Promise<void> {
  const staged = await StagedOutput.folder(dir, { overwrite: true });
  await staged.run(async (path) => {
    await writePeftAdapter(new NodeFolder(path), model.config, lora, tensors, model.name);
    if (keepCheckpoint) await copyFile(keepCheckpoint, join(path, CHECKPOINT_FILE));
  });
}
