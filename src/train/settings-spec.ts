// The one table of training settings: each setting's type, range or choices, its CLI flag, its
// name in Hugging Face's LoraConfig / TrainingArguments and in the job's config.json. The page's
// form (ui/train/train-fields.ts), the CLI's flags (cli/commands/train.ts) and the job export
// (export/job.ts) are all made from it, and one function checks a typed value for both, so the
// page and the CLI accept and refuse exactly the same values (test/settings-spec.test.ts).
// Engine limits (the WebGPU kernels' largest LoRA rank) come from the memory plan's module.

import { LORA_TARGETS } from '../core/config.ts';
import type { EngineKind } from '../engine/engine.ts';
import { loraRankLimit } from '../engine/plan.ts';
import { BUILTIN_PRESET, DEFAULT_RECIPE, modelPreset, type Recipe } from './recipe.ts';

export const SCHEDULES = ['linear', 'cosine', 'constant'] as const;

export type NumericKey = { [K in keyof Recipe]: Recipe[K] extends number ? K : never }[keyof Recipe];

interface SettingBase {
  /** Where the job's config.json keeps it: its `lora` or `train` section. */
  group: 'lora' | 'train' | 'data';
  /** The CLI flag (`--flag`); absent: the CLI does not take it. */
  flag?: string;
  /** Whether the page's Train step shows it. */
  page: boolean;
  /** The Hugging Face name: LoraConfig.x or TrainingArguments.x (or the tokenizer's for max length). */
  hf: string;
  /** Its key in the job's config.json section (train.py reads it). */
  job?: string;
}

export interface NumberSetting extends SettingBase {
  key: NumericKey;
  type: 'int' | 'number';
  min: number;
  /** The value must be above min, not equal to it. */
  minOpen?: boolean;
  max: number;
  /** The value must be below max, not equal to it. */
  maxOpen?: boolean;
  /** The page's spinner step. */
  step: number | 'any';
  /** CLI help: what the setting is, in words. */
  help: string;
}

export interface ChoiceSetting extends SettingBase {
  key: 'schedule';
  type: 'choice';
  choices: readonly string[];
  help: string;
}

export interface OtherSetting extends SettingBase {
  key: 'targets' | 'rslora';
  type: 'list' | 'bool';
  choices?: readonly string[];
  help: string;
}

export type Setting = NumberSetting | ChoiceSetting | OtherSetting;

const num = (
  key: NumericKey,
  type: 'int' | 'number',
  range: Pick<NumberSetting, 'min' | 'max' | 'minOpen' | 'maxOpen' | 'step'>,
  rest: SettingBase & { help: string },
): NumberSetting => ({ key, type, ...range, ...rest });

