// No silent skip: a test that cannot run here says why, and under CI=true it fails instead.
// Every reason is appended to $WEBTUNE_SKIP_LOG (set by scripts/test.mjs) so the closing summary
// lists each skipped test with its reason; without the runner the reason goes to stderr.
//
//   it.skipIf(!needTool('python3 with jinja2', jinjaMissing()))('…', …)
//   describe.skipIf(!needGpu('lavapipe', 'the f16 golden cases'))(…)   (test/helpers/gpu-env.ts)

import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';

/** The test file that called into this module (the first stack frame under test/, not helpers). */
function callerFile(): string {
  const stack = new Error().stack ?? '';
  for (const m of stack.matchAll(/(?:file:\/\/)?(\/[^\s():]+\.test\.ts)/g)) return relative(process.cwd(), m[1]);
  return '?';
}

/** Record why tests of the calling file are skipped (the runner prints it beside their names). */
export function recordSkip(what: string, reason: string, file = callerFile()): void {
  const line = JSON.stringify({ file, what, reason });
  if (process.env.WEBTUNE_SKIP_LOG) appendFileSync(process.env.WEBTUNE_SKIP_LOG, line + '\n');
  else console.warn(`SKIP ${file}: ${what}: ${reason}`);
}

/**
 * true when the test may run (`missing` is undefined). Otherwise: under CI=true throws, so the
 * file fails naming what is missing; locally records the reason and returns false.
 */
export function needTool(what: string, missing: string | undefined): boolean {
  if (!missing) return true;
  if (process.env.CI === 'true') throw new Error(`${what} cannot run under CI: ${missing}`);
  recordSkip(what, missing);
  return false;
}
