// The benchmark table for a machine with a GPU, on the webgpu engine in Node (Dawn: Vulkan on
// Linux, Metal on macOS, D3D12 on Windows): for each preset (random weights of the real shape)
// train tokens/s of a full optimizer step, decode tokens/s with the KV cache and peak GPU
// memory; then the GFLOP/s of every base matmul shape of the Qwen2.5-0.5B step. stdout gets one
// markdown table, the adapter it ran on, and a final JSON line; each run's log goes to stderr.
//
// Batch 4 x seq 64 by default: the seed's batch, and its rows are 46-77 tokens (median 50, the
// Qwen tokenizer on public/samples/meeting-train.json); a micro-batch pads to its longest row,
// so 64 is what nearly every micro-batch of the seed's job runs at.
//
//   npx tsx scripts/bench-gpu.ts                        # tiny, mid, qwen2.5-0.5b; 0.5B matmul shapes
//   npx tsx scripts/bench-gpu.ts --quick                # tiny only, batch 2 x seq 16, tiny's matmul shapes
//   npx tsx scripts/bench-gpu.ts --presets mid --seq 384 --steps 5 --cpu
//   npx tsx scripts/bench-gpu.ts --chromium             # also the step in headless Chromium (CHROMIUM=/path)
//   npx tsx scripts/bench-gpu.ts --quick --chromium-swiftshader   # Chromium with --disable-gpu
//
// Where Dawn finds no GPU driver it uses SwiftShader (a CPU emulation); the output says so. The
// GPU kit (scripts/gpu-kit.sh) bundles this script and runs it on a bare GPU machine.

import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createEngine, type EngineKind } from '../src/engine/create.ts';
import type { Engine } from '../src/engine/engine.ts';
import type { Ops } from '../src/engine/ops.ts';
import { scriptFlags, type FlagSpec } from '../src/cli/args.ts';
import { PRESETS, presetConfig, runStepBench } from './bench-core.ts';
import { measureMatmuls, stepProjections, type MatmulResult } from './bench-matmul.ts';

const FLAGS: Record<string, FlagSpec> = {
  quick: {
    kind: 'bool',
    help: 'tiny only, 1 step, batch 2 x seq 16, 3 decode tokens, matmuls at tiny shapes (a check that the script works, e.g. on SwiftShader)',
  },
  presets: {
    kind: 'string',
    help: `comma-separated presets (${Object.keys(PRESETS).join(', ')}; default tiny,mid,qwen2.5-0.5b)`,
  },
  'matmul-preset': { kind: 'string', help: 'whose step matmul shapes to time (default qwen2.5-0.5b; none skips)' },
  batch: { kind: 'int', min: 1, help: "rows per micro-batch (default 4, the seed's)" },
  seq: { kind: 'int', min: 2, help: "tokens per row (default 64: the seed's rows are 46-77 tokens)" },
  steps: { kind: 'int', min: 1, help: 'timed optimizer steps (default 3)' },
  cpu: { kind: 'bool', help: "also the fast CPU engine's train and decode rows" },
  chromium: { kind: 'bool', help: 'also the step in headless Chromium with real-GPU flags' },
  'chromium-swiftshader': { kind: 'bool', help: 'also the step in headless Chromium with --disable-gpu' },
  f16: {
    kind: 'choice',
    choices: ['on', 'off'],
    help: 'the shader-f16 matmul tiles where the GPU has them (on, default) or f32 tiles (off)',
  },
};

export interface BenchGpuOptions {
  presets: string[];
  matmulPreset: string | null;
  batch: number;
  seq: number;
  steps: number;
  /** Greedy tokens timed for decode tokens/s (fewer if seq has no room). */
  decodeTokens: number;
  cpu: boolean;
  chromium: 'real' | 'swiftshader' | null;
  /** false: f32 matmul tiles even where the GPU has shader-f16 (--f16 off). */
  f16?: boolean;
}