/** Every setting, in the page's order. */
export const SETTINGS: readonly Setting[] = [
  num(
    'r',
    'int',
    { min: 1, max: 256, step: 1 },
    { group: 'lora', flag: 'r', page: true, hf: 'LoraConfig.r', job: 'r', help: 'LoRA rank' },
  ),
  num(
    'alpha',
    'number',
    { min: 0, minOpen: true, max: 4096, step: 'any' },
    {
      group: 'lora',
      flag: 'alpha',
      page: true,
      hf: 'LoraConfig.lora_alpha',
      job: 'alpha',
      help: 'LoRA alpha (the update is scaled by alpha / r)',
    },
  ),
  num(
    'dropout',
    'number',
    { min: 0, max: 1, maxOpen: true, step: 0.05 },
    { group: 'lora', flag: 'dropout', page: true, hf: 'LoraConfig.lora_dropout', job: 'dropout', help: 'LoRA dropout' },
  ),
  {
    key: 'targets',
    type: 'list',
    choices: LORA_TARGETS,
    group: 'lora',
    flag: 'targets',
    page: true,
    hf: 'LoraConfig.target_modules',
    job: 'target_modules',
    help: 'comma-separated projections (default all seven)',
  },
  {
    key: 'rslora',
    type: 'bool',
    group: 'lora',
    page: false,
    hf: 'LoraConfig.use_rslora',
    job: 'use_rslora',
    help: 'rsLoRA scaling alpha / sqrt(r)',
  },
  num(
    'epochs',
    'number',
    { min: 0, minOpen: true, max: 1000, step: 'any' },
    {
      group: 'train',
      flag: 'epochs',
      page: true,
      hf: 'TrainingArguments.num_train_epochs',
      job: 'epochs',
      help: 'epochs (a fraction trains part of the last one)',
    },
  ),
  num(
    'batchSize',
    'int',
    { min: 1, max: 256, step: 1 },
    {
      group: 'train',
      flag: 'batch',
      page: true,
      hf: 'TrainingArguments.per_device_train_batch_size',
      job: 'batch_size',
      help: 'rows per micro-batch',
    },
  ),
  num(
    'gradAccum',
    'int',
    { min: 1, max: 256, step: 1 },
    {
      group: 'train',
      flag: 'accum',
      page: true,
      hf: 'TrainingArguments.gradient_accumulation_steps',
      job: 'grad_accum',
      help: 'gradient accumulation steps',
    },
  ),
  // lr: a wildly high rate is not refused but stopped with advice once the updates explode (train/health.ts)
  num(
    'lr',
    'number',
    { min: 0, max: 1e9, step: 'any' },
    {
      group: 'train',
      flag: 'lr',
      page: true,
      hf: 'TrainingArguments.learning_rate',
      job: 'lr',
      help: 'peak learning rate',
    },
  ),
  {
    key: 'schedule',
    type: 'choice',
    choices: SCHEDULES,
    group: 'train',
    flag: 'schedule',
    page: true,
    hf: 'TrainingArguments.lr_scheduler_type',
    job: 'schedule',
    help: 'learning-rate decay after warmup',
  },
  num(
    'warmupSteps',
    'int',
    { min: 0, max: 1e6, step: 1 },
    {
      group: 'train',
      flag: 'warmup',
      page: true,
      hf: 'TrainingArguments.warmup_steps',
      job: 'warmup_steps',
      help: 'warmup optimizer steps',
    },
  ),
  num(
    'weightDecay',
    'number',
    { min: 0, max: 10, step: 'any' },
    {
      group: 'train',
      flag: 'weight-decay',
      page: true,
      hf: 'TrainingArguments.weight_decay',
      job: 'weight_decay',
      help: 'AdamW weight decay',
    },
  ),
  num(
    'maxGradNorm',
    'number',
    { min: 0, max: 1e6, step: 'any' },
    {
      group: 'train',
      flag: 'max-grad-norm',
      page: true,
      hf: 'TrainingArguments.max_grad_norm',
      job: 'max_grad_norm',
      help: 'gradient clipping norm (0: no clipping)',
    },
  ),
  num(
    'beta1',
    'number',
    { min: 0, max: 1, maxOpen: true, step: 'any' },
    { group: 'train', page: false, hf: 'TrainingArguments.adam_beta1', job: 'beta1', help: 'AdamW beta1' },
  ),
  num(
    'beta2',
    'number',
    { min: 0, max: 1, maxOpen: true, step: 'any' },
    { group: 'train', page: false, hf: 'TrainingArguments.adam_beta2', job: 'beta2', help: 'AdamW beta2' },
  ),
  num(
    'eps',
    'number',
    { min: 0, minOpen: true, max: 1, step: 'any' },
    { group: 'train', page: false, hf: 'TrainingArguments.adam_epsilon', job: 'eps', help: 'AdamW epsilon' },
  ),
  num(
    'seed',
    'int',
    { min: 0, max: 2 ** 31 - 1, step: 1 },
    {
      group: 'train',
      flag: 'seed',
      page: true,
      hf: 'TrainingArguments.seed',
      job: 'seed',
      help: 'seed of the LoRA init, data order and dropout',
    },
  ),
  num(
    'maxLength',
    'int',
    { min: 2, max: 32768, step: 1 },
    { group: 'data', flag: 'max-length', page: true, hf: 'tokenizer max_length', help: 'longest example in tokens' },
  ),
  num(
    'evalEvery',
    'int',
    { min: 0, max: 1e6, step: 1 },
    {
      group: 'train',
      page: true,
      hf: 'TrainingArguments.eval_steps',
      help: 'evaluate every N optimizer steps (0: only at the end)',
    },
  ),
  num(
    'checkpointEvery',
    'int',
    { min: 0, max: 1e6, step: 1 },
    {
      group: 'train',
      flag: 'checkpoint-every',
      page: true,
      hf: 'TrainingArguments.save_steps',
      help: 'save a checkpoint every N optimizer steps (0: only at the end)',
    },
  ),
];

export const NUMBER_SETTINGS: readonly NumberSetting[] = SETTINGS.filter(
  (s): s is NumberSetting => s.type === 'int' || s.type === 'number',
);

