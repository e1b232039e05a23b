// Puts the worker/download/cache browser checks (e2e/io-browser.ts) into `npm test`: the runner
// only loads .mjs flow modules, and io-browser.ts is TypeScript that brings its own local hub,
// vite dev server and Chromium, so it runs as a child process and its exit code decides.

import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LIMIT_MS = 240_000;

function runIoBrowser() {
  return new Promise((done) => {
    execFile(
      'npx',
      ['tsx', 'e2e/io-browser.ts'],
      { cwd: root, timeout: LIMIT_MS, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        done({ code: error ? (error.code ?? 1) : 0, killed: Boolean(error?.killed), output: `${stdout}${stderr}` });
      },
    );
  });
}

// Only in `npm run test:full` (e2e/run.mjs): `npm test` keeps to its 10-minute budget.
export const full = true;

export const tests = [
  {
    name: 'download, cache, resume and worker checks (e2e/io-browser.ts)',
    timeoutMs: LIMIT_MS + 30_000,
    async run(ctx) {
      const r = await runIoBrowser();
      for (const l of r.output.trimEnd().split('\n')) ctx.log(l);
      if (r.killed) throw new Error(`e2e/io-browser.ts did not finish within ${LIMIT_MS / 1000} s`);
      const failed = r.output
        .split('\n')
        .filter((l) => /^\s*FAIL /.test(l))
        .map((l) => l.trim());
      if (r.code !== 0)
        throw new Error(`e2e/io-browser.ts exited with ${r.code}${failed.length ? `: ${failed.join('; ')}` : ''}`);
    },
  },
];
