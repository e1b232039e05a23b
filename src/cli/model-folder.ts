// A Hugging Face model folder on disk for the CLI: config.json, model.safetensors or the
// sharded index, and the tokenizer files when present. Weights are opened as Blobs over the
// files, so a tensor is read from disk only when asked for.

import { openAsBlob } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseQwen2Config, validateWeights, type Qwen2Config } from '../core/config.ts';
import type { WeightDType } from '../core/dtype.ts';
import { ModelConfigError, ModelFilesError } from '../core/errors.ts';
import { checkedRead, checkedReadInto } from '../core/finite.ts';
import { SafetensorsFile, ShardedSafetensors, type TensorSource } from '../core/safetensors.ts';
import type { WeightReader } from '../engine/engine.ts';
import { PASSTHROUGH_FILES } from '../export/merged.ts';
import { pickAdapterFiles, importPeftAdapter, type ImportedAdapter } from '../export/peft-import.ts';
import { ChatTokenizer } from '../tokenizer/tokenizer.ts';

export interface ModelFolder {
  dir: string;
  /** What adapters record as base_model_name_or_path. */
  name: string;
  rawConfig: Record<string, unknown>;
  config: Qwen2Config;
  weights: TensorSource;
  dtype: WeightDType;
  /** Contents of the tokenizer and generation files the folder has. */
  extraFiles: Record<string, string>;
  hasTokenizer: boolean;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export async function openModelFolder(dirArg: string): Promise<ModelFolder> {
  const dir = resolve(dirArg);
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new ModelFilesError(dirArg, 'is not a folder');
  const configText = await readText(join(dir, 'config.json'));
  if (configText === null)
    throw new ModelFilesError(join(dirArg, 'config.json'), 'not found: a model folder needs config.json');
  const config = parseQwen2Config(configText);
  const rawConfig = JSON.parse(configText) as Record<string, unknown>;
  const weights = await openWeights(dir, dirArg);
  const dtype = validateWeights(config, weights);
  const extraFiles: Record<string, string> = {};
  for (const f of PASSTHROUGH_FILES) {
    const t = await readText(join(dir, f));
    if (t !== null) extraFiles[f] = t;
  }
  const name =
    typeof rawConfig._name_or_path === 'string' && rawConfig._name_or_path ? rawConfig._name_or_path : basename(dir);
  return { dir, name, rawConfig, config, weights, dtype, extraFiles, hasTokenizer: 'tokenizer.json' in extraFiles };
}

async function openWeights(dir: string, dirArg: string): Promise<TensorSource> {
  const single = join(dir, 'model.safetensors');
  if (await stat(single).catch(() => null))
    return SafetensorsFile.open(await openAsBlob(single), join(dirArg, 'model.safetensors'));
  const index = await readText(join(dir, 'model.safetensors.index.json'));
  if (index !== null) {
    return ShardedSafetensors.open(index, async (f) => {
      const p = join(dir, f);
      if (!(await stat(p).catch(() => null)))
        throw new ModelFilesError(join(dirArg, f), 'listed in model.safetensors.index.json but not in the folder');
      return openAsBlob(p);
    });
  }
  const bins = (await readdir(dir)).filter((f) => f.endsWith('.bin') || f.endsWith('.pt'));
  throw new ModelFilesError(
    join(dirArg, 'model.safetensors'),
    bins.length
      ? `not found; ${bins.join(', ')} are PyTorch pickles, which Webtune does not read (save with safe_serialization=True)`
      : 'not found (nor model.safetensors.index.json)',
  );
}

export function weightReader(m: ModelFolder): WeightReader {
  // Each tensor is checked for NaN and infinity as it streams into the engine.
  const read = checkedRead(m.weights);
  return {
    dtype: m.dtype,
    read: async (n) => (await read(n)) as Float32Array | Uint16Array,
    readInto: checkedReadInto(m.weights),
  };
}

export async function folderTokenizer(m: ModelFolder): Promise<ChatTokenizer> {
  if (!m.hasTokenizer)
    throw new ModelFilesError(join(m.dir, 'tokenizer.json'), "not found: this command needs the model's tokenizer");
  const tok = ChatTokenizer.fromJson(m.extraFiles['tokenizer.json'], m.extraFiles['tokenizer_config.json'] ?? {});
  // Ids past the embedding table would be read out of bounds by the engine, not refused by it.
  if (tok.vocabSize > m.config.vocabSize)
    throw new ModelConfigError(
      'vocab_size',
      `${m.config.vocabSize} in ${join(m.dir, 'config.json')} is smaller than the ${tok.vocabSize} ids of ${join(m.dir, 'tokenizer.json')}: the tokenizer belongs to another model`,
    );
  return tok;
}

export async function openAdapterFolder(dirArg: string, cfg: Qwen2Config): Promise<ImportedAdapter> {
  const dir = resolve(dirArg);
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory())
    throw new ModelFilesError(
      dirArg,
      'is not a folder (an adapter folder holds adapter_config.json and adapter_model.safetensors)',
    );
  const files = pickAdapterFiles(await readdir(dir));
  return importPeftAdapter(
    await readFile(join(dir, files.config), 'utf8'),
    await openAsBlob(join(dir, files.weights)),
    cfg,
  );
}