export function parseBenchGpuOptions(argv: string[]): BenchGpuOptions {
  const f = scriptFlags(
    'bench-gpu',
    'train/decode tokens/s, matmul GFLOP/s and peak GPU memory on WebGPU as one table',
    FLAGS,
    argv,
  );
  const base = f.quick
    ? { presets: ['tiny'], matmulPreset: 'tiny', steps: 1, batch: 2, seq: 16, decodeTokens: 3 }
    : {
        presets: ['tiny', 'mid', 'qwen2.5-0.5b'],
        matmulPreset: 'qwen2.5-0.5b',
        steps: 3,
        batch: 4,
        seq: 64,
        decodeTokens: 32,
      };
  // An explicit flag wins over --quick's choice, whatever their order.
  const presets = f.presets !== undefined ? (f.presets as string).split(',') : base.presets;
  const mp = (f['matmul-preset'] as string | undefined) ?? base.matmulPreset;
  for (const p of [...presets, ...(mp === 'none' ? [] : [mp])]) presetConfig(p); // unknown names fail here, before any work
  return {
    presets,
    matmulPreset: mp === 'none' ? null : mp,
    batch: (f.batch as number | undefined) ?? base.batch,
    seq: (f.seq as number | undefined) ?? base.seq,
    steps: (f.steps as number | undefined) ?? base.steps,
    decodeTokens: base.decodeTokens,
    cpu: Boolean(f.cpu),
    chromium: f['chromium-swiftshader'] ? 'swiftshader' : f.chromium ? 'real' : null,
    f16: f.f16 !== 'off',
  };
}

/** What WebGpuOps offers for memory: the byte counter, and the allocator every buffer goes through. */
interface Counted {
  allocatedBytes?(): number;
  memory?: { createBuffer?: (...args: unknown[]) => unknown };
}

/**
 * Peak of the engine's own GPU byte counter. Buffers are only ever added in createBuffer, so
 * reading the counter after each one gives the exact peak; where that hook is missing, the
 * counter is sampled after load, each step and decoding ('sampled', a lower bound).
 */
function trackPeak(ops: unknown): { sample(): void; peak(): number; how: 'exact' | 'sampled' } | null {
  const o = ops as Counted;
  if (typeof o.allocatedBytes !== 'function') return null;
  const read = () => o.allocatedBytes!();
  let peak = read();
  const sample = () => void (peak = Math.max(peak, read()));
  const mem = o.memory;
  if (mem && typeof mem.createBuffer === 'function') {
    const create = mem.createBuffer.bind(mem);
    mem.createBuffer = (...args: unknown[]) => {
      const buffer = create(...args);
      sample();
      return buffer;
    };
    return { sample, peak: () => peak, how: 'exact' };
  }
  return { sample, peak: () => peak, how: 'sampled' };
}

/**
 * Decode tokens/s with the KV cache: greedy generation of 1 + n tokens minus that of 1 token from
 * the same prompt, so the prompt's prefill cancels. The longest run fits the loaded maxSeq.
 */
async function decodeRate(
  engine: Engine,
  vocab: number,
  seq: number,
  maxNew: number,
  repeats: number,
): Promise<{ tokens_per_s: number; new_tokens: number; prompt: number } | null> {
  const P = Math.max(1, Math.min(8, seq >> 2)),
    n = Math.min(maxNew, seq - P - 1);
  if (n < 1) return null;
  const prompt = Int32Array.from({ length: P }, (_, i) => (i * 7919 + 13) % vocab);
  const opts = { temperature: 0, topK: 0, topP: 1, stopTokens: [], seed: 0 };
  const time = async (k: number) => {
    const t0 = performance.now();
    const r = await engine.generate(prompt, { ...opts, maxNewTokens: k });
    if (r.tokens.length !== k) throw new Error(`decode: asked for ${k} tokens, got ${r.tokens.length}`);
    return performance.now() - t0;
  };
  await time(1 + n); // warm-up: pipelines, the cache's buffers
  let one = Infinity,
    all = Infinity;
  for (let k = 0; k < repeats; k++) {
    one = Math.min(one, await time(1));
    all = Math.min(all, await time(1 + n));
  }
  return { tokens_per_s: round(n / (Math.max(all - one, 1e-3) / 1000)), new_tokens: n, prompt: P };
}

const round = (x: number) => Number(x.toPrecision(4));
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

interface PresetRun {
  engine: string;
  preset: string;
  adapter: string;
  features: string[];
  /** runStepBench's fields plus decode and peak memory, or why there are none. */
  result: Record<string, unknown> | { error: string };
}

export interface MatmulRun {
  preset: string;
  N: number;
  result: (MatmulResult & { shapes: Record<string, { In: number; O: number }> }) | { error: string };
}

