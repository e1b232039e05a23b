// The training-job zip from what this page holds: the same rows, split, prompt and settings, so
// a CUDA machine reproduces the run with PyTorch + PEFT.

import { buildJobZip as zipJob } from '../export/job.ts';
import { IM_END } from '../tokenizer/tokenizer.ts';
import { loraOf, trainOf } from '../train/recipe.ts';
import type { ModelSummary } from '../worker/api.ts';
import type { PageContext } from './context.ts';

export async function buildJobZip(c: PageContext, summary: ModelSummary): Promise<Blob> {
  const t = c.state.train;
  const { train, eval: evalRows } = c.splitRows();
  // Hub repos are named as such; a built-in or local model by its name, to be replaced by a path.
  const bytes = zipJob({
    baseModel: summary.name,
    system: c.state.systemPrompt,
    maxLength: t.maxLength,
    endToken: IM_END,
    lora: loraOf(t),
    quant: summary.quant,
    train: trainOf(t),
    rows: train,
    evalRows,
  });
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/zip' });
}
