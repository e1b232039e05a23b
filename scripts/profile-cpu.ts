// Where a CPU training step's time goes: every kernel call of the backend (each runs to completion
// before it returns: the fast backend's worker pool is joined inside the call) timed by wall clock
// and summed by kernel, over one optimizer step of one micro-batch after a warm-up step.
//
//   npx tsx scripts/profile-cpu.ts [--preset qwen2.5-0.5b] [--batch 4] [--seq 64] [--threads 2] [--lengths 46-77]
//
// Prints a table (kernel, calls, ms, share) and one JSON line. --lengths profiles a packed ragged
// micro-batch (bench --lengths' first one) instead of B x T real tokens.

import { createEngine } from '../src/engine/create.ts';
import { DEFAULT_LORA, DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';
import { scriptFlags, type FlagSpec } from '../src/cli/args.ts';
import { microBatch, presetConfig, raggedMicroBatch, randomWeights, rowLengths } from './bench-core.ts';

const FLAGS: Record<string, FlagSpec> = {
  preset: { kind: 'string', help: 'model shape (default qwen2.5-0.5b)' },
  batch: { kind: 'int', min: 1, help: 'rows (default 4)' },
  seq: { kind: 'int', min: 1, help: 'tokens per row (default 64)' },
  threads: { kind: 'int', min: 1, help: 'CPU worker threads (default 2)' },
  lengths: { kind: 'string', help: 'lo-hi: a ragged micro-batch (packed) instead' },
};

async function main(): Promise<void> {
  const f = scriptFlags('profile-cpu', 'time each CPU kernel over one training step', FLAGS);
  const preset = (f.preset as string | undefined) ?? 'qwen2.5-0.5b',
    B = (f.batch as number | undefined) ?? 4,
    T = (f.seq as number | undefined) ?? 64;
  const lengths = f.lengths ? ((f.lengths as string).split('-').map(Number) as [number, number]) : null;
  const cfg = presetConfig(preset);
  const engine = await createEngine('cpu', { threads: (f.threads as number | undefined) ?? 2 });
  await engine.load(cfg, randomWeights(cfg, 1), {
    maxBatch: B,
    maxSeq: lengths ? lengths[1] : T,
    lora: { ...DEFAULT_LORA, r: 8, alpha: 32, dropout: 0.1 },
  });
  await engine.initLora(1);
  const batch = lengths ? raggedMicroBatch(cfg, rowLengths(B, 1, ...lengths), 7) : microBatch(cfg, B, T, 7);
  const opts = { ...DEFAULT_OPTIMIZER, lr: 1e-4, dropoutSeed: 0 };
  await engine.step([batch], opts);
  const ops = engine.ops as unknown as Record<string, unknown>;
  const byKernel = new Map<string, { calls: number; ms: number }>();
  const names = new Set<string>();
  for (let p = Object.getPrototypeOf(ops); p && p !== Object.prototype; p = Object.getPrototypeOf(p))
    for (const n of Object.getOwnPropertyNames(p))
      if (
        n !== 'constructor' &&
        typeof ops[n] === 'function' &&
        /Forward|Backward|adamw|globalNorm|gatherRows|scatterAddRows|addInPlace|zero|copy|upload|read$/.test(n)
      )
        names.add(n);
  let depth = 0; // a kernel calling another (attention per packed row) is timed once, at the top
  for (const n of names) {
    const fn = (ops[n] as (...a: unknown[]) => unknown).bind(ops);
    ops[n] = (...a: unknown[]) => {
      if (depth++) {
        try {
          return fn(...a);
        } finally {
          depth--;
        }
      }
      const t0 = performance.now();
      try {
        return fn(...a);
      } finally {
        depth--;
        const e = byKernel.get(n) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += performance.now() - t0;
        byKernel.set(n, e);
      }
    };
  }
  const t0 = performance.now();
  await engine.step([batch], opts);
  const total = performance.now() - t0;
  await engine.dispose();
  const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms);
  const inKernels = rows.reduce((a, [, e]) => a + e.ms, 0);
  console.log(
    `${preset}, ${lengths ? `rows ${rowLengths(B, 1, ...lengths).join(', ')} packed` : `${B} x ${T}`}: step ${total.toFixed(0)} ms, ${inKernels.toFixed(0)} ms in kernels`,
  );
  console.log('| kernel | calls | ms | share of step |');
  console.log('| --- | --- | --- | --- |');
  for (const [n, e] of rows)
    console.log(`| ${n} | ${e.calls} | ${e.ms.toFixed(0)} | ${((100 * e.ms) / total).toFixed(1)}% |`);
  console.log(
    `| outside kernels | | ${(total - inKernels).toFixed(0)} | ${((100 * (total - inKernels)) / total).toFixed(1)}% |`,
  );
  console.log(
    JSON.stringify({
      preset,
      batch: B,
      seq: T,
      step_ms: Math.round(total),
      kernels: Object.fromEntries(rows.map(([n, e]) => [n, { calls: e.calls, ms: Math.round(e.ms) }])),
    }),
  );
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
