// Training-step benchmark: one LoRA optimizer step (r=8, all seven projections, dropout 0.1)
// on a random model of a preset's shape, batch B x seq T, half of each row prompt (-100).
//
//   npm run bench -- --engine cpu --preset mid --batch 4 --seq 64 [--steps 3] [--threads 2] [--scalar]
//   npm run bench -- --engine webgpu --preset mid --batch 4 --seq 64 [--no-matmul]
//
// "train tokens/s" = B*T input tokens per second of a full optimizer step (forward, loss,
// backward, clip, AdamW). The last line is one JSON object for scripts to read. The webgpu
// engine adds `gpu_mb`, `adapter` and `matmul_gflops` (the main matmuls at the preset's shapes
// for N = B*T tokens, scripts/bench-matmul.ts); `--matmul` measures those on the CPU too.
// scripts/bench_torch.py runs the same step in PyTorch and prints the same JSON line.

import { parseQwen2Config, expectedTensors, type Qwen2Config } from '../src/core/config.ts';
import { createEngine, type EngineKind } from '../src/engine/create.ts';
import { DEFAULT_LORA, type MicroBatch, type WeightReader } from '../src/engine/engine.ts';
import { hash32, type Ops } from '../src/engine/ops.ts';
import { measureMatmuls } from './bench-matmul.ts';

const PRESETS: Record<string, Record<string, unknown>> = {
  small: { hidden_size: 256, intermediate_size: 704, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 8192, tie_word_embeddings: false },
  mid: { hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 2, vocab_size: 32000, tie_word_embeddings: false },
  'qwen2.5-0.5b': { hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936, tie_word_embeddings: true },
};

interface Args {
  engine: EngineKind;
  preset: string;
  batch: number;
  seq: number;
  steps: number;
  threads?: number;
  scalar: boolean;
  /** Matmul GFLOP/s: default on for webgpu, off for cpu (keeps the CPU line PyTorch's shape). */
  matmul?: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { engine: 'cpu', preset: 'small', batch: 4, seq: 64, steps: 3, scalar: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    const num = () => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${k} needs a positive integer, got "${v}"`);
      i++;
      return n;
    };
    if (k === '--engine') (a.engine = v as EngineKind), i++;
    else if (k === '--preset') (a.preset = v), i++;
    else if (k === '--batch') a.batch = num();
    else if (k === '--seq') a.seq = num();
    else if (k === '--steps') a.steps = num();
    else if (k === '--threads') a.threads = num();
    else if (k === '--scalar') a.scalar = true;
    else if (k === '--matmul') a.matmul = true;
    else if (k === '--no-matmul') a.matmul = false;
    else throw new Error(`unknown option ${k} (--engine cpu|webgpu --preset ${Object.keys(PRESETS).join('|')} --batch N --seq N --steps N --threads N --scalar --matmul --no-matmul)`);
  }
  if (!PRESETS[a.preset]) throw new Error(`unknown preset "${a.preset}" (${Object.keys(PRESETS).join(', ')})`);
  return a;
}

/**
 * Seeded bf16 weights made on demand, shaped like a trained model's scale: 1/sqrt(fan-in)
 * for matrices, ~1 for norms, small biases. Truncating to bf16 is fine for random values.
 */
function randomWeights(cfg: Qwen2Config, seed: number): WeightReader {
  const shapes = expectedTensors(cfg);
  const names = [...shapes.keys()];
  return {
    dtype: 'bf16',
    async read(name: string) {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`no tensor ${name} in this preset`);
      const n = shape.reduce((x, y) => x * y, 1);
      const isNorm = name.endsWith('norm.weight');
      const std = isNorm ? 0.05 : shape.length === 1 ? 0.02 : 1 / Math.sqrt(shape[shape.length - 1]);
      const half = Math.sqrt(3) * std, center = isNorm ? 1 : 0;
      const out = new Uint16Array(n);
      const f = new Float32Array(1), u = new Uint32Array(f.buffer);
      let s = hash32(seed, names.indexOf(name));
      for (let i = 0; i < n; i++) {
        // xorshift32: cheap enough for 494M values
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        f[0] = center + ((s >>> 0) / 4294967296 * 2 - 1) * half;
        out[i] = u[0] >>> 16;
      }
      return out;
    },
  };
}

/** B rows of T tokens, all real; the first half of each row is prompt (label -100). */
function microBatch(cfg: Qwen2Config, B: number, T: number, seed: number): MicroBatch {
  const inputIds = new Int32Array(B * T), labels = new Int32Array(B * T), attentionMask = new Int32Array(B * T).fill(1);
  for (let i = 0; i < B * T; i++) {
    inputIds[i] = hash32(seed, i) % cfg.vocabSize;
    labels[i] = i % T < T / 2 ? -100 : inputIds[i];
  }
  return { B, T, inputIds, attentionMask, labels };
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

/** Peak resident set of this process (Node reports it in KiB). */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cfg = parseQwen2Config({ model_type: 'qwen2', rope_theta: 1e6, rms_norm_eps: 1e-6, ...PRESETS[args.preset] });
  const lora = { ...DEFAULT_LORA, r: 8, alpha: 32, dropout: 0.1 };
  const engine = await createEngine(args.engine, { threads: args.threads, scalar: args.scalar });
  const info = await engine.info();
  console.log(`engine: ${info.device} [${info.features.join(', ')}]`);
  const t0 = performance.now();
  const plan = await engine.load(cfg, randomWeights(cfg, 1), { maxBatch: args.batch, maxSeq: args.seq, lora });
  await engine.initLora(1);
  console.log(`preset ${args.preset}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s, planned ${mb(plan.total)} MiB, allocated ${mb(plan.allocated)} MiB`);
  const batch = microBatch(cfg, args.batch, args.seq, 7);
  const opts = { lr: 1e-4, dropoutSeed: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 };
  const times: number[] = [];
  for (let s = 0; s <= args.steps; s++) {
    const start = performance.now();
    const r = await engine.step([batch], { ...opts, dropoutSeed: s });
    const ms = performance.now() - start;
    console.log(`${s === 0 ? 'warm-up' : `step ${s}`}: ${ms.toFixed(0)} ms, loss ${r.loss.toFixed(4)}, grad norm ${r.gradNorm.toFixed(4)}`);
    if (s > 0) times.push(ms);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const result: Record<string, unknown> = {
    engine: args.scalar ? 'cpu-scalar' : args.engine, preset: args.preset, batch: args.batch, seq: args.seq,
    train_tokens_per_s: Number(((args.batch * args.seq) / (median / 1000)).toFixed(2)),
    ms_per_step: Math.round(median),
    peak_rss_mb: mb(peakRssBytes()),
  };
  if (args.engine === 'webgpu') {
    result.gpu_mb = mb(plan.allocated);
    result.adapter = info.device;
  }
  if (args.matmul ?? args.engine === 'webgpu') {
    const t1 = performance.now();
    const m = await measureMatmuls(engine.ops as Ops<unknown, unknown>, cfg, args.batch * args.seq, lora.r);
    console.log(`matmul GFLOP/s at N = ${args.batch * args.seq} (${m.timing}, ${((performance.now() - t1) / 1000).toFixed(1)} s): ${Object.entries(m.gflops).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    result.matmul_gflops = m.gflops;
    result.matmul_timing = m.timing;
  }
  await engine.dispose();
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
