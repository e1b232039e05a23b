// Cost of schema-constrained decoding against free decoding, per generated token, on the CPU
// engine: a random model of a preset's shape with that preset's vocabulary (tiny: 8192 ids,
// qwen2.5-0.5b: Qwen's 151,936), the meeting schema's held-out rows, greedy, one row at a time.
//
//   npx tsx scripts/bench-constrained.ts --preset tiny [--rows 16] [--reps 3] [--max-new-tokens 96]
//
// Each rep decodes every row constrained, with a fresh constraint (its per-state lists rebuilt,
// as for a new evaluation; the vocabulary's byte trie is built once per process and reported
// apart), then free for exactly as many tokens (no stop token), so both sides pay for the same
// sequence lengths. The last line is JSON; overhead_pct compares the median ms per token.

import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseQwen2Config } from '../src/core/config.ts';
import { buildRows, formatSeedRows } from '../src/data/builder.ts';
import { tokenTrie, toolCallConstraint } from '../src/data/constrain.ts';
import { importDataset } from '../src/data/dataset.ts';
import { encodePrompt } from '../src/data/examples.ts';
import { parseToolSchema } from '../src/data/schema.ts';
import { createEngine } from '../src/engine/create.ts';
import { GREEDY, type DecodeOptions, type TokenConstraint } from '../src/engine/engine.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { deriveTokenizer } from '../src/tokenizer/derive.ts';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import { scriptFlags, type FlagSpec } from '../src/cli/args.ts';
import { randomWeights } from './bench-core.ts';
import { DEFAULT_QWEN_TOKENIZER } from './make-tiny-model.ts';
import { PRESETS, type ModelPreset } from './tiny/presets.ts';