export const settingOf = (key: string): Setting | undefined => SETTINGS.find((s) => s.key === key);
export const numberSetting = (key: string): NumberSetting | undefined => NUMBER_SETTINGS.find((s) => s.key === key);

/** Why a typed value is refused, in codes the page and the CLI each put in their own words. */
export type SettingProblem =
  | { code: 'empty' }
  | { code: 'number' }
  | { code: 'integer' }
  /** side: which bound the value crossed ('both' for a value that is no number of the kind). */
  | { code: 'range'; min: number; max: number; minOpen: boolean; maxOpen: boolean; side: 'min' | 'max' | 'both' }
  | { code: 'engine'; engine: EngineKind; max: number };

/** What an engine can run: the largest value of a setting its kernels take (the memory plan's module says). */
export function engineLimit(s: NumberSetting, engine: EngineKind | undefined): number | undefined {
  if (s.key === 'r' && engine) {
    const max = loraRankLimit(engine);
    return Number.isFinite(max) ? max : undefined;
  }
  return undefined;
}

// A plain decimal or scientific number: no hex, no "Infinity", no thousands separators.
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** The one check of a typed value: the number it is, or every problem with it (the engine's limit last). */
export function checkSetting(
  s: NumberSetting,
  raw: string,
  engine?: EngineKind,
): { value: number } | { problems: SettingProblem[] } {
  const text = raw.trim();
  const range = (side: 'min' | 'max' | 'both'): SettingProblem => ({
    code: 'range',
    min: s.min,
    max: s.max,
    minOpen: Boolean(s.minOpen),
    maxOpen: Boolean(s.maxOpen),
    side,
  });
  if (text === '') return { problems: [{ code: 'empty' }, range('both')] };
  if (!NUMBER.test(text)) return { problems: [{ code: 'number' }, range('both')] };
  const v = Number(text);
  const problems: SettingProblem[] = [];
  if (s.type === 'int' && !Number.isInteger(v)) problems.push({ code: 'integer' });
  const below = s.minOpen ? v <= s.min : v < s.min;
  const above = s.maxOpen ? v >= s.max : v > s.max;
  if (below || above || problems.length) problems.push(range(below ? 'min' : above ? 'max' : 'both'));
  const limit = engineLimit(s, engine);
  if (!problems.length && limit !== undefined && v > limit)
    problems.push({ code: 'engine', engine: engine!, max: limit });
  return problems.length ? { problems } : { value: v };
}

/** The allowed range in words, as the CLI says it. */
export function rangeText(p: Extract<SettingProblem, { code: 'range' }>): string {
  const low = `${p.minOpen ? 'above' : 'at least'} ${p.min}`,
    high = `${p.maxOpen ? 'below' : 'at most'} ${p.max}`;
  return p.side === 'min'
    ? `${low} (up to ${p.max})`
    : p.side === 'max'
      ? `${high} (from ${p.min})`
      : `${low} and ${high}`;
}

/** A problem in the CLI's words (the page has its own in ui/shared/messages-app.ts). */
export function problemText(p: SettingProblem): string {
  switch (p.code) {
    case 'empty':
      return 'needs a number';
    case 'number':
      return 'must be a number';
    case 'integer':
      return 'must be a whole number';
    case 'range':
      return `must be ${rangeText(p)}`;
    case 'engine':
      return `must be at most ${p.max} on the ${p.engine === 'webgpu' ? 'WebGPU' : 'CPU'} engine (its kernels take no more)`;
  }
}

/** Every problem of a whole recipe on an engine (what Start and the CLI check before loading). */
export function recipeProblems(r: Recipe, engine?: EngineKind): { key: NumericKey; problems: SettingProblem[] }[] {
  const out: { key: NumericKey; problems: SettingProblem[] }[] = [];
  for (const s of NUMBER_SETTINGS) {
    const c = checkSetting(s, String(r[s.key]), engine);
    if ('problems' in c) out.push({ key: s.key, problems: c.problems });
  }
  return out;
}

/** The defaults of a model: the recipe's, with the catalog preset of a repo id or the built-in model's. */
export function defaultsForModel(model: { builtin: true } | { repo: string }): Recipe {
  const preset = 'builtin' in model ? BUILTIN_PRESET : modelPreset(model.repo);
  return { ...DEFAULT_RECIPE, targets: [...DEFAULT_RECIPE.targets], ...preset };
}
