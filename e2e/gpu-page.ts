// Runs the kernel parity cases (gpu-cases.ts) in the page and in a dedicated worker, on the
// browser's own WebGPU, and leaves the results on window.__gpuParity for gpu-chromium.ts.

import { CpuOps } from '../src/engine/cpu/ops.ts';
import { createWebGpuOps } from '../src/engine/gpu/create.ts';
import { publishReport, runParity, type PageReport, type ParityResult } from './gpu-cases.ts';

const WEIGHTED = /embedding|matmul|cross-entropy|mergeLora|linear/;

async function main(): Promise<PageReport> {
  const gpu = await createWebGpuOps();
  const results = await runParity(new CpuOps(), gpu);
  // small chunks and vocabulary slices: the split paths a real 151936-row embedding takes
  const tight = await createWebGpuOps({ maxWeightChunkBytes: 160, ceSliceElements: 40 });
  for (const r of await runParity(new CpuOps(), tight, (c) => WEIGHTED.test(c.name)))
    results.push({ ...r, name: `chunked ${r.name}` });
  tight.dispose();
  const worker = new Worker(new URL('./gpu-worker.ts', import.meta.url), { type: 'module' });
  const fromWorker = await new Promise<ParityResult[]>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<ParityResult[] | { error: string }>) =>
      'error' in e.data ? reject(new Error(e.data.error)) : resolve(e.data);
    worker.onerror = (e) => reject(new Error(`worker: ${e.message}`));
  });
  worker.terminate();
  for (const r of fromWorker) results.push({ ...r, name: `worker ${r.name}` });
  const report = { adapter: gpu.info.device, results };
  gpu.dispose();
  return report;
}

publishReport(main);
