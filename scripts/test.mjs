// The one test runner behind `npm test` (fast) and `npm run test:full` (the rest): which files
// each runs is the rule at the top of vitest.config.ts. Runs its parts side by side in lanes,
// never chained with `&&` (a vitest failure does not hide the browser flows), then prints, over all
// parts, every skipped test with its reason and the closing line `N passed, N failed, N skipped`.
//
//   node scripts/test.mjs fast|full [--only typecheck,format,vitest,e2e] [vitest file filters…]
//
// Under CI=true a skip for a missing tool or device fails where the test asks (needTool/needGpu),
// and a skip that recorded no reason fails here. Exit 1 on any failure.
// Each part's whole output is kept in test-results/<suite>-<part>.log. The format part is
// `npm run format:check` (prettier, .prettierrc.json): it fails naming every unformatted file.

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closing, e2eResults, formatResults, skipReasons, vitestResults } from './test-summary.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test-results');
const CI = process.env.CI === 'true';

// vite 8 (the build the browser tests serve) needs Node ^20.19.0 || >=22.12.0: say so first.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19) || major === 21 || (major === 22 && minor < 12)) {
  console.error(
    `Node ${process.versions.node} is too old: Webtune needs Node ^20.19.0 or >= 22.12.0 (vite 8), see "engines" in package.json`,
  );
  process.exit(1);
}

const { values, positionals } = parseArgs({ options: { only: { type: 'string' } }, allowPositionals: true });
const suite = positionals[0];
if (suite !== 'fast' && suite !== 'full') {
  console.error('usage: node scripts/test.mjs fast|full [--only typecheck,format,vitest,e2e] [vitest file filters…]');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const file = (part, ext) => join(out, `${suite}-${part}.${ext}`);
const skipLog = file('skips', 'jsonl');
rmSync(skipLog, { force: true });

/** Runs one part, its lines prefixed on the console and kept whole in its log file (and in `output`). */
function run(part, cmd, args, env = {}) {
  const started = Date.now();
  const log = createWriteStream(file(part, 'log'));
  let output = '';
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.on('data', (chunk) => {
        log.write(chunk);
        output += chunk;
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop();
        for (const l of lines) console.log(`[${part}] ${l}`);
      });
      stream.on('end', () => rest && console.log(`[${part}] ${rest}`));
    }
    const finish = (code, why) => {
      log.end();
      done({ part, code, why, output, seconds: (Date.now() - started) / 1000 });
    };
    child.on('error', (e) => finish(1, e.message));
    child.on('close', (code, signal) => finish(code ?? 1, signal ? `killed by ${signal}` : undefined));
  });
}

const vitestJson = file('vitest', 'json');
const e2eJson = file('e2e', 'json');
const parts = {
  typecheck: () => run('typecheck', 'npx', ['tsc', '--noEmit', '-p', '.']),
  format: () => run('format', 'npm', ['run', '-s', 'format:check']),
  vitest: () => {
    rmSync(vitestJson, { force: true });
    return run(
      'vitest',
      'npx',
      [
        'vitest',
        'run',
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${vitestJson}`,
        ...positionals.slice(1),
      ],
      {
        WEBTUNE_SUITE: suite,
        WEBTUNE_SKIP_LOG: skipLog,
      },
    );
  },
  e2e: () => {
    rmSync(e2eJson, { force: true });
    return run('e2e', 'node', ['e2e/run.mjs', '--suite', suite, '--summary', e2eJson]);
  },
};
// Lanes run side by side, parts within a lane one after another. The type check and the format
// check are short and leave their core to the browser flows; vitest takes both workers the config
// gives it. Both suites check the format, so `npm run test:full` alone still catches it.
const lanes = suite === 'fast' ? [['vitest'], ['typecheck', 'format', 'e2e']] : [['vitest'], ['format', 'e2e']];
const only = values.only?.split(',');
const started = Date.now();
// The built-in tiny model (public/models/tiny) first: vitest files read it while the browser
// lane's build would write it, so it must exist before the lanes start, not race with them.
const tiny = await run('tiny-model', 'npm', ['run', '-s', 'tiny']);
if (tiny.code !== 0) {
  console.error('npm run tiny failed: the tests need the built-in tiny model (test-results/*-tiny-model.log)');
  process.exit(1);
}
const finished = (
  await Promise.all(
    lanes.map(async (lane) => {
      const done = [];
      for (const p of lane) if (!only || only.includes(p)) done.push(await parts[p]());
      return done;
    }),
  )
).flat();

// ---- the count over all parts ----
const readJson = (path) => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined);
const parts_ = finished.map((r) => ({
  part: r.part,
  seconds: r.seconds,
  results:
    r.part === 'typecheck'
      ? [
          {
            name: 'typecheck (tsc --noEmit)',
            status: r.code === 0 ? 'passed' : 'failed',
            reason: r.why ?? (r.code ? `see ${relative(root, file('typecheck', 'log'))}` : undefined),
          },
        ]
      : r.part === 'format'
        ? formatResults(r.output, r)
        : r.part === 'vitest'
          ? vitestResults(readJson(vitestJson), {
              ...r,
              ci: CI,
              rel: (p) => relative(root, p),
              log: relative(root, file('vitest', 'log')),
              reasons: skipReasons(existsSync(skipLog) ? readFileSync(skipLog, 'utf8') : ''),
            })
          : e2eResults(readJson(e2eJson), r),
}));
const { lines, ok } = closing(
  `${suite === 'fast' ? 'npm test' : 'npm run test:full'}: ${((Date.now() - started) / 1000).toFixed(0)} s`,
  parts_,
);
for (const l of lines) console.log(l);
process.exit(ok ? 0 : 1);
