// Puts the WebGPU kernel parity run and the golden cases in headless Chromium (e2e/gpu-chromium.ts) into `npm test`:
// it brings its own vite dev server and browser, so it runs as a child process and its exit
// code decides.

import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LIMIT_MS = 600_000;

export const tests = [
  {
    name: 'WebGPU kernels match the CPU oracle and every golden case passes in Chromium (e2e/gpu-chromium.ts)',
    timeoutMs: LIMIT_MS + 30_000,
    async run(ctx) {
      const r = await new Promise((done) => {
        execFile('npx', ['tsx', 'e2e/gpu-chromium.ts'], { cwd: root, timeout: LIMIT_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
          done({ code: error ? (error.code ?? 1) : 0, killed: Boolean(error?.killed), output: `${stdout}${stderr}` }));
      });
      for (const line of r.output.trimEnd().split('\n')) ctx.log(line);
      if (r.killed) throw new Error(`e2e/gpu-chromium.ts did not finish within ${LIMIT_MS / 1000} s`);
      if (r.code !== 0) {
        const failed = r.output.split('\n').filter((l) => /^\s*FAIL /.test(l)).map((l) => l.trim());
        throw new Error(`e2e/gpu-chromium.ts exited with ${r.code}${failed.length ? `: ${failed.join('; ')}` : ''}`);
      }
    },
  },
];
