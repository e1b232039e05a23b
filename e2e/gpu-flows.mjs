// The WebGPU kernel parity cases and two golden cases in headless Chromium on SwiftShader
// (e2e/gpu-chromium.ts), in `npm run test:full`: it brings its own vite dev server and browser, so
// it runs as a child process; its exit code and one passing line per named golden case decide.
// (Every golden case on every path runs in Node on lavapipe; here the browser's own shader compiler
// and page. `npx tsx e2e/gpu-chromium.ts --golden all` replays them all in Chromium.)

import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// 568 s at load 25 on 2 cores (247 s on a quiet machine): room for a busy CI runner.
const LIMIT_MS = 900_000;
const GOLDEN = ['qwen3-bf16', 'nf4-odd-f32'];

export const tests = [
  {
    name: `WebGPU kernel parity cases and the golden cases ${GOLDEN.join(' and ')} in Chromium (e2e/gpu-chromium.ts)`,
    full: true,
    timeoutMs: LIMIT_MS + 30_000,
    async run(ctx) {
      const r = await new Promise((done) => {
        execFile(
          'npx',
          ['tsx', 'e2e/gpu-chromium.ts', '--golden', GOLDEN.join(',')],
          { cwd: root, timeout: LIMIT_MS, maxBuffer: 16 << 20 },
          (error, stdout, stderr) =>
            done({ code: error ? (error.code ?? 1) : 0, killed: Boolean(error?.killed), output: `${stdout}${stderr}` }),
        );
      });
      for (const line of r.output.trimEnd().split('\n')) ctx.log(line);
      if (r.killed) throw new Error(`e2e/gpu-chromium.ts did not finish within ${LIMIT_MS / 1000} s`);
      if (r.code !== 0) {
        const failed = r.output
          .split('\n')
          .filter((l) => /^\s*FAIL /.test(l))
          .map((l) => l.trim());
        throw new Error(`e2e/gpu-chromium.ts exited with ${r.code}${failed.length ? `: ${failed.join('; ')}` : ''}`);
      }
      // the name says which golden cases ran: each must have its own passing line
      const missing = GOLDEN.filter((c) => !new RegExp(`^\\s*ok\\s+.*\\b${c}\\b`, 'm').test(r.output));
      if (missing.length) throw new Error(`no passing line for ${missing.join(', ')} in e2e/gpu-chromium.ts's output`);
    },
  },
];