const FLAGS: Record<string, FlagSpec> = {
  preset: { kind: 'string', help: `model shape and vocabulary: ${Object.keys(PRESETS).join(', ')} (default tiny)` },
  rows: { kind: 'int', min: 1, help: 'held-out rows decoded per rep (default 16)' },
  reps: { kind: 'int', min: 1, help: 'timed repetitions (default 3)' },
  'max-new-tokens': { kind: 'int', min: 1, help: 'longest answer (default 96)' },
  'qwen-vocab': {
    kind: 'bool',
    help: "the preset's shape with Qwen's whole 151,936-id vocabulary (the constraint's worst case)",
  },
};

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function main(): Promise<void> {
  const f = scriptFlags('bench-constrained', 'ms per generated token, free vs schema-constrained decoding', FLAGS);
  const presetName = (f.preset as string | undefined) ?? 'tiny';
  if (!Object.hasOwn(PRESETS, presetName))
    throw new Error(`unknown preset "${presetName}" (${Object.keys(PRESETS).join(', ')})`);
  const preset: ModelPreset = PRESETS[presetName as keyof typeof PRESETS];
  const p: ModelPreset = f['qwen-vocab'] ? { ...preset, vocabSize: 151936, keepTokens: null } : preset;
  const nRows = (f.rows as number | undefined) ?? 16,
    reps = (f.reps as number | undefined) ?? 3;
  const maxNewTokens = (f['max-new-tokens'] as number | undefined) ?? 96;

  const qwen = JSON.parse(readFileSync(DEFAULT_QWEN_TOKENIZER, 'utf8'));
  const tokJson =
    p.keepTokens === null
      ? { ...qwen, added_tokens: qwen.added_tokens.filter((t: { id: number }) => t.id < 151665) }
      : deriveTokenizer(qwen, p.keepTokens).json;
  const tok = ChatTokenizer.fromJson(tokJson, {});
  const cfg = parseQwen2Config({
    model_type: 'qwen2',
    hidden_size: p.hidden,
    intermediate_size: p.intermediate,
    num_hidden_layers: p.layers,
    num_attention_heads: p.heads,
    num_key_value_heads: p.kvHeads,
    vocab_size: p.vocabSize,
    max_position_embeddings: p.maxPositions,
    rope_theta: 1e6,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
  });
  const engine = await createEngine('cpu');
  await engine.load(cfg, randomWeights(cfg, 7), { maxBatch: 1, maxSeq: 64, lora: DEFAULT_LORA });
  await engine.initLora(1);

  const schema = parseToolSchema(
    readFileSync(new URL('../public/samples/meeting-schema.json', import.meta.url), 'utf8'),
  );
  const perTool = Math.ceil(nRows / schema.tools.length);
  const rows = importDataset(
    formatSeedRows(buildRows(schema, { perTool: 1, evalPerTool: perTool, seed: 5 }).eval),
  ).rows.slice(0, nRows);
  const prompts = rows.map((r) => encodePrompt(tok, r, { system: schema.system }));
  const t0 = performance.now();
  tokenTrie(tokJson);
  const trieMs = performance.now() - t0;

  const base: DecodeOptions = { ...GREEDY, maxNewTokens, stopTokens: tok.eosTokenIds };
  await engine.generate(prompts[0], { ...base, maxNewTokens: 4 }); // warm-up: JIT, thread pool
  const free: number[] = [],
    constrained: number[] = [],
    inConstraint: number[] = [],
    loads: number[] = [];
  // The constraint's own time (allowed ids, advancing), apart from the model's: less noisy.
  let spent = 0;
  const timed = (c: TokenConstraint): TokenConstraint => ({
    start() {
      const cur = c.start();
      return {
        allowed(left: number) {
          const t = performance.now();
          const a = cur.allowed(left);
          spent += performance.now() - t;
          return a;
        },
        advance(id: number) {
          const t = performance.now();
          cur.advance(id);
          spent += performance.now() - t;
        },
      };
    },
  });
  let tokens = 0;
  for (let rep = 0; rep < reps; rep++) {
    loads.push(loadavg()[0]);
    const constraint = timed(toolCallConstraint(schema, tokJson, tok.eosTokenIds));
    let cMs = 0,
      fMs = 0;
    tokens = 0;
    spent = 0;
    for (const prompt of prompts) {
      let t = performance.now();
      const c = await engine.generate(prompt, { ...base, constraint });
      cMs += performance.now() - t;
      t = performance.now();
      const f = await engine.generate(prompt, { ...base, maxNewTokens: c.tokens.length, stopTokens: [] });
      fMs += performance.now() - t;
      if (f.tokens.length !== c.tokens.length) throw new Error('free decoding did not run the same length');
      tokens += c.tokens.length;
    }
    free.push(fMs / tokens);
    constrained.push(cMs / tokens);
    inConstraint.push(spent / tokens);
    console.log(
      `rep ${rep + 1}: ${tokens} tokens each side, free ${(fMs / tokens).toFixed(2)} ms/token, constrained ${(cMs / tokens).toFixed(2)} ms/token (${(spent / tokens).toFixed(3)} in the constraint)`,
    );
  }
  await engine.dispose();
  const fm = median(free),
    cm = median(constrained);
  console.log(
    JSON.stringify({
      bench: 'constrained-decoding',
      engine: 'cpu',
      preset: presetName + (f['qwen-vocab'] ? '+qwen-vocab' : ''),
      vocab: p.vocabSize,
      rows: prompts.length,
      tokens_per_side: tokens,
      max_new_tokens: maxNewTokens,
      free_ms_per_token: +fm.toFixed(3),
      constrained_ms_per_token: +cm.toFixed(3),
      overhead_pct: +((100 * (cm - fm)) / fm).toFixed(1),
      constraint_ms_per_token: +median(inConstraint).toFixed(3),
      constraint_pct_of_free: +((100 * median(inConstraint)) / fm).toFixed(1),
      first_rep_constraint_ms_per_token: +inConstraint[0].toFixed(3),
      first_rep_overhead_pct: +((100 * (constrained[0] - free[0])) / free[0]).toFixed(1),
      vocab_trie_ms: Math.round(trieMs),
      load_1min: +median(loads).toFixed(1),
    }),
  );
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
