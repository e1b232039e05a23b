// Reads a PEFT LoRA adapter folder back (ours, or one trained with PyTorch) so it can be
// evaluated, chatted with or trained further. Anything Webtune cannot apply exactly is refused
// with the tensor or module named, rather than silently dropped.

import { LORA_TARGETS, moduleOf, projShape, type LoraTarget, type Qwen2Config } from '../core/config.ts';
import { widen } from '../core/dtype.ts';
import { AdapterError } from '../core/errors.ts';
import { assertFinite } from '../core/finite.ts';
import { SafetensorsFile } from '../core/safetensors.ts';
import { peftName, type LoraSettings } from '../engine/engine.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from './peft.ts';

export interface ImportedAdapter {
  settings: LoraSettings;
  /** Canonical PEFT names (base_model.model.model.layers.N....lora_A.weight), f32. */
  tensors: Record<string, Float32Array>;
  baseModel?: string;
}

type Bytes = Blob | ArrayBuffer | Uint8Array;

/** From a folder's file names, the weights file to read; refuses pickles with a way out. */
export function pickAdapterFiles(names: string[]): { config: string; weights: string } {
  const base = (n: string) => n.split(/[\\/]/).pop()!;
  const config = names.find((n) => base(n) === ADAPTER_CONFIG);
  const weights = names.find((n) => base(n) === ADAPTER_WEIGHTS);
  if (!config)
    throw new AdapterError(
      `no ${ADAPTER_CONFIG} in the adapter folder (found: ${names.map(base).join(', ') || 'nothing'})`,
    );
  if (weights) return { config, weights };
  if (names.some((n) => base(n) === 'adapter_model.bin'))
    throw new AdapterError(
      'adapter_model.bin is a PyTorch pickle, which Webtune does not read (it can run code); save the adapter with ' +
        'save_pretrained(..., safe_serialization=True) or convert it: python -c "import torch, safetensors.torch as s; ' +
        "s.save_file(torch.load('adapter_model.bin'), 'adapter_model.safetensors', {'format': 'pt'})\"",
    );
  throw new AdapterError(`no ${ADAPTER_WEIGHTS} in the adapter folder`);
}

const UNSUPPORTED_HINT =
  'Webtune applies LoRA to q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj and down_proj only';

