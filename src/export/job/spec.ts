// What a training-job zip is made of: the model, prompt, recipe and rows (job.ts builds the zip).

import type { DatasetRow } from '../../data/dataset.ts';
import type { LoraSettings } from '../../engine/engine.ts';
import type { TrainSettings } from '../../train/recipe.ts';

export interface JobSpec {
  /** Repo id or path the script loads, e.g. Qwen/Qwen2.5-0.5B-Instruct. */
  baseModel: string;
  system: string;
  maxLength: number;
  /** Token learned after every answer. */
  endToken: string;
  lora: LoraSettings;
  train: TrainSettings;
  rows: readonly Pick<DatasetRow, 'system' | 'user' | 'answer' | 'expected'>[];
  evalRows?: readonly Pick<DatasetRow, 'system' | 'user' | 'answer' | 'expected'>[];
}
