// PEFT adapter folder: adapter_config.json + adapter_model.safetensors laid out as PEFT's
// save_pretrained writes them, so PeftModel.from_pretrained and vLLM load it unchanged.

import { LORA_TARGETS, projShape, type Qwen2Config } from '../core/config.ts';
import { AdapterError } from '../core/errors.ts';
import { assertFinite } from '../core/finite.ts';
import { encodeSafetensors, type TensorToWrite } from '../core/safetensors.ts';
import { peftName, type LoraSettings } from '../engine/engine.ts';
import { writeFile, type FolderSink } from './sink.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/**
 * The keys PEFT's LoraConfig has written since 0.10 (layer_replication is the newest here);
 * newer PEFT releases ignore keys they do not know, older ones reject them, so nothing newer.
 */
export function adapterConfig(settings: LoraSettings, baseModel: string): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: settings.alpha,
    lora_dropout: settings.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: settings.r,
    rank_pattern: {},
    revision: null,
    target_modules: LORA_TARGETS.filter((t) => settings.targets.includes(t)),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: settings.rslora,
  };
}

/** Adapter tensors in layer order, each checked against the shape the config implies. */
export function adapterTensors(
  cfg: Qwen2Config,
  settings: LoraSettings,
  tensors: Record<string, Float32Array>,
): TensorToWrite[] {
  const out: TensorToWrite[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const t of LORA_TARGETS) {
      if (!settings.targets.includes(t)) continue;
      const [o, i] = projShape(cfg, t);
      for (const [ab, shape] of [
        ['A', [settings.r, i]],
        ['B', [o, settings.r]],
      ] as const) {
        const name = peftName(l, t, ab);
        const data = tensors[name];
        if (!data) throw new AdapterError(`${name}: missing from the adapter being exported`);
        if (data.length !== shape[0] * shape[1])
          throw new AdapterError(`${name}: has ${data.length} values, expected [${shape}]`);
        // An adapter with NaN would load everywhere and answer garbage: refuse to write it.
        assertFinite('adapter', name, data, 'f32', shape);
        out.push({ name, dtype: 'F32', shape: [...shape], data });
      }
    }
  }
  return out;
}

export function encodeAdapterWeights(
  cfg: Qwen2Config,
  settings: LoraSettings,
  tensors: Record<string, Float32Array>,
): Uint8Array[] {
  return encodeSafetensors(adapterTensors(cfg, settings, tensors), { format: 'pt' });
}

export async function writePeftAdapter(
  folder: FolderSink,
  cfg: Qwen2Config,
  settings: LoraSettings,
  tensors: Record<string, Float32Array>,
  baseModel: string,
): Promise<void> {
  await writeFile(folder, ADAPTER_CONFIG, JSON.stringify(adapterConfig(settings, baseModel), null, 2) + '\n');
  await writeFile(folder, ADAPTER_WEIGHTS, encodeAdapterWeights(cfg, settings, tensors));
}
