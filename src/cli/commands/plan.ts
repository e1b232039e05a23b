// `plan`: the memory a training load would take, before anything is loaded, from a model folder
// or just its config.json: a table by part, then one JSON line with total_bytes. The numbers are
// the engine's own plan (src/engine/plan.ts), the one a load checks against the device.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseQwen2Config, validateWeights, type Qwen2Config } from '../../core/config.ts';
import type { WeightDType } from '../../core/dtype.ts';
import { ModelConfigError, ModelFilesError } from '../../core/errors.ts';
import type { Quantization } from '../../core/nf4.ts';
import type { EngineKind, LoraSettings } from '../../engine/engine.ts';
import { DEFAULT_RECIPE, loraOf } from '../../train/recipe.ts';
import { recipeFromFlags, settingFlags } from '../setting-flags.ts';
import { planMemory } from '../../engine/plan.ts';
import { parseFlags, type FlagSpec } from '../args.ts';
import { openModelFolder } from '../model-folder.ts';
import { QUANT_FLAG, line, type CliIo } from './common.ts';

export const PLAN_SUMMARY = 'the memory a training load would take, by part, from a model folder or its config.json';

const RECIPE_FLAGS = settingFlags(DEFAULT_RECIPE);

export const PLAN_FLAGS: Record<string, FlagSpec> = {
  model: {
    kind: 'string',
    required: true,
    help: "model folder, or a config.json (the weights' dtype then comes from torch_dtype)",
  },
  batch: { kind: 'int', min: 1, required: true, help: 'rows per micro-batch' },
  seq: { kind: 'int', min: 1, required: true, help: 'max length in tokens' },
  quant: QUANT_FLAG,
  engine: {
    kind: 'choice',
    choices: ['webgpu', 'cpu'],
    help: 'whose plan: webgpu (default; recomputes every layer) or cpu (keeps activations while they fit 1 GiB)',
  },
  r: RECIPE_FLAGS.r,
  targets: RECIPE_FLAGS.targets,
};

const TORCH_DTYPES: Record<string, WeightDType> = { bfloat16: 'bf16', float16: 'f16', float32: 'f32' };

/** The config and the dtype the weights would load as: from the weights when there are any. */
async function openConfig(path: string): Promise<{ config: Qwen2Config; dtype: WeightDType; source: string }> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new ModelFilesError(path, 'not found (give a model folder or a config.json)');
  if (st.isDirectory()) {
    const hasWeights = await Promise.any(
      ['model.safetensors', 'model.safetensors.index.json'].map((f) => stat(join(path, f))),
    ).then(
      () => true,
      () => false,
    );
    if (hasWeights) {
      const m = await openModelFolder(path);
      return { config: m.config, dtype: validateWeights(m.config, m.weights), source: 'weights' };
    }
    path = join(path, 'config.json');
  }
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ModelFilesError(path, `cannot read it (${e.code ?? e.message})`);
  });
  const config = parseQwen2Config(text);
  const dtype = TORCH_DTYPES[config.torchDtype];
  if (!dtype)
    throw new ModelConfigError(
      'torch_dtype',
      `${JSON.stringify(config.torchDtype)} in ${path} is not one of ${Object.keys(TORCH_DTYPES).join(', ')}`,
    );
  return { config, dtype, source: 'torch_dtype' };
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

export async function runPlan(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags('plan', argv, PLAN_FLAGS);
  const { config, dtype, source } = await openConfig(f.model as string);
  const engine = (f.engine as EngineKind | undefined) ?? 'webgpu';
  const quant = (f.quant as Quantization | undefined) ?? 'none';
  // the settings spec's checks, the engine's limits among them (WebGPU's largest rank)
  const lora: LoraSettings = loraOf(recipeFromFlags('plan', { r: f.r, targets: f.targets }, DEFAULT_RECIPE, engine));
  const batch = f.batch as number,
    seq = f.seq as number;
  const plan = planMemory(engine, config, { maxBatch: batch, maxSeq: seq, lora, quant }, dtype);
  const rows = Object.entries(plan.parts).map(([part, bytes]) => [part, mib(bytes), String(bytes)]);
  rows.push(['total', mib(plan.total), String(plan.total)]);
  const w = [
    Math.max(4, ...rows.map((r) => r[0].length)),
    Math.max(3, ...rows.map((r) => r[1].length)),
    Math.max(5, ...rows.map((r) => r[2].length)),
  ];
  line(
    io.stdout,
    `${engine} plan, batch ${batch} x seq ${seq}, ${quant === 'nf4' ? 'NF4 projections (QLoRA)' : `${dtype} weights`}, LoRA r ${lora.r} on ${lora.targets.length} projections, ${plan.recompute ? 'recomputing each layer in backward' : "keeping every layer's activations"}`,
  );
  line(io.stdout, `${'part'.padEnd(w[0])}  ${'MiB'.padStart(w[1])}  ${'bytes'.padStart(w[2])}`);
  for (const r of rows) line(io.stdout, `${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}`);
  line(
    io.stdout,
    JSON.stringify({
      command: 'plan',
      model: f.model,
      engine,
      quant,
      dtype,
      dtype_from: source,
      batch,
      seq,
      r: lora.r,
      recompute: plan.recompute,
      parts: plan.parts,
      total_bytes: plan.total,
    }),
  );
  return 0;
}
