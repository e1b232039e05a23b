// The training recipe: every setting of a LoRA fine-tune and its default, in one place. The
// defaults are the seed's PyTorch + PEFT + HF Trainer run (r 8, alpha 32, dropout 0.1, all seven
// projections, batch 4 x accumulation 4, lr 1e-4, 8 epochs, max length 384). The page's form,
// the worker API, the CLI and the job export all use these shapes, so a setting such as `lr`
// travels from the Train step to engine.step in one type, and the number of optimizer steps is
// counted by one function.

import { LORA_TARGETS } from '../core/config.ts';
import type { LoraSettings } from '../engine/engine.ts';
import type { OptimizerSettings } from '../engine/ops.ts';
import { DEFAULT_MAX_LENGTH } from '../data/examples.ts';

export type LrSchedule = 'linear' | 'cosine' | 'constant';

/** How a run trains. The optimizer fields (betas, eps, weight decay, clipping) are AdamW's. */
export interface TrainSettings extends OptimizerSettings {
  epochs: number;
  /** Examples per micro-batch. */
  batchSize: number;
  gradAccum: number;
  /** Peak learning rate; the schedule scales it per optimizer step. */
  lr: number;
  schedule: LrSchedule;
  warmupSteps: number;
  /** Seeds the LoRA init, the data order and the dropout masks. */
  seed: number;
  /** Evaluate on the eval set every N optimizer steps (0: only at the end). */
  evalEvery: number;
  /** Save a checkpoint every N optimizer steps (0: only on pause/stop). */
  checkpointEvery: number;
}

/** Everything the Train step sets: the LoRA shape, how to train, and the longest example. */
export interface Recipe extends LoraSettings, TrainSettings {
  /** Tokens per example; longer ones are cut. */
  maxLength: number;
}

export const DEFAULT_LORA: LoraSettings = { r: 8, alpha: 32, dropout: 0.1, targets: [...LORA_TARGETS], rslora: false };

export const DEFAULT_OPTIMIZER: OptimizerSettings = {
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1,
};

export const DEFAULT_TRAIN: TrainSettings = {
  ...DEFAULT_OPTIMIZER,
  epochs: 8,
  batchSize: 4,
  gradAccum: 4,
  lr: 1e-4,
  schedule: 'linear',
  warmupSteps: 0,
  seed: 42,
  evalEvery: 0,
  checkpointEvery: 10,
};

export const DEFAULT_RECIPE: Recipe = { ...DEFAULT_LORA, ...DEFAULT_TRAIN, maxLength: DEFAULT_MAX_LENGTH };

/** A fresh copy of the defaults (the targets array is not shared). */
export function defaultRecipe(): Recipe {
  return { ...DEFAULT_RECIPE, targets: [...DEFAULT_RECIPE.targets] };
}

/** The LoRA part of a recipe, and nothing else (what the engine is loaded with). */
export function loraOf(r: LoraSettings): LoraSettings {
  return { r: r.r, alpha: r.alpha, dropout: r.dropout, targets: [...r.targets], rslora: r.rslora };
}

/** The training part of a recipe, and nothing else (what the trainer and the worker take). */
export function trainOf(r: TrainSettings): TrainSettings {
  return {
    epochs: r.epochs,
    batchSize: r.batchSize,
    gradAccum: r.gradAccum,
    lr: r.lr,
    schedule: r.schedule,
    warmupSteps: r.warmupSteps,
    beta1: r.beta1,
    beta2: r.beta2,
    eps: r.eps,
    weightDecay: r.weightDecay,
    maxGradNorm: r.maxGradNorm,
    seed: r.seed,
    evalEvery: r.evalEvery,
    checkpointEvery: r.checkpointEvery,
  };
}

export interface StepCount {
  microPerEpoch: number;
  stepsPerEpoch: number;
  totalSteps: number;
}

/**
 * Optimizer steps of a run, as the HF Trainer counts them: a partial last batch and a partial
 * last accumulation group still count, and a fractional epoch count rounds the total up.
 */
export function stepCount(rows: number, s: Pick<TrainSettings, 'batchSize' | 'gradAccum' | 'epochs'>): StepCount {
  const microPerEpoch = Math.ceil(rows / s.batchSize);
  const stepsPerEpoch = Math.ceil(microPerEpoch / s.gradAccum);
  return { microPerEpoch, stepsPerEpoch, totalSteps: Math.ceil(s.epochs * stepsPerEpoch) };
}

/**
 * What a preset sets: the learning rate, how long, the dropout and the batch split; a model
 * that needs them also brings its LoRA rank and alpha, schedule, warmup and max length.
 */
