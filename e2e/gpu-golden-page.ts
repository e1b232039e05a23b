// Every golden case of test/fixtures/golden (?cases=a,b) replayed on the browser's own WebGPU
// through the engine, files fetched from the dev server; one device for all cases. Results go
// on window.__gpuParity in the parity report's shape for e2e/gpu-chromium.ts.

import { runGoldenCaseFrom } from '../src/cli/golden-case.ts';
import { createWebGpuBackend } from '../src/engine/gpu/backend.ts';
import { publishReport, type ParityResult } from './gpu-cases.ts';

async function main(): Promise<{ adapter: string; results: ParityResult[] }> {
  const cases = (new URLSearchParams(location.search).get('cases') ?? '').split(',').filter(Boolean);
  const backend = await createWebGpuBackend();
  const results: ParityResult[] = [];
  try {
    for (const name of cases) {
      const read = async (file: string) => {
        const r = await fetch(new URL(`../test/fixtures/golden/${name}/${file}`, import.meta.url));
        if (!r.ok) throw new Error(`${name}/${file}: HTTP ${r.status}`);
        return new Uint8Array(await r.arrayBuffer());
      };
      try {
        const { checks } = await runGoldenCaseFrom(read, name, 'webgpu', () => {}, { backend });
        const failed = checks.filter((c) => !c.ok);
        const worst = Math.max(0, ...checks.map((c) => (c.metric === 'maxAbs' ? c.maxAbs : c.relL2) / (c.bound || 1)));
        results.push({
          name: `golden ${name} (${checks.length} checks, ${backend.describe().kernels})`,
          ok: failed.length === 0 && checks.length > 40,
          worst,
          detail: failed.map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`).join('; '),
        });
      } catch (e) {
        results.push({
          name: `golden ${name}`,
          ok: false,
          worst: Infinity,
          detail: `${(e as Error).name}: ${(e as Error).message}`,
        });
      }
    }
    return { adapter: backend.info.device, results };
  } finally {
    backend.dispose();
  }
}

publishReport(main);
