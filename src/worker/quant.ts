// The base weights a load uses (16-bit or QLoRA's NF4), decided where the worker loads a model:
// what 'auto' means for a config on an engine, and where NF4 blocks come from (the model cache).

import { parseQwen2Config } from '../core/config.ts';
import type { WeightDType } from '../core/dtype.ts';
import type { Quantization } from '../core/nf4.ts';
import { assertFits, chooseQuant, type DeviceLimits } from '../engine/fit.ts';
import type { ModelFiles } from '../io/model-files.ts';
import { nf4Cache, weightsIdentity, type Nf4Source } from '../io/quant-cache.ts';
import type { KeyValueStore } from '../io/store.ts';
import type { LoadSettings } from './api.ts';

/**
 * Refuses, from config.json alone, a model the engine cannot hold (nothing large downloads for a
 * load that would fail), and says which base it loads: 'auto' takes NF4 only when 16-bit does not fit.
 */
export function fitBase(configJson: string, settings: LoadSettings, limits: DeviceLimits): Quantization {
  const cfg = parseQwen2Config(configJson);
  const opts = { maxBatch: settings.maxBatch, maxSeq: settings.maxSeq, lora: settings.lora };
  const quant =
    settings.quant === 'auto'
      ? chooseQuant(cfg, opts, limits, cfg.torchDtype === 'float32' ? 'f32' : 'bf16')
      : (settings.quant ?? 'none');
  assertFits(cfg, { ...opts, quant }, limits);
  return quant;
}

/** The quantization a loaded model's settings hold ('auto' was resolved when it loaded). */
export function resolvedQuant(s: LoadSettings): Quantization {
  return s.quant === 'nf4' ? 'nf4' : 'none';
}

/** NF4 blocks through the model cache (quantized once, then read back): only for cached models with the cache on. */
export async function nf4Source(
  store: KeyValueStore,
  files: ModelFiles,
  dtype: WeightDType,
  settings: LoadSettings,
): Promise<Nf4Source | undefined> {
  if (resolvedQuant(settings) !== 'nf4' || !files.sourceKey || settings.useCache === false) return undefined;
  return nf4Cache(store, files.sourceKey, weightsIdentity(files.files), files.weights, dtype);
}