/** PEFT target_modules: a list of name suffixes, "all-linear", or a regex over full module names. */
function resolveTargets(raw: unknown, numLayers: number): LoraTarget[] {
  if (raw === 'all-linear') return [...LORA_TARGETS];
  if (typeof raw === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${raw})$`);
    } catch (e) {
      throw new AdapterError(
        `${ADAPTER_CONFIG}: target_modules regex ${JSON.stringify(raw)} does not compile (${(e as Error).message})`,
      );
    }
    for (const other of ['model.embed_tokens', 'lm_head'])
      if (re.test(other))
        throw new AdapterError(
          `${ADAPTER_CONFIG}: target_modules matches unsupported module ${other}; ${UNSUPPORTED_HINT}`,
        );
    const found = new Set<LoraTarget>();
    for (let l = 0; l < numLayers; l++)
      for (const t of LORA_TARGETS) if (re.test(`model.layers.${l}.${moduleOf(t)}.${t}`)) found.add(t);
    return LORA_TARGETS.filter((t) => found.has(t));
  }
  if (!Array.isArray(raw) || raw.some((m) => typeof m !== 'string'))
    throw new AdapterError(
      `${ADAPTER_CONFIG}: target_modules must be a list of module names or a string, got ${JSON.stringify(raw)}`,
    );
  for (const m of raw as string[]) {
    const leaf = m.split('.').pop()!;
    if (!(LORA_TARGETS as readonly string[]).includes(leaf))
      throw new AdapterError(`${ADAPTER_CONFIG}: target module "${m}" is not supported; ${UNSUPPORTED_HINT}`);
  }
  return LORA_TARGETS.filter((t) => (raw as string[]).some((m) => m.split('.').pop() === t));
}

function isEmpty(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && Object.keys(v as object).length === 0)
  );
}

/** Largest plausible rank and update scale: real adapters use r up to a few hundred and scales near 0.1-10. */
const MAX_RANK = 4096;
const MAX_SCALE = 1024;

/** adapter_config.json -> LoraSettings, refusing the PEFT options Webtune cannot reproduce and values out of range. */
export function parseAdapterConfig(text: string, cfg: Qwen2Config): { settings: LoraSettings; baseModel?: string } {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AdapterError(`${ADAPTER_CONFIG}: not valid JSON (${(e as Error).message})`);
  }
  const field = (name: string, msg: string) => new AdapterError(`${ADAPTER_CONFIG}: field "${name}" ${msg}`);
  if (raw.peft_type !== 'LORA') throw field('peft_type', `must be "LORA", got ${JSON.stringify(raw.peft_type)}`);
  const r = raw.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0)
    throw field('r', `must be a positive integer, got ${JSON.stringify(r)}`);
  if (r > MAX_RANK) throw field('r', `is ${r}; ranks above ${MAX_RANK} are not plausible for a LoRA adapter`);
  const alpha = raw.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha))
    throw field('lora_alpha', `must be a number, got ${JSON.stringify(alpha)}`);
  if (alpha <= 0) throw field('lora_alpha', `must be positive, got ${alpha} (the update is scaled by alpha / r)`);
  const scale = raw.use_rslora ? alpha / Math.sqrt(r) : alpha / r;
  if (scale > MAX_SCALE)
    throw field(
      'lora_alpha',
      `${alpha} with r ${r} scales the update by ${scale.toPrecision(3)}; above ${MAX_SCALE} it can only be a mistake`,
    );
  const dropout = raw.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || dropout < 0 || dropout >= 1)
    throw field('lora_dropout', `must be in [0, 1), got ${JSON.stringify(dropout)}`);
  if ((raw.bias ?? 'none') !== 'none')
    throw field('bias', `is ${JSON.stringify(raw.bias)}; only "none" (no trained biases) is supported`);
  if (raw.fan_in_fan_out) throw field('fan_in_fan_out', 'is true; Qwen2 projections are nn.Linear, it must be false');
  if (raw.use_dora) throw field('use_dora', 'is true; DoRA adapters are not supported');
  if (!isEmpty(raw.modules_to_save))
    throw field(
      'modules_to_save',
      `lists ${JSON.stringify(raw.modules_to_save)}; fully trained modules are not supported`,
    );
  if (!isEmpty(raw.rank_pattern)) throw field('rank_pattern', 'is set; one rank for every module is supported');
  if (!isEmpty(raw.alpha_pattern)) throw field('alpha_pattern', 'is set; one alpha for every module is supported');
  if (!isEmpty(raw.layers_to_transform)) throw field('layers_to_transform', 'is set; LoRA on every layer is supported');
  if (!isEmpty(raw.layer_replication)) throw field('layer_replication', 'is set; it is not supported');
  const targets = resolveTargets(raw.target_modules, cfg.numLayers);
  if (!targets.length) throw field('target_modules', `selects none of ${LORA_TARGETS.join(', ')}`);
  const settings: LoraSettings = { r, alpha, dropout, targets, rslora: Boolean(raw.use_rslora) };
  return {
    settings,
    baseModel: typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : undefined,
  };
}

const LORA_NAME =
  /^(?:base_model\.model\.)?model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_([AB])(?:\.default)?\.weight$/;

/** Any spelling PEFT has used for a LoRA tensor -> the canonical name, or an error naming it. */
export function canonicalLoraName(
  name: string,
  cfg: Qwen2Config,
): { name: string; layer: number; target: LoraTarget; ab: 'A' | 'B' } {
  const m = LORA_NAME.exec(name);
  if (!m) {
    const what = /embed_tokens|lm_head|lora_embedding/.test(name)
      ? 'targets the embeddings or lm_head'
      : /lora_magnitude_vector/.test(name)
        ? 'is a DoRA magnitude'
        : /\.bias$|modules_to_save|original_module/.test(name)
          ? 'is a trained bias or a fully trained module'
          : 'is not a LoRA A/B tensor of a decoder layer projection';
    throw new AdapterError(`${ADAPTER_WEIGHTS}: tensor "${name}" ${what}; ${UNSUPPORTED_HINT}`);
  }
  const layer = Number(m[1]);
  const target = m[3] as LoraTarget;
  if (!(LORA_TARGETS as readonly string[]).includes(target))
    throw new AdapterError(`${ADAPTER_WEIGHTS}: tensor "${name}" targets module ${target}; ${UNSUPPORTED_HINT}`);
  if (moduleOf(target) !== m[2])
    throw new AdapterError(
      `${ADAPTER_WEIGHTS}: tensor "${name}": ${target} lives under ${moduleOf(target)}, not ${m[2]}`,
    );
  if (layer >= cfg.numLayers)
    throw new AdapterError(
      `${ADAPTER_WEIGHTS}: tensor "${name}" is for layer ${layer}, the base model has ${cfg.numLayers} layers`,
    );
  const ab = m[4] as 'A' | 'B';
  return { name: peftName(layer, target, ab), layer, target, ab };
}

export async function importPeftAdapter(
  configText: string,
  weights: Bytes,
  cfg: Qwen2Config,
): Promise<ImportedAdapter> {
  const { settings, baseModel } = parseAdapterConfig(configText, cfg);
  const file = await SafetensorsFile.open(weights, ADAPTER_WEIGHTS);
  const tensors: Record<string, Float32Array> = {};
  for (const [rawName, info] of file.tensors) {
    const { name, target, ab } = canonicalLoraName(rawName, cfg);
    if (!settings.targets.includes(target))
      throw new AdapterError(
        `${ADAPTER_WEIGHTS}: tensor "${rawName}" is for ${target}, which target_modules in ${ADAPTER_CONFIG} does not list`,
      );
    if (tensors[name])
      throw new AdapterError(`${ADAPTER_WEIGHTS}: tensor "${rawName}" appears twice under different spellings`);
    const [o, i] = projShape(cfg, target);
    const want = ab === 'A' ? [settings.r, i] : [o, settings.r];
    if (info.shape.length !== 2 || info.shape[0] !== want[0] || info.shape[1] !== want[1])
      throw new AdapterError(
        `${ADAPTER_WEIGHTS}: tensor "${rawName}" has shape [${info.shape}], the base model and r=${settings.r} need [${want}] (is this adapter for another model?)`,
      );
    const data = await file.read(rawName);
    if (info.dtype === 'F32') tensors[name] = new Float32Array(data as Float32Array);
    else if (info.dtype === 'BF16' || info.dtype === 'F16')
      tensors[name] = widen(data as Uint16Array, info.dtype === 'BF16' ? 'bf16' : 'f16');
    else
      throw new AdapterError(
        `${ADAPTER_WEIGHTS}: tensor "${rawName}" has dtype ${info.dtype}, expected F32, F16 or BF16`,
      );
    // NaN in an adapter would be trained on, chatted with and merged into a model: refuse it here.
    assertFinite(ADAPTER_WEIGHTS, rawName, tensors[name], 'f32', info.shape);
  }
  for (let l = 0; l < cfg.numLayers; l++)
    for (const t of settings.targets)
      for (const ab of ['A', 'B'] as const)
        if (!tensors[peftName(l, t, ab)])
          throw new AdapterError(
            `${ADAPTER_WEIGHTS}: tensor "${peftName(l, t, ab)}" is missing (target_modules lists ${t})`,
          );
  return { settings, tensors, baseModel };
}
