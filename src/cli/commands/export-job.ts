// The settings `export --format job` writes: the run's own (the adapter's run record), each
// flag over it, the default recipe only for what neither gives. When one settings spec serves
// page, CLI and job (issue 22), JOB_FLAGS and jobSettings are where it plugs in.

import { DEFAULT_MAX_LENGTH } from '../../data/examples.ts';
import { DEFAULT_TRAIN, type TrainSettings } from '../../train/recipe.ts';
import type { FlagSpec } from '../args.ts';
import type { AdapterRunRecord } from '../run-record.ts';

export const JOB_FLAGS: Record<string, FlagSpec> = {
  epochs: { kind: 'number', min: 0.001, help: "job: epochs (default: the adapter's run record)" },
  lr: { kind: 'number', min: 0, help: "job: peak learning rate (default: the adapter's run record)" },
  schedule: { kind: 'choice', choices: ['linear', 'cosine', 'constant'], help: "job: learning-rate schedule (default: the adapter's run record)" },
  warmup: { kind: 'int', min: 0, help: "job: warmup optimizer steps (default: the adapter's run record)" },
  batch: { kind: 'int', min: 1, help: "job: rows per micro-batch (default: the adapter's run record)" },
  accum: { kind: 'int', min: 1, help: "job: gradient accumulation steps (default: the adapter's run record)" },
  seed: { kind: 'int', min: 0, help: "job: seed (default: the adapter's run record)" },
  'max-length': { kind: 'int', min: 2, help: "job: longest example in tokens (default: the adapter's run record)" },
};

const FIELD: Record<string, keyof TrainSettings> = { epochs: 'epochs', lr: 'lr', schedule: 'schedule', warmup: 'warmupSteps', batch: 'batchSize', accum: 'gradAccum', seed: 'seed' };

/** Training settings and max length for the job, and which flags set them. */
export function jobSettings(record: AdapterRunRecord | undefined, f: Record<string, unknown>): { train: TrainSettings; maxLength: number; flagged: string[] } {
  const train: TrainSettings = { ...DEFAULT_TRAIN, ...record?.settings };
  const flagged: string[] = [];
  for (const [flag, key] of Object.entries(FIELD)) {
    if (f[flag] === undefined) continue;
    (train as unknown as Record<string, unknown>)[key] = f[flag];
    flagged.push(`--${flag} ${f[flag]}`);
  }
  if (f['max-length'] !== undefined) flagged.push(`--max-length ${f['max-length']}`);
  return { train, maxLength: (f['max-length'] as number | undefined) ?? record?.maxLength ?? DEFAULT_MAX_LENGTH, flagged };
}
