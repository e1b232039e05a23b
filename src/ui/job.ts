// The training-job zip from what this page holds: the same rows, split, prompt and settings, so
// a CUDA machine reproduces the run with PyTorch + PEFT.

import { buildJobZip as zipJob } from '../export/job.ts';
import { IM_END } from '../tokenizer/tokenizer.ts';
import type { ModelSummary } from '../worker/api.ts';
import type { Controller } from './controller.ts';

export async function buildJobZip(c: Controller, summary: ModelSummary): Promise<Blob> {
  const t = c.state.train;
  const { train, eval: evalRows } = c.splitRows();
  // Hub repos are named as such; a built-in or local model by its name, to be replaced by a path.
  const bytes = zipJob({
    baseModel: summary.name,
    system: c.state.systemPrompt,
    maxLength: t.maxLength,
    endToken: IM_END,
    lora: { r: t.r, alpha: t.alpha, dropout: t.dropout, targets: [...t.targets], rslora: t.rslora },
    train: {
      epochs: t.epochs,
      batchSize: t.batchSize,
      gradAccum: t.gradAccum,
      lr: t.lr,
      schedule: t.schedule,
      warmupSteps: t.warmupSteps,
      weightDecay: t.weightDecay,
      maxGradNorm: t.maxGradNorm,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      seed: t.seed,
    },
    rows: train,
    evalRows,
  });
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/zip' });
}