async function benchPreset(
  kind: EngineKind,
  preset: string,
  o: BenchGpuOptions,
  measureMatmulsToo: boolean,
): Promise<{ run: PresetRun; matmuls?: MatmulRun }> {
  const log = (l: string) => process.stderr.write(`${l}\n`);
  log(`\n# ${kind} ${preset}, batch ${o.batch} x seq ${o.seq}`);
  let engine: Awaited<ReturnType<typeof createEngine>> | null = null;
  let adapter = '?',
    features: string[] = [],
    kernels: string | undefined;
  try {
    engine = await createEngine(kind, o.f16 === false ? { gpu: { features: { f16: false } } } : {});
    const info = await engine.info();
    adapter = info.device;
    features = info.features;
    kernels = info.kernels;
    if (kernels) log(`kernels: ${kernels}`);
    for (const n of info.notices ?? []) log(`notice: ${n}`);
    const peak = kind === 'webgpu' ? trackPeak(engine.ops) : null;
    const step = await runStepBench(engine, { preset, batch: o.batch, seq: o.seq, steps: o.steps, matmul: false }, log);
    peak?.sample();
    const cfg = presetConfig(preset);
    const decode = await decodeRate(engine, cfg.vocabSize, o.seq, o.decodeTokens, o.decodeTokens > 8 ? 2 : 1);
    peak?.sample();
    if (decode)
      log(
        `decode: ${decode.tokens_per_s} tokens/s (${decode.new_tokens} new tokens after a ${decode.prompt}-token prompt)`,
      );
    const result: Record<string, unknown> = {
      ...step,
      kernels,
      decode_tokens_per_s: decode?.tokens_per_s ?? null,
      decode_prompt: decode?.prompt,
      decode_new_tokens: decode?.new_tokens,
    };
    if (peak) {
      result.peak_gpu_mb = mib(peak.peak());
      result.peak_gpu_counter = peak.how;
      log(`peak GPU memory (${peak.how}): ${mib(peak.peak())} MiB`);
    } else {
      result.peak_rss_mb = mib(process.resourceUsage().maxRSS * 1024);
    }
    let matmuls: MatmulRun | undefined;
    if (measureMatmulsToo) matmuls = await timeMatmuls(engine, preset, o);
    return { run: { engine: kind, preset, adapter, features, result }, matmuls };
  } catch (e) {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return { run: { engine: kind, preset, adapter, features, result: { error: errorLine(e) } } };
  } finally {
    await engine?.dispose();
  }
}

