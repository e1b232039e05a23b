// The training-step benchmark (scripts/bench-core.ts) on the browser's own WebGPU, for
// scripts/bench-gpu.ts --chromium: options come in the query string (?preset=small&batch=2&seq=16&steps=1),
// progress goes to the console, and the JSON result is left on window.__bench.

import { createWebGpuBackend } from '../src/engine/gpu/backend.ts';
import { LoraEngine } from '../src/engine/lora-engine.ts';
import { runStepBench } from '../scripts/bench-core.ts';

declare global {
  interface Window {
    __bench?: Record<string, unknown> | { error: string };
  }
}

async function main(): Promise<Record<string, unknown>> {
  const q = new URLSearchParams(location.search);
  const num = (k: string, fallback: number) => Number(q.get(k) ?? fallback);
  const engine = new LoraEngine(await createWebGpuBackend());
  try {
    const r = await runStepBench(
      engine,
      {
        preset: q.get('preset') ?? 'small',
        batch: num('batch', 4),
        seq: num('seq', 64),
        steps: num('steps', 3),
        matmul: true,
      },
      (line) => console.log(line),
    );
    return { engine: 'webgpu-chromium', ...r };
  } finally {
    await engine.dispose();
  }
}

const status = document.getElementById('status')!;
main()
  .then((r) => {
    window.__bench = r;
    status.textContent = 'done';
  })
  .catch((e: Error) => {
    window.__bench = { error: `${e.name}: ${e.message}` };
    status.textContent = 'failed';
  });
