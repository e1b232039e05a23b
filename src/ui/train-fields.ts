// The Train step's numeric settings: each field's allowed range and how a typed value is checked.
// A value outside its range never reaches the recipe: it stays on screen with its error, and
// Start stays off naming the fields to fix (the controller keeps the errors in the state).

import { BUILTIN_PRESET, defaultRecipe, modelPreset, type Preset, type Recipe } from '../train/recipe.ts';
import type { MessageKey, Params } from './i18n.ts';

export type NumericField = { [K in keyof Recipe]: Recipe[K] extends number ? K : never }[keyof Recipe];

export interface FieldSpec {
  key: NumericField;
  label: MessageKey;
  help: MessageKey;
  min: number;
  max?: number;
  step: number | 'any';
  integer: boolean;
}

export const FIELDS: FieldSpec[] = [
  { key: 'r', label: 'train.r', help: 'train.r.help', min: 1, max: 256, step: 1, integer: true },
  { key: 'alpha', label: 'train.alpha', help: 'train.alpha.help', min: 0.01, max: 4096, step: 'any', integer: false },
  { key: 'dropout', label: 'train.dropout', help: 'train.dropout.help', min: 0, max: 0.9, step: 0.05, integer: false },
  { key: 'batchSize', label: 'train.batch', help: 'train.batch.help', min: 1, max: 256, step: 1, integer: true },
  { key: 'gradAccum', label: 'train.accum', help: 'train.accum.help', min: 1, max: 256, step: 1, integer: true },
  { key: 'lr', label: 'train.lr', help: 'train.lr.help', min: 1e-7, max: 1, step: 'any', integer: false },
  { key: 'epochs', label: 'train.epochs', help: 'train.epochs.help', min: 1, max: 1000, step: 1, integer: true },
  { key: 'maxLength', label: 'train.maxLength', help: 'train.maxLength.help', min: 8, max: 32768, step: 1, integer: true },
  { key: 'warmupSteps', label: 'train.warmup', help: 'train.warmup.help', min: 0, max: 1e6, step: 1, integer: true },
  { key: 'weightDecay', label: 'train.weightDecay', help: 'train.weightDecay.help', min: 0, max: 10, step: 'any', integer: false },
  { key: 'maxGradNorm', label: 'train.maxGradNorm', help: 'train.maxGradNorm.help', min: 0, max: 1e6, step: 'any', integer: false },
  { key: 'seed', label: 'train.seed', help: 'train.seed.help', min: 0, max: 2 ** 31 - 1, step: 1, integer: true },
  { key: 'evalEvery', label: 'train.evalEvery', help: 'train.evalEvery.help', min: 0, max: 1e6, step: 1, integer: true },
];

export const fieldSpec = (key: NumericField): FieldSpec | undefined => FIELDS.find((f) => f.key === key);

/** A field's value as typed, kept with why it was refused. */
export interface FieldError {
  raw: string;
  messages: { key: MessageKey; params?: Params }[];
}

/** The number typed into a field, or what is wrong with it. */
export function checkField(f: FieldSpec, raw: string): { value: number } | { error: FieldError } {
  const text = raw.trim();
  const range: FieldError['messages'][number] = f.max !== undefined ? { key: 'train.invalid.range', params: { min: f.min, max: f.max } } : { key: 'train.invalid.min', params: { min: f.min } };
  if (text === '') return { error: { raw, messages: [{ key: 'train.invalid.empty' }, range] } };
  const v = Number(text);
  const messages: FieldError['messages'] = [];
  if (f.integer && Number.isFinite(v) && !Number.isInteger(v)) messages.push({ key: 'train.invalid.integer' });
  if (!Number.isFinite(v) || v < f.min || (f.max !== undefined && v > f.max)) messages.push(range);
  else if (messages.length) messages.push(range);
  return messages.length ? { error: { raw, messages } } : { value: v };
}

/** The preset of the model a source names: the built-in model's own, a catalog model's, or none. */
export function presetOf(source: { kind: string; repo: string }): Preset | undefined {
  if (source.kind === 'builtin') return { ...BUILTIN_PRESET };
  if (source.kind === 'hf' || source.kind === 'modelscope') return modelPreset(source.repo);
  return undefined;
}

/** What "Restore defaults" gives: the recipe's defaults with the model's preset. */
export function defaultsFor(source: { kind: string; repo: string }): Recipe {
  return { ...defaultRecipe(), ...presetOf(source) };
}
