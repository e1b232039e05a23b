// The Train step's numeric settings, made from the one settings table (train/settings-spec.ts):
// the range, the integer rule and the engine's limit are the spec's, checked by its checkSetting,
// so the page refuses exactly what the CLI refuses. Only the labels and the words are the page's.
// A value outside its range never reaches the recipe: it stays on screen with its error, and
// Start stays off naming the fields to fix (the controller keeps the errors in the state).

import type { EngineKind } from '../../engine/engine.ts';
import type { Recipe } from '../../train/recipe.ts';
import {
  checkSetting,
  defaultsForModel,
  NUMBER_SETTINGS,
  type NumberSetting,
  type NumericKey,
  type SettingProblem,
} from '../../train/settings-spec.ts';
import { modelPreset, BUILTIN_PRESET, type Preset } from '../../train/recipe.ts';
import type { MessageKey, Params } from '../shared/i18n.ts';

export type NumericField = NumericKey;

export interface FieldSpec {
  key: NumericField;
  label: MessageKey;
  help: MessageKey;
  min: number;
  max: number;
  step: number | 'any';
  setting: NumberSetting;
}

/** The page's words for each shown setting (the label and help keys of the dictionaries). */
const WORDS: Partial<Record<NumericField, [MessageKey, MessageKey]>> = {
  r: ['train.r', 'train.r.help'],
  alpha: ['train.alpha', 'train.alpha.help'],
  dropout: ['train.dropout', 'train.dropout.help'],
  batchSize: ['train.batch', 'train.batch.help'],
  gradAccum: ['train.accum', 'train.accum.help'],
  lr: ['train.lr', 'train.lr.help'],
  epochs: ['train.epochs', 'train.epochs.help'],
  maxLength: ['train.maxLength', 'train.maxLength.help'],
  warmupSteps: ['train.warmup', 'train.warmup.help'],
  weightDecay: ['train.weightDecay', 'train.weightDecay.help'],
  maxGradNorm: ['train.maxGradNorm', 'train.maxGradNorm.help'],
  seed: ['train.seed', 'train.seed.help'],
  evalEvery: ['train.evalEvery', 'train.evalEvery.help'],
  checkpointEvery: ['train.checkpointEvery', 'train.checkpointEvery.help'],
};

/** The fields the page shows: every setting the spec marks for the page, in the spec's order. */
export const FIELDS: FieldSpec[] = NUMBER_SETTINGS.filter((s) => s.page).map((s) => {
  const words = WORDS[s.key];
  if (!words) throw new Error(`train-fields: no label for the setting ${s.key}`);
  return { key: s.key, label: words[0], help: words[1], min: s.min, max: s.max, step: s.step, setting: s };
});

export const fieldSpec = (key: NumericField): FieldSpec | undefined => FIELDS.find((f) => f.key === key);

/** A field's value as typed, kept with why it was refused. */
export interface FieldError {
  raw: string;
  messages: { key: MessageKey; params?: Params }[];
}

/** A problem of the spec's check in the page's words. */
export function problemMessage(p: SettingProblem): FieldError['messages'][number] {
  switch (p.code) {
    case 'empty':
      return { key: 'train.invalid.empty' };
    case 'number':
      return { key: 'train.invalid.number' };
    case 'integer':
      return { key: 'train.invalid.integer' };
    case 'range':
      return {
        key: p.minOpen ? 'train.invalid.above' : p.maxOpen ? 'train.invalid.below' : 'train.invalid.range',
        params: { min: p.min, max: p.max },
      };
    case 'engine':
      return { key: 'train.invalid.engine', params: { engine: p.engine === 'webgpu' ? 'WebGPU' : 'CPU', max: p.max } };
  }
}

/** The number typed into a field, or what is wrong with it (on the engine that will run, when known). */
export function checkField(f: FieldSpec, raw: string, engine?: EngineKind): { value: number } | { error: FieldError } {
  const r = checkSetting(f.setting, raw, engine);
  return 'value' in r ? r : { error: { raw, messages: r.problems.map(problemMessage) } };
}

/** The preset of the model a source names: the built-in model's own, a catalog model's, or none. */
export function presetOf(source: { kind: string; repo: string }): Preset | undefined {
  if (source.kind === 'builtin') return { ...BUILTIN_PRESET };
  if (source.kind === 'hf' || source.kind === 'modelscope') return modelPreset(source.repo);
  return undefined;
}

/** What "Restore defaults" gives: the spec's defaults with the model's preset. */
export function defaultsFor(source: { kind: string; repo: string }): Recipe {
  if (source.kind === 'builtin') return defaultsForModel({ builtin: true });
  return defaultsForModel({ repo: source.kind === 'hf' || source.kind === 'modelscope' ? source.repo : '' });
}
