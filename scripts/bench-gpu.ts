// The benchmark table for a machine with a GPU: runs scripts/bench.ts on the webgpu engine
// (Node's Dawn: Vulkan on Linux, Metal on macOS, D3D12 on Windows) and on the fast CPU engine
// for each preset, and prints one markdown table with the adapter each run used. Where Dawn
// finds no GPU driver it falls back to SwiftShader (a CPU emulation): the adapter column says so.
// --chromium adds the same step in headless Chromium on its own WebGPU (e2e/gpu-bench-page.ts,
// served by vite), the way the app runs.
//
//   npx tsx scripts/bench-gpu.ts                       # small, mid, qwen2.5-0.5b at batch 4 x seq 64
//   npx tsx scripts/bench-gpu.ts --quick               # small only, 1 step, batch 2 x seq 16
//   npx tsx scripts/bench-gpu.ts --presets mid --batch 4 --seq 384 --steps 5 --no-cpu
//   npx tsx scripts/bench-gpu.ts --chromium            # also in Chromium (CHROMIUM=/path, default /usr/bin/chromium)
//   npx tsx scripts/bench-gpu.ts --quick --chromium-swiftshader   # Chromium with --disable-gpu (no GPU here)
//
// Each run's own output goes to stderr as it happens; stdout gets only the table.

import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { scriptFlags, type FlagSpec } from '../src/cli/args.ts';

interface Options {
  presets: string[];
  batch: number;
  seq: number;
  steps: number;
  cpu: boolean;
  /** Chromium's GPU flags: real for a GPU, swiftshader for none, or no Chromium runs. */
  chromium: 'real' | 'swiftshader' | null;
}

const FLAGS: Record<string, FlagSpec> = {
  quick: { kind: 'bool', help: 'small only, 1 step, batch 2 x seq 16' },
  presets: { kind: 'string', help: 'comma-separated presets (default small,mid,qwen2.5-0.5b)' },
  batch: { kind: 'int', min: 1, help: 'rows per micro-batch (default 4)' },
  seq: { kind: 'int', min: 1, help: 'tokens per row (default 64)' },
  steps: { kind: 'int', min: 1, help: 'timed steps (default 3)' },
  'no-cpu': { kind: 'bool', help: 'skip the CPU engine rows' },
  chromium: { kind: 'bool', help: 'add the step in headless Chromium with real-GPU flags' },
  'chromium-swiftshader': { kind: 'bool', help: 'add the step in headless Chromium with --disable-gpu' },
};

function parseOptions(): Options {
  const f = scriptFlags('bench-gpu', 'the WebGPU and CPU step benchmark as one markdown table', FLAGS);
  const base = f.quick ? { presets: ['small'], steps: 1, batch: 2, seq: 16 } : { presets: ['small', 'mid', 'qwen2.5-0.5b'], steps: 3, batch: 4, seq: 64 };
  return {
    // An explicit flag wins over --quick's choice, whatever their order.
    presets: f.presets !== undefined ? (f.presets as string).split(',') : base.presets,
    batch: (f.batch as number | undefined) ?? base.batch,
    seq: (f.seq as number | undefined) ?? base.seq,
    steps: (f.steps as number | undefined) ?? base.steps,
    cpu: !f['no-cpu'],
    chromium: f['chromium-swiftshader'] ? 'swiftshader' : f.chromium ? 'real' : null,
  };
}

interface Run {
  engine: string;
  preset: string;
  /** The bench's last line, or why there is none. */
  result: Record<string, unknown> | { error: string };
  /** What bench.ts printed as "engine: ..." (the adapter or CPU kernels). */
  device: string;
}

