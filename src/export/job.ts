// The training-job zip: the dataset in the seed's format, config.json with every setting, a
// PyTorch + PEFT + HF Trainer script, requirements.txt and a README — for running the same
// fine-tune on a machine with a CUDA GPU, whose adapter folder Webtune imports back.

import { zipSync, strToU8 } from 'fflate';
import type { DatasetRow } from '../data/dataset.ts';
import { TRAIN_PY } from './job/train-py.ts';
import { jobReadme, requirementsTxt } from './job/readme.ts';
import type { JobSpec } from './job/spec.ts';
import { SETTINGS } from '../train/settings-spec.ts';
import type { TrainSettings } from '../train/recipe.ts';

export type { JobSpec } from './job/spec.ts';

/** Seed-format row; the answer stays the exact text Webtune trained on. */
export function seedRow(r: Pick<DatasetRow, 'system' | 'user' | 'answer' | 'expected'>): Record<string, unknown> {
  // An object output is re-serialized compactly by train.py; keep it an object only when that
  // gives back the same text, else the string itself.
  const output = r.expected && JSON.stringify(r.expected) === r.answer ? r.expected : r.answer;
  return { ...(r.system !== undefined ? { system: r.system } : {}), instruct: '', input: r.user, output };
}

/** One section of config.json: every setting of that group the settings spec gives a job key, under it. */
function section(group: 'lora' | 'train', values: object): Record<string, unknown> {
  const v = values as Record<string, unknown>;
  return Object.fromEntries(SETTINGS.filter((s) => s.group === group && s.job).map((s) => [s.job!, v[s.key]]));
}

/**
 * HF's lr_scheduler_type for a Webtune schedule. Webtune's `constant` warms up first; HF's
 * `constant` ignores warmup_steps, `constant_with_warmup` is the match.
 */
export function hfSchedule(s: TrainSettings['schedule']): string {
  return s === 'constant' ? 'constant_with_warmup' : s;
}

/** Marks a base the script cannot load: train.py refuses to run with it until --model is given. */
export const NO_BASE = '<no loadable base>';

/**
 * A base model name train.py can load: a Hugging Face hub id (owner/name), a path, or a
 * placeholder naming the model, which the script refuses ("tiny" is on no hub).
 */
export function loadableBase(name: string): string {
  if (name.startsWith(NO_BASE)) return name;
  if (/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(name) || name.startsWith('./') || name.startsWith('/')) return name;
  return `${NO_BASE} Webtune's base "${name}" has no Hugging Face hub id: pass --model with a hub id or a local folder`;
}

export function jobConfig(spec: JobSpec): Record<string, unknown> {
  return {
    base_model: loadableBase(spec.baseModel),
    system_prompt: spec.system,
    max_length: spec.maxLength,
    end_token: spec.endToken,
    quant: spec.quant ?? 'none',
    ...(spec.controlText ? { control_text: spec.controlText } : {}),
    lora: section('lora', spec.lora),
    // the spec's keys; the schedule under HF's name for it (train.py passes it as lr_scheduler_type)
    train: { ...section('train', spec.train), schedule: hfSchedule(spec.train.schedule) },
  };
}

const rowsJson = (rows: JobSpec['rows']) =>
  '[\n' + rows.map((r) => '  ' + JSON.stringify(seedRow(r))).join(',\n') + '\n]\n';

/** File name -> text, all under one folder so the zip unpacks tidily. */
export function jobFiles(spec: JobSpec, folder = 'webtune-job', data = true): Record<string, string> {
  const files: Record<string, string> = {
    'README.md': jobReadme(spec),
    'requirements.txt': requirementsTxt(spec),
    'train.py': TRAIN_PY,
    'config.json': JSON.stringify(jobConfig(spec), null, 2) + '\n',
  };
  // Without `data` (a streamed zip writes it itself) spec.rows is read only for its length.
  if (data) files['data/train.json'] = rowsJson(spec.rows);
  if (spec.evalRows?.length) files['data/eval.json'] = rowsJson(spec.evalRows);
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [`${folder}/${k}`, v]));
}

export const ZIP_TIME = new Date(2000, 0, 1);

/** `extra`: more files by path inside the job folder (the built-in base model's, under base-model/). */
export function buildJobZip(spec: JobSpec, extra: Record<string, Uint8Array> = {}, folder = 'webtune-job'): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const [name, text] of Object.entries(jobFiles(spec, folder))) entries[name] = strToU8(text);
  for (const [name, bytes] of Object.entries(extra)) entries[`${folder}/${name}`] = bytes;
  // A fixed time: the same job gives the same bytes (a zip otherwise stamps the minute it was made).
  return zipSync(entries, { level: 6, mtime: ZIP_TIME });
}
