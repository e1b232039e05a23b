// Training-step benchmark: one LoRA optimizer step (r=8, all seven projections, dropout 0.1)
// on a random model of a preset's shape, batch B x seq T, half of each row prompt (-100).
//
//   npm run bench -- --engine cpu --preset mid --batch 4 --seq 64 [--steps 3] [--threads 2] [--scalar] [--quant nf4]
//   npm run bench -- --engine webgpu --preset mid --batch 4 --seq 64 [--no-matmul] [--profile] [--no-decode]
//
// `--engine webgpu --count-only`: no step runs; the step and a decoded token are recorded on a
// device that only counts (scripts/gpu-count.ts): launches, workgroups, bytes bound and FLOPs per
// kernel, any preset (with --lengths: a packed ragged micro-batch); the JSON line has
// dispatches_per_micro_batch, decode_launches_per_token, ...
// `--lengths 46-77`: seed-like ragged rows, each step packed and padded back to back, tokens/s
// over real tokens (train_tokens_per_s packed, padded_tokens_per_s, packing_speedup).
// "train tokens/s" = B*T input tokens per second of a full optimizer step (forward, loss,
// backward, clip, AdamW). The last line is one JSON object for scripts to read. The webgpu
// engine adds `gpu_mb`, `adapter` and `matmul_gflops` (the main matmuls at the preset's shapes
// for N = B*T tokens, scripts/bench-matmul.ts), `dispatches_per_micro_batch` (kernel launches one
// more micro-batch adds to a step), `dispatches_per_step`, `bind_groups_per_step` (created during
// the last timed step) and `recompute`; `--profile` adds each kernel family's share of GPU time
// over one more step (timestamp queries); `decode_tokens_per_s` is greedy decoding with the KV
// cache (webgpu; `--decode` adds it on the CPU, whose line otherwise keeps the PyTorch twin's
// shape, `--no-decode` skips it). `--matmul` measures the matmuls on the CPU too.
// scripts/bench_torch.py runs the same step in PyTorch and prints the same JSON line.

import { createEngine, type EngineKind } from '../src/engine/create.ts';
import type { Quantization } from '../src/core/nf4.ts';
import { PRESETS, runStepBench } from './bench-core.ts';
import { runCountOnly } from './gpu-count.ts';
import { scriptFlags, type FlagSpec } from '../src/cli/args.ts';

const FLAGS: Record<string, FlagSpec> = {
  engine: { kind: 'choice', choices: ['cpu', 'webgpu'], help: 'engine (default cpu)' },
  preset: { kind: 'string', help: `model shape: ${Object.keys(PRESETS).join(', ')} (default small)` },
  batch: { kind: 'int', min: 1, help: 'rows per micro-batch (default 4)' },
  seq: { kind: 'int', min: 1, help: 'tokens per row (default 64)' },
  steps: { kind: 'int', min: 1, help: 'timed steps (default 3)' },
  threads: { kind: 'int', min: 1, help: 'CPU worker threads (default: the engine picks)' },
  scalar: { kind: 'bool', help: 'the scalar CPU twins instead of WebAssembly SIMD' },
  quant: {
    kind: 'choice',
    choices: ['none', 'nf4'],
    help: 'base projections as stored (none, default) or 4-bit NF4 (QLoRA)',
  },
  // Default on for webgpu, off for cpu (keeps the CPU line PyTorch's shape).
  matmul: { kind: 'bool', help: 'also time the main matmuls (GFLOP/s)' },
  'no-matmul': { kind: 'bool', help: 'do not time the matmuls' },
  profile: { kind: 'bool', help: 'webgpu: GPU time by kernel family over one more step (timestamp queries)' },
  'count-only': {
    kind: 'bool',
    help: 'webgpu: record the step and a decoded token on a device that only counts (launches, workgroups, bytes bound, FLOPs per kernel), run nothing',
  },
  lengths: {
    kind: 'string',
    help: 'lo-hi: ragged rows of lo..hi tokens (seed-like: 46-77), each step packed and padded back to back; tokens/s over real tokens',
  },
  decode: { kind: 'bool', help: 'also time greedy decoding (tokens/s; on by default for webgpu)' },
  'no-decode': { kind: 'bool', help: 'skip the greedy decode tokens/s' },
};

function parseOptions() {
  const f = scriptFlags('bench', 'one LoRA optimizer step on a random model of a preset shape', FLAGS);
  const a = {
    engine: (f.engine as EngineKind | undefined) ?? 'cpu',
    preset: (f.preset as string | undefined) ?? 'small',
    batch: (f.batch as number | undefined) ?? 4,
    seq: (f.seq as number | undefined) ?? 64,
    steps: (f.steps as number | undefined) ?? 3,
    threads: f.threads as number | undefined,
    scalar: Boolean(f.scalar),
    quant: (f.quant as Quantization | undefined) ?? 'none',
    matmul: f['no-matmul'] ? false : f.matmul ? true : undefined,
    profile: Boolean(f.profile),
    decode: f['no-decode'] ? false : Boolean(f.decode) || f.engine === 'webgpu',
    countOnly: Boolean(f['count-only']),
    lengths: f.lengths === undefined ? undefined : parseLengths(f.lengths as string),
  };
  if (!PRESETS[a.preset]) throw new Error(`unknown preset "${a.preset}" (${Object.keys(PRESETS).join(', ')})`);
  return a;
}

function parseLengths(v: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(v);
  if (!m || +m[1] < 2 || +m[2] < +m[1])
    throw new Error(`--lengths ${v}: expected lo-hi with 2 <= lo <= hi, e.g. 46-77`);
  return [+m[1], +m[2]];
}

/** Peak resident set of this process (Node reports it in KiB). */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const args = parseOptions();
  if (args.countOnly) {
    if (args.engine !== 'webgpu') throw new Error('--count-only counts WebGPU launches: add --engine webgpu');
    console.log(JSON.stringify(await runCountOnly(args, console.log)));
    return;
  }
  const engine = await createEngine(args.engine, { threads: args.threads, scalar: args.scalar });
  const r = await runStepBench(engine, { ...args, matmul: args.matmul ?? args.engine === 'webgpu' }, console.log);
  const { preset, batch, seq, train_tokens_per_s, ms_per_step, ...rest } = r; // --lengths: seq is the longest row
  const result = {
    engine: args.scalar ? 'cpu-scalar' : args.engine,
    preset,
    batch,
    seq,
    train_tokens_per_s,
    ms_per_step,
    peak_rss_mb: Math.round(peakRssBytes() / 2 ** 20),
    ...rest,
  };
  await engine.dispose();
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