export type Preset = Pick<Recipe, 'lr' | 'epochs' | 'dropout' | 'batchSize' | 'gradAccum'> &
  Partial<Pick<Recipe, 'r' | 'alpha' | 'schedule' | 'warmupSteps' | 'maxLength'>>;

const SEED_RUN = { lr: DEFAULT_TRAIN.lr, epochs: DEFAULT_TRAIN.epochs, dropout: DEFAULT_LORA.dropout };

/**
 * Starting points for the catalog's models, applied when one is chosen. Qwen2.5-0.5B's is the
 * seed's run. The others keep its learning rate, epochs, LoRA shape and effective batch of 16
 * (the seed found the same recipe works on Qwen3-4B-Instruct-2507); only the split into
 * micro-batches changes, so a bigger model's activations fit (one optimizer step minimizes the
 * same mean token loss over its 16 examples either way).
 */
export const MODEL_PRESETS: Readonly<Record<string, Preset>> = {
  'Qwen/Qwen2.5-0.5B-Instruct': { ...SEED_RUN, batchSize: 4, gradAccum: 4 },
  'Qwen/Qwen2.5-1.5B-Instruct': { ...SEED_RUN, batchSize: 2, gradAccum: 8 },
  'Qwen/Qwen3-0.6B': { ...SEED_RUN, batchSize: 4, gradAccum: 4 },
  'Qwen/Qwen3-1.7B': { ...SEED_RUN, batchSize: 2, gradAccum: 8 },
  'Qwen/Qwen3-4B-Instruct-2507': { ...SEED_RUN, batchSize: 1, gradAccum: 16 },
};

/** config.json's `_name_or_path` in public/models/demo, written by scripts/demo/pretrain.py. */
export const DEMO_MODEL_NAME = 'webtune/demo';

/**
 * The page's built-in model's preset, which `train` also gives a folder of the demo model
 * (scripts/demo/). The built-in tiny model is random: the seed's lr 1e-4 for 8 epochs moves it
 * nowhere (0% exact, every answer invalid JSON). A 50x larger step, 12 epochs and one optimizer
 * step per micro-batch of 4 (600 steps on the 200 sample rows), without dropout, take it to
 * 30-50% exact match on the sample eval rows in about a minute of CPU (BENCHMARKS.md, "tiny
 * preset"); the demo model's checkpoints were measured with it too ("demo model").
 */
export const BUILTIN_PRESET: Preset = { lr: 5e-3, epochs: 12, dropout: 0, batchSize: 4, gradAccum: 1 };

/** The preset of a repo id (case-insensitive), or undefined for a model without one. */
export function modelPreset(repo: string): Preset | undefined {
  const key = Object.keys(MODEL_PRESETS).find((k) => k.toLowerCase() === repo.trim().toLowerCase());
  return key ? { ...MODEL_PRESETS[key] } : undefined;
}

/** The named model a folder holds, and its preset: the demo model or a catalog model, by name or by shape. */
export interface FolderPreset {
  model: string;
  preset: Preset;
}

const SHAPE_FIELDS = [
  'model_type',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'vocab_size',
];

/**
 * A model folder's preset: `_name_or_path` names the demo model or a catalog repo; otherwise the
 * folder's name is a catalog repo's last part ("Qwen2.5-0.5B-Instruct"), or its config has a
 * catalog model's shape (a download's folder keeps the hub's config.json). Undefined otherwise.
 */
export function folderPreset(
  folderName: string,
  rawConfig: Record<string, unknown>,
  catalog: readonly { repo: string; config: Record<string, unknown> }[],
): FolderPreset | undefined {
  const named = typeof rawConfig._name_or_path === 'string' ? rawConfig._name_or_path.trim() : '';
  if (named.toLowerCase() === DEMO_MODEL_NAME) return { model: DEMO_MODEL_NAME, preset: { ...BUILTIN_PRESET } };
  for (const n of [named, folderName]) {
    const repo = Object.keys(MODEL_PRESETS).find(
      (k) => k.toLowerCase() === n.toLowerCase() || k.split('/')[1].toLowerCase() === n.toLowerCase(),
    );
    if (n && repo) return { model: repo, preset: { ...MODEL_PRESETS[repo] } };
  }
  const shaped = catalog.find(
    (m) => m.repo in MODEL_PRESETS && SHAPE_FIELDS.every((f) => m.config[f] === rawConfig[f]),
  );
  return shaped ? { model: shaped.repo, preset: { ...MODEL_PRESETS[shaped.repo] } } : undefined;
}
