// What the CLI commands share: their I/O streams, engine setup over a model folder, and
// dataset loading that stops on the first bad file with every problem in it.

import { readFile } from 'node:fs/promises';
import { DatasetError, ModelFilesError } from '../../core/errors.ts';
import { importDataset, splitDataset, type DatasetRow } from '../../data/dataset.ts';
import { createEngine, type EngineKind } from '../../engine/create.ts';
import type { Engine, LoraSettings } from '../../engine/engine.ts';
import type { ModelFolder } from '../model-folder.ts';
import { weightReader } from '../model-folder.ts';
import type { TextStream } from '../progress.ts';
import type { FlagSpec } from '../args.ts';

export interface CliIo {
  stdout: TextStream;
  stderr: TextStream;
}

export const ENGINE_FLAG: FlagSpec = { kind: 'choice', choices: ['cpu', 'webgpu'], help: 'compute engine (default cpu)' };
export const QUIET_FLAG: FlagSpec = { kind: 'bool', help: 'no progress bar' };

export function line(s: TextStream, text: string): void {
  s.write(text + '\n');
}

/** Every row of a dataset file, or a DatasetError listing every problem in it. */
export async function loadRows(path: string): Promise<DatasetRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelFilesError(path, `cannot read the dataset (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const result = importDataset(text, { file: path });
  // Training on the rows that happen to parse would hide the broken ones: stop instead.
  if (result.issues.length) throw new DatasetError(path, result.issues);
  return result.rows;
}

export const SPLIT_FLAG: FlagSpec = { kind: 'number', min: 0, below: 1, help: 'hold out this share of the rows for evaluation (same --seed in train and eval picks the same rows)' };

/** The train or eval side of a seeded split; the whole file when no fraction is given. */
export function splitRows(rows: DatasetRow[], fraction: number | undefined, seed: number, side: 'train' | 'eval'): DatasetRow[] {
  if (!fraction) return rows;
  return splitDataset(rows, { evalFraction: fraction, seed })[side];
}

export async function loadEngine(kind: EngineKind, model: ModelFolder, lora: LoraSettings, maxBatch: number, maxSeq: number): Promise<Engine> {
  const engine = await createEngine(kind);
  try {
    await engine.load(model.config, weightReader(model), { maxBatch, maxSeq, lora });
  } catch (e) {
    await engine.dispose();
    throw e;
  }
  return engine;
}
