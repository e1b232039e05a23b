// THE RULE (which tests `npm test` runs and which only `npm run test:full` runs):
//
//   test/*.test.ts        fast: `npm test` (scripts/test.mjs fast). Must answer in the 10-minute
//                         budget of the whole `npm test` on 2 cores; a file over ~30 s goes to full.
//   test/full/*.test.ts   slow: only `npm run test:full` (scripts/test.mjs full). Moving a slow file
//                         there is the whole decision (imports become '../../src/…', '../helpers/…').
//   e2e flows             fast unless the flow's entry in `tests` says `full: true` (e2e/run.mjs).
//
// Node GPU tests import './helpers/gpu-env.ts' FIRST (lavapipe, else SwiftShader) and call
// needGpu(); tools a test needs (python3, jinja2, clang, torch) go through needTool() in
// test/helpers/skip.ts, so a skip names its reason in the closing summary and fails under CI=true.
// WEBTUNE_SUITE=fast selects test/*.test.ts, =full test/full/ (scripts/test.mjs sets it); unset
// (a plain `npx vitest run test/full/foo.test.ts` while working on one file) includes both.
import { defineConfig } from 'vitest/config';

const suite = process.env.WEBTUNE_SUITE;
const FAST = 'test/*.test.ts',
  FULL = 'test/full/**/*.test.ts';

export default defineConfig({
  test: {
    include: suite === 'fast' ? [FAST] : suite === 'full' ? [FULL] : [FAST, FULL],
    // test/full holds the slow tests by definition: 5 minutes each there (a busy 2-core machine
    // took 120 s for the kill -9 export test and a parity case), 2 in the fast set.
    testTimeout: suite === 'fast' ? 120_000 : 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // 2 workers on the 2-core machine: most files wait on a child process, WASM threads or Dawn.
    maxWorkers: 2,
    // The tiny test models are built once per run, not once per file.
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
