// What a training-job zip is made of: the model, prompt, recipe and rows (job.ts builds the zip).

import type { DatasetRow } from '../../data/dataset.ts';
import type { LoraSettings } from '../../engine/engine.ts';
import type { TrainSettings } from '../../train/recipe.ts';
import type { Quantization } from '../../core/nf4.ts';

export interface JobSpec {
  /** Repo id or path the script loads, e.g. Qwen/Qwen2.5-0.5B-Instruct. */
  baseModel: string;
  system: string;
  maxLength: number;
  /** Token learned after every answer. */
  endToken: string;
  lora: LoraSettings;
  /** 'nf4': the run used a 4-bit NF4 base (QLoRA), so the script loads the base with bitsandbytes the same way. */
  quant?: Quantization;
  train: TrainSettings;
  /** 'plain': rows spelling a control token were allowed, and train.py encodes the spelling as plain text as Webtune did. */
  controlText?: 'plain';
  rows: readonly Pick<DatasetRow, 'system' | 'user' | 'answer' | 'expected'>[];
  evalRows?: readonly Pick<DatasetRow, 'system' | 'user' | 'answer' | 'expected'>[];
}
