// The settings `export --format job` writes: the run's own (the adapter's run record), each
// flag over it, the default recipe only for what neither gives. When one settings spec serves
// page, CLI and job (issue 22), JOB_FLAGS and jobSettings are where it plugs in.

import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { DatasetError, type DatasetIssue } from '../../core/errors.ts';
import { controlTextIssues } from '../../data/control-text.ts';
import type { DatasetRow } from '../../data/dataset.ts';
import { DEFAULT_MAX_LENGTH } from '../../data/examples.ts';
import { JobZipStream } from '../../export/job-stream.ts';
import type { JobSpec } from '../../export/job/spec.ts';
import { streamRows, type CliIo } from './common.ts';
import { DEFAULT_TRAIN, type TrainSettings } from '../../train/recipe.ts';
import type { FlagSpec } from '../args.ts';
import type { AdapterRunRecord } from '../run-record.ts';

export const JOB_FLAGS: Record<string, FlagSpec> = {
  epochs: { kind: 'number', min: 0.001, help: "job: epochs (default: the adapter's run record)" },
  lr: { kind: 'number', min: 0, help: "job: peak learning rate (default: the adapter's run record)" },
  schedule: {
    kind: 'choice',
    choices: ['linear', 'cosine', 'constant'],
    help: "job: learning-rate schedule (default: the adapter's run record)",
  },
  warmup: { kind: 'int', min: 0, help: "job: warmup optimizer steps (default: the adapter's run record)" },
  batch: { kind: 'int', min: 1, help: "job: rows per micro-batch (default: the adapter's run record)" },
  accum: { kind: 'int', min: 1, help: "job: gradient accumulation steps (default: the adapter's run record)" },
  seed: { kind: 'int', min: 0, help: "job: seed (default: the adapter's run record)" },
  'max-length': { kind: 'int', min: 2, help: "job: longest example in tokens (default: the adapter's run record)" },
};

const FIELD: Record<string, keyof TrainSettings> = {
  epochs: 'epochs',
  lr: 'lr',
  schedule: 'schedule',
  warmup: 'warmupSteps',
  batch: 'batchSize',
  accum: 'gradAccum',
  seed: 'seed',
};

/** Training settings and max length for the job, and which flags set them. */
export function jobSettings(
  record: AdapterRunRecord | undefined,
  f: Record<string, unknown>,
): { train: TrainSettings; maxLength: number; flagged: string[] } {
  const train: TrainSettings = { ...DEFAULT_TRAIN, ...record?.settings };
  const flagged: string[] = [];
  for (const [flag, key] of Object.entries(FIELD)) {
    if (f[flag] === undefined) continue;
    (train as unknown as Record<string, unknown>)[key] = f[flag];
    flagged.push(`--${flag} ${f[flag]}`);
  }
  if (f['max-length'] !== undefined) flagged.push(`--max-length ${f['max-length']}`);
  return {
    train,
    maxLength: (f['max-length'] as number | undefined) ?? record?.maxLength ?? DEFAULT_MAX_LENGTH,
    flagged,
  };
}

/**
 * The job zip written to `path` as the dataset streams in (export/job-stream.ts): memory holds a
 * piece of rows, not the file. With `tokens`, rows spelling one are refused (line and field, as
 * train refuses them); the caller's staged output removes the partial file on any failure.
 */
export async function writeJobStreamed(
  path: string,
  data: string,
  tokens: readonly string[] | undefined,
  io: CliIo,
  spec: Omit<JobSpec, 'rows' | 'evalRows'>,
): Promise<void> {
  const fd = openSync(path, 'w');
  let at = 0;
  const start = () =>
    new JobZipStream((bytes) => {
      for (let o = 0; o < bytes.length;) {
        const n = writeSync(fd, bytes, o, bytes.length - o, at);
        o += n;
        at += n;
      }
    });
  try {
    let zip = start();
    const control: DatasetIssue[] = [];
    let count = 0;
    const row = (r: DatasetRow) => {
      const c = tokens ? controlTextIssues([r], tokens) : undefined;
      if (!c?.count) return zip.row(r);
      if (count++ < 20) control.push(...c.issues);
    };
    // Read again in another encoding: the zip starts over.
    const restart = () => ((at = 0), ftruncateSync(fd, 0), (zip = start()), (control.length = 0), (count = 0));
    await streamRows(data, { row, restart }, io);
    if (count) {
      if (count > 20) control.push({ message: `${count - 20} more row(s) spell a control token` });
      throw new DatasetError(data, control);
    }
    zip.finish(spec);
  } finally {
    closeSync(fd);
  }
}
