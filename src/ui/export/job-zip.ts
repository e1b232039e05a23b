// The training-job zip from what this page holds: the same rows, split, prompt and settings, so
// a CUDA machine reproduces the run with PyTorch + PEFT.

import { buildJobZip as zipJob } from '../../export/job.ts';
import { IM_END } from '../../tokenizer/tokenizer.ts';
import { loraOf, trainOf } from '../../train/recipe.ts';
import type { ModelSummary } from '../../worker/api.ts';
import { builtinModelPath } from '../../io/sources.ts';
import type { PageContext } from '../app/context.ts';

const BUILTIN_FILES = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
];

export async function buildJobZip(c: PageContext, summary: ModelSummary): Promise<Blob> {
  const t = c.state.train;
  const { train, eval: evalRows } = c.splitRows();
  // Hub repos are named as such. The built-in model exists nowhere else: its files travel in the
  // zip and config.json points at them. A local folder is named, to be given with --model.
  const builtin = summary.sourceKey?.startsWith('builtin:');
  const extra: Record<string, Uint8Array> = {};
  if (builtin) {
    const base = new URL(builtinModelPath(), document.baseURI);
    for (const f of BUILTIN_FILES) {
      const res = await fetch(new URL(f, base));
      if (res.ok) extra[`base-model/${f}`] = new Uint8Array(await res.arrayBuffer());
    }
  }
  const bytes = zipJob(
    {
      baseModel: builtin ? './base-model' : summary.name,
      system: c.state.systemPrompt,
      maxLength: t.maxLength,
      endToken: IM_END,
      lora: loraOf(t),
      quant: summary.quant,
      ...(c.state.allowControlText ? { controlText: 'plain' as const } : {}),
      train: trainOf(t),
      rows: train,
      evalRows,
    },
    extra,
  );
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/zip' });
}