function runBench(engine: string, preset: string, o: Options): Promise<Run> {
  const args = ['tsx', 'scripts/bench.ts', '--engine', engine, '--preset', preset, '--batch', String(o.batch), '--seq', String(o.seq), '--steps', String(o.steps)];
  if (engine === 'cpu') args.push('--matmul');
  process.stderr.write(`\n$ npx ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      process.stderr.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      process.stderr.write(d);
    });
    child.on('close', (code) => {
      const lines = out.trim().split('\n');
      const device = /^engine: (.*?)(?: \[.*\])?$/m.exec(out)?.[1] ?? '?';
      let result: Run['result'];
      try {
        result = code === 0 ? JSON.parse(lines[lines.length - 1]) : { error: lastLine(err) || `exit code ${code}` };
      } catch {
        result = { error: `no JSON line: ${lastLine(out)}` };
      }
      resolve({ engine, preset, result, device });
    });
  });
}

const COMMON_FLAGS = ['--headless=new', '--enable-unsafe-webgpu', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// Chrome's advice for WebGPU in headless Linux on a GPU (Vulkan through ANGLE); not tried on a GPU here
const REAL_GPU_FLAGS = ['--use-angle=vulkan', '--enable-features=Vulkan', '--disable-vulkan-surface'];
const CHROMIUM_LIMIT_MS = 60 * 60_000;

/** The same step in headless Chromium, through vite serving e2e/gpu-bench-page.html. */
async function runChromium(preset: string, o: Options): Promise<Run> {
  const engine = `chromium${o.chromium === 'swiftshader' ? '-swiftshader' : ''}`;
  process.stderr.write(`\n$ chromium e2e/gpu-bench-page.html?preset=${preset} (${o.chromium} flags)\n`);
  const [{ chromium }, { createServer }] = await Promise.all([import('playwright-core'), import('vite')]);
  const vite = await createServer({
    configFile: false, root: fileURLToPath(new URL('..', import.meta.url)), logLevel: 'error',
    server: { host: '127.0.0.1', port: 5320, strictPort: false, hmr: false }, optimizeDeps: { noDiscovery: true, include: [] },
  });
  await vite.listen();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...COMMON_FLAGS, ...(o.chromium === 'swiftshader' ? ['--disable-gpu'] : REAL_GPU_FLAGS)],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => process.stderr.write(`${m.text()}\n`));
    page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    const query = new URLSearchParams({ preset, batch: String(o.batch), seq: String(o.seq), steps: String(o.steps) });
    await page.goto(new URL(`e2e/gpu-bench-page.html?${query}`, vite.resolvedUrls!.local[0]).href);
    await page.waitForFunction(() => (window as { __bench?: unknown }).__bench !== undefined, null, { timeout: CHROMIUM_LIMIT_MS, polling: 1000 });
    const result = (await page.evaluate(() => (window as { __bench?: unknown }).__bench)) as Run['result'];
    process.stderr.write(`${JSON.stringify(result)}\n`);
    const device = 'error' in result ? '?' : String(result.adapter ?? '?');
    return { engine, preset, result, device };
  } catch (e) {
    return { engine, preset, result: { error: (e as Error).message.split('\n')[0] }, device: '?' };
  } finally {
    await browser.close();
    await vite.close();
  }
}

const lastLine = (s: string) => s.trim().split('\n').filter((l) => !/XDG_RUNTIME_DIR/.test(l)).pop() ?? '';

const MATMULS: [string, string][] = [['gate_up', 'gate/up'], ['down', 'down'], ['q_o', 'q/o'], ['lora', 'LoRA']];

function row(r: Run, o: Options): string {
  const cells = [r.engine, r.preset, `${o.batch} x ${o.seq}`];
  if ('error' in r.result) return `| ${[...cells, `failed: ${String(r.result.error).replace(/\|/g, '/')}`, '', '', '', '', '', '', '', r.device].join(' | ')} |`;
  const j = r.result;
  const g = (j.matmul_gflops ?? {}) as Record<string, number>;
  const pair = (k: string) => (g[`${k}_fwd`] === undefined ? '' : `${g[`${k}_fwd`]} / ${g[`${k}_bwd`]}`);
  const memory = j.gpu_mb !== undefined ? `${j.gpu_mb} GPU` : `${j.peak_rss_mb} RSS`;
  return `| ${[...cells, j.train_tokens_per_s, j.ms_per_step, memory, ...MATMULS.map(([k]) => pair(k)), j.matmul_timing ?? '', r.device].join(' | ')} |`;
}

async function main(): Promise<void> {
  const o = parseOptions();
  const runs: Run[] = [];
  for (const preset of o.presets) {
    runs.push(await runBench('webgpu', preset, o));
    if (o.chromium) runs.push(await runChromium(preset, o));
    if (o.cpu) runs.push(await runBench('cpu', preset, o));
  }
  const cpu = cpus();
  const header = ['engine', 'preset', 'batch x seq', 'tokens/s', 'ms/step', 'memory MiB', ...MATMULS.map(([, name]) => `${name} GFLOP/s fwd / bwd`), 'timing', 'adapter'];
  console.log(`\n${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpu.length} x ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}, ${o.steps} timed step(s)\n`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => ' --- ').join('|')}|`);
  for (const r of runs) console.log(row(r, o));
  if (runs.some((r) => 'error' in r.result)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(2);
});
