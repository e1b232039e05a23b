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

import { createEngine, type EngineKind } from '../src/engine/create.ts';
import { PRESETS, runStepBench } from './bench-core.ts';

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

/** Peak resident set of this process (Node reports it in KiB). */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const engine = await createEngine(args.engine, { threads: args.threads, scalar: args.scalar });
  const r = await runStepBench(engine, { ...args, matmul: args.matmul ?? args.engine === 'webgpu' }, console.log);
  const { preset, batch, seq, train_tokens_per_s, ms_per_step, ...rest } = r;
  const result = {
    engine: args.scalar ? 'cpu-scalar' : args.engine, preset, batch, seq, train_tokens_per_s, ms_per_step,
    peak_rss_mb: Math.round(peakRssBytes() / 2 ** 20), ...rest,
  };
  await engine.dispose();
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
