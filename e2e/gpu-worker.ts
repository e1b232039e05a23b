// The training engine runs in a worker, so WebGPU must work there too: a few kernels, checked
// against the CPU oracle from inside a dedicated worker.

import { CpuOps } from '../src/engine/cpu/ops.ts';
import { createWebGpuOps } from '../src/engine/gpu/create.ts';
import { runParity } from './gpu-cases.ts';

(async () => {
  try {
    const gpu = await createWebGpuOps();
    const results = await runParity(new CpuOps(), gpu, (c) =>
      /matmul bf16|lora forward\+backward dropout 0.1|cross-entropy bf16/.test(c.name),
    );
    gpu.dispose();
    postMessage(results);
  } catch (e) {
    postMessage({ error: `${(e as Error).name}: ${(e as Error).message}` });
  }
})();
