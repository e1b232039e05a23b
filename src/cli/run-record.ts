// The run record `train` writes beside the adapter (webtune_run.json): the settings the adapter
// was really trained with, so `export --format job` can carry them instead of the default
// recipe, and what data it saw (the rows added by the error loop, whether it was a control).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoraSettings } from '../engine/engine.ts';
import type { TrainSettings } from '../train/recipe.ts';

export const RUN_RECORD = 'webtune_run.json';

export interface AdapterRunRecord {
  format: 'webtune-run-1';
  model: string;
  settings: TrainSettings;
  lora: LoraSettings;
  maxLength: number;
  system: string;
  data: string;
  examples: number;
  steps: number;
  /** The adapter it continued from. */
  fromAdapter?: string;
  /** Rows made by `--add` (siblings of wrong evaluation rows). */
  added?: number;
  /** A control run: the same extra steps as with --add, without the new rows. */
  control?: boolean;
}

/** The record in an adapter folder, or undefined when it has none (an adapter from elsewhere). */
export async function readRunRecord(dir: string): Promise<AdapterRunRecord | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, RUN_RECORD), 'utf8');
  } catch {
    return undefined;
  }
  const v = JSON.parse(text) as AdapterRunRecord;
  return v?.format === 'webtune-run-1' ? v : undefined;
}

export function runRecordText(r: AdapterRunRecord): string {
  return JSON.stringify(r, null, 2) + '\n';
}