async function timeMatmuls(engine: { ops: unknown }, preset: string, o: BenchGpuOptions): Promise<MatmulRun> {
  const cfg = presetConfig(preset),
    N = o.batch * o.seq,
    shapes = stepProjections(cfg);
  const t0 = performance.now();
  try {
    const m = await measureMatmuls(engine.ops as Ops<unknown, unknown>, cfg, N, 8, 200, 'none', shapes);
    process.stderr.write(
      `matmul GFLOP/s at N = ${N} (${m.timing}, ${((performance.now() - t0) / 1000).toFixed(1)} s): ${Object.entries(
        m.gflops,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}\n`,
    );
    return { preset, N, result: { ...m, shapes } };
  } catch (e) {
    process.stderr.write(`matmuls failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return { preset, N, result: { error: errorLine(e) } };
  }
}

const errorLine = (e: unknown) =>
  (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split('\n')[0].replace(/\|/g, '/');

/** Software rasterizers: their numbers say nothing about a GPU. */
export const isCpuEmulation = (adapter: string) => /swiftshader|llvmpipe|lavapipe|software|cpu/i.test(adapter);

const MATMUL_NAMES: Record<string, string> = {
  q: 'q',
  k_v: 'k / v',
  o: 'o',
  qkv: 'q|k|v fused',
  gate_up: 'gate / up',
  gate_up_fused: 'gate|up fused',
  down: 'down',
  lm_head: 'logits (lm_head)',
};

/** The one table: a row per measured number, so presets and matmul shapes share its columns. */
export function formatTable(runs: PresetRun[], matmuls: MatmulRun | null, o: BenchGpuOptions): string[] {
  const rows: string[][] = [];
  const shape = `${o.batch} x ${o.seq}`;
  for (const r of runs) {
    const who = r.engine === 'webgpu' ? r.preset : `${r.preset} (${r.engine})`;
    if ('error' in r.result) {
      rows.push(['train', who, shape, `failed: ${r.result.error}`, '']);
      continue;
    }
    const j = r.result;
    rows.push(['train', who, shape, String(j.train_tokens_per_s), `tokens/s (${j.ms_per_step} ms/step)`]);
    if (j.decode_tokens_per_s !== null)
      rows.push([
        'decode',
        who,
        `1 row, ${j.decode_new_tokens} tokens after ${j.decode_prompt}`,
        String(j.decode_tokens_per_s),
        'tokens/s (greedy, KV cache)',
      ]);
    if (j.peak_gpu_mb !== undefined)
      rows.push(['peak GPU memory', who, shape, String(j.peak_gpu_mb), `MiB (${j.gpu_mb} allocated by load)`]);
    else if (j.peak_rss_mb !== undefined) rows.push(['peak RSS', who, shape, String(j.peak_rss_mb), 'MiB']);
  }
  if (matmuls) {
    if ('error' in matmuls.result)
      rows.push(['matmul', matmuls.preset, `N ${matmuls.N}`, `failed: ${matmuls.result.error}`, '']);
    else {
      const m = matmuls.result;
      for (const [k, s] of Object.entries(m.shapes)) {
        for (const dir of ['fwd', 'bwd'] as const) {
          const v = m.gflops[`${k}_${dir}`];
          if (v === undefined) continue;
          const what =
            dir === 'fwd' ? `${matmuls.N} x ${s.In} · (${s.O} x ${s.In})ᵀ` : `${matmuls.N} x ${s.O} · ${s.O} x ${s.In}`;
          rows.push([
            `matmul ${MATMUL_NAMES[k] ?? k} ${dir === 'fwd' ? 'x·Wᵀ' : 'dY·W'}`,
            matmuls.preset,
            what,
            String(v),
            `GFLOP/s (${m.timing})`,
          ]);
        }
      }
      const lora = mainGateUp(matmuls);
      for (const dir of ['fwd', 'bwd'] as const) {
        const v = m.gflops[`lora_${dir}`];
        if (v !== undefined)
          rows.push([`matmul LoRA ${dir}`, matmuls.preset, `r 8 on ${lora}`, String(v), `GFLOP/s (${m.timing})`]);
      }
    }
  }
  const header = ['what', 'model', 'shape', 'value', 'unit'];
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => ' --- ').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

function mainGateUp(m: MatmulRun): string {
  if ('error' in m.result) return '?';
  const s = m.result.shapes.gate_up;
  return `gate/up (${m.N} x ${s.In} -> ${s.O})`;
}

export async function benchGpu(
  o: BenchGpuOptions,
): Promise<{ lines: string[]; json: Record<string, unknown>; ok: boolean }> {
  const runs: PresetRun[] = [];
  let matmuls: MatmulRun | null = null;
  for (const preset of o.presets) {
    const r = await benchPreset('webgpu', preset, o, preset === o.matmulPreset);
    runs.push(r.run);
    if (r.matmuls) matmuls = r.matmuls;
    if (o.chromium) {
      const { runChromiumStep } = await import('./bench-gpu-chromium.ts');
      const c = await runChromiumStep(preset, o, o.chromium);
      runs.push({
        engine: o.chromium === 'real' ? 'chromium' : 'chromium-swiftshader',
        preset,
        adapter: c.adapter,
        features: [],
        result: c.result,
      });
    }
    if (o.cpu) runs.push((await benchPreset('cpu', preset, o, false)).run);
  }
  if (o.matmulPreset && !matmuls) {
    // shapes of a preset whose step was not run: an engine without a model
    const engine = await createEngine('webgpu');
    try {
      matmuls = await timeMatmuls(engine, o.matmulPreset, o);
    } finally {
      await engine.dispose();
    }
  }
  const gpu = runs.find((r) => r.engine === 'webgpu' && r.adapter !== '?') ?? runs[0];
  const adapter = gpu?.adapter ?? '?';
  const cpu = cpus();
  const lines = [
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpu.length} x ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}`,
    `adapter: ${adapter}${gpu?.features.length ? ` [${gpu.features.join(', ')}]` : ''}`,
    ...(gpu && 'kernels' in gpu.result && gpu.result.kernels ? [`kernels: ${gpu.result.kernels}`] : []),
    ...(isCpuEmulation(adapter)
      ? ['CPU EMULATION: this adapter is a software rasterizer; its numbers say nothing about GPU speed']
      : []),
    `batch ${o.batch} x seq ${o.seq}, ${o.steps} timed step(s), LoRA r 8 on all seven projections, random bf16 weights of each preset's shape`,
    '',
    ...formatTable(runs, matmuls, o),
  ];
  const json = {
    bench: 'bench-gpu',
    adapter,
    features: gpu?.features ?? [],
    cpu_emulation: isCpuEmulation(adapter),
    batch: o.batch,
    seq: o.seq,
    steps: o.steps,
    runs: runs.map((r) => ({ engine: r.engine, preset: r.preset, adapter: r.adapter, ...r.result })),
    matmul: matmuls && { preset: matmuls.preset, N: matmuls.N, ...matmuls.result },
  };
  const ok = runs.every((r) => !('error' in r.result)) && !(matmuls && 'error' in matmuls.result);
  return { lines, json, ok };
}

export async function benchGpuMain(argv: string[]): Promise<number> {
  const o = parseBenchGpuOptions(argv);
  const { lines, json, ok } = await benchGpu(o);
  console.log(['', ...lines, ''].join('\n'));
  console.log(JSON.stringify(json));
  return ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchGpuMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(2);
    },
  );
}
