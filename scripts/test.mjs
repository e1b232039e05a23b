// The one test runner behind `npm test` (fast) and `npm run test:full` (the rest): which files
// each runs is the rule at the top of vitest.config.ts. Runs its parts side by side in lanes,
// never chained with `&&` (a vitest failure does not hide the browser flows), then prints, over all
// parts, every skipped test with its reason and the closing line `N passed, N failed, N skipped`.
//
//   node scripts/test.mjs fast|full [--only typecheck,vitest,e2e] [vitest file filters…]
//
// Under CI=true a skip for a missing tool or device fails where the test asks (needTool/needGpu),
// and a skip that recorded no reason fails here. Exit 1 on any failure.
// Each part's whole output is kept in test-results/<suite>-<part>.log.

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test-results');
const CI = process.env.CI === 'true';

// vite 8 (the build the browser tests serve) needs Node 20.19 or later: say so first.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`Node ${process.versions.node} is too old: Webtune needs Node >= 20.19 (vite 8), see "engines" in package.json`);
  process.exit(1);
}

const { values, positionals } = parseArgs({ options: { only: { type: 'string' } }, allowPositionals: true });
const suite = positionals[0];
if (suite !== 'fast' && suite !== 'full') {
  console.error('usage: node scripts/test.mjs fast|full [--only typecheck,vitest,e2e] [vitest file filters…]');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const file = (part, ext) => join(out, `${suite}-${part}.${ext}`);
const skipLog = file('skips', 'jsonl');
rmSync(skipLog, { force: true });

/** Runs one part, its lines prefixed on the console and kept whole in its log file. */
function run(part, cmd, args, env = {}) {
  const started = Date.now();
  const log = createWriteStream(file(part, 'log'));
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.on('data', (chunk) => {
        log.write(chunk);
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop();
        for (const l of lines) console.log(`[${part}] ${l}`);
      });
      stream.on('end', () => rest && console.log(`[${part}] ${rest}`));
    }
    const finish = (code, why) => {
      log.end();
      done({ part, code, why, seconds: (Date.now() - started) / 1000 });
    };
    child.on('error', (e) => finish(1, e.message));
    child.on('close', (code, signal) => finish(code ?? 1, signal ? `killed by ${signal}` : undefined));
  });
}

const vitestJson = file('vitest', 'json');
const e2eJson = file('e2e', 'json');
const parts = {
  typecheck: () => run('typecheck', 'npx', ['tsc', '--noEmit', '-p', '.']),
  vitest: () => {
    rmSync(vitestJson, { force: true });
    return run('vitest', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`, ...positionals.slice(1)], {
      WEBTUNE_SUITE: suite,
      WEBTUNE_SKIP_LOG: skipLog,
    });
  },
  e2e: () => {
    rmSync(e2eJson, { force: true });
    return run('e2e', 'node', ['e2e/run.mjs', '--suite', suite, '--summary', e2eJson]);
  },
};
// Lanes run side by side, parts within a lane one after another. The type check is short and
// leaves its core to the browser flows; vitest takes both workers the config gives it.
const lanes = suite === 'fast' ? [['vitest'], ['typecheck', 'e2e']] : [['vitest'], ['e2e']];
const only = values.only?.split(',');
const started = Date.now();
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
const results = []; // { name, status: passed|failed|skipped, reason? }
const byPart = {};
for (const r of finished) {
  const before = results.length;
  if (r.part === 'typecheck') results.push({ name: 'typecheck (tsc --noEmit)', status: r.code === 0 ? 'passed' : 'failed', reason: r.why });
  if (r.part === 'vitest') vitestResults(r);
  if (r.part === 'e2e') e2eResults(r);
  byPart[r.part] = { seconds: r.seconds, results: results.slice(before) };
}

function vitestResults(r) {
  if (!existsSync(vitestJson)) {
    results.push({ name: 'vitest', status: 'failed', reason: `exited ${r.code} without a report${r.why ? ` (${r.why})` : ''}` });
    return;
  }
  const report = JSON.parse(readFileSync(vitestJson, 'utf8'));
  const reasons = skipReasons();
  for (const f of report.testResults) {
    const rel = relative(root, f.name);
    let failedHere = 0;
    for (const a of f.assertionResults) {
      const name = `${rel} > ${a.fullName}`;
      if (a.status === 'passed') results.push({ name, status: 'passed' });
      else if (a.status === 'failed') {
        failedHere++;
        results.push({ name, status: 'failed', reason: a.failureMessages?.[0]?.split('\n')[0] });
      } else {
        const why = reasons.get(rel);
        // No silent skip: under CI a skip that names no reason is a failure.
        results.push({ name, status: !why && CI ? 'failed' : 'skipped', reason: why ?? 'no reason recorded (use needTool/needGpu from test/helpers)' });
      }
    }
    // A file that failed outside any test (import error, a throwing describe, a hook) counts once.
    if (f.status === 'failed' && failedHere === 0) results.push({ name: `${rel} (the file)`, status: 'failed', reason: f.message?.split('\n')[0] });
  }
  if (r.code !== 0 && !results.some((x) => x.status === 'failed' && x.name.includes('.test.ts')))
    results.push({ name: 'vitest', status: 'failed', reason: `exited ${r.code} with every test passing (an unhandled error? see ${relative(root, file('vitest', 'log'))})` });
}

function skipReasons() {
  const map = new Map();
  if (!existsSync(skipLog)) return map;
  for (const line of readFileSync(skipLog, 'utf8').split('\n').filter(Boolean)) {
    const { file: f, what, reason } = JSON.parse(line);
    const text = `${what}: ${reason}`;
    const prev = map.get(f);
    if (!prev?.includes(text)) map.set(f, prev ? `${prev}; ${text}` : text);
  }
  return map;
}

function e2eResults(r) {
  if (!existsSync(e2eJson)) {
    results.push({ name: 'e2e/run.mjs', status: 'failed', reason: `exited ${r.code} without a summary${r.why ? ` (${r.why})` : ''}` });
    return;
  }
  for (const t of JSON.parse(readFileSync(e2eJson, 'utf8'))) results.push({ name: `e2e ${t.name}`, status: t.status, reason: t.reason });
  if (r.code !== 0 && !results.some((x) => x.status === 'failed' && x.name.startsWith('e2e')))
    results.push({ name: 'e2e/run.mjs', status: 'failed', reason: `exited ${r.code}` });
}

const count = (list, st) => list.filter((x) => x.status === st).length;
console.log(`\n==== ${suite === 'fast' ? 'npm test' : 'npm run test:full'}: ${((Date.now() - started) / 1000).toFixed(0)} s ====`);
for (const [part, { seconds, results: rs }] of Object.entries(byPart))
  console.log(`${part}: ${count(rs, 'passed')} passed, ${count(rs, 'failed')} failed, ${count(rs, 'skipped')} skipped (${seconds.toFixed(0)} s)`);
const failed = results.filter((x) => x.status === 'failed');
if (failed.length) {
  console.log('\nfailed:');
  for (const f of failed) console.log(`  ✗ ${f.name}${f.reason ? `: ${f.reason}` : ''}`);
}
const skipped = results.filter((x) => x.status === 'skipped');
if (skipped.length) {
  console.log('\nskipped:');
  for (const s of skipped) console.log(`  ↓ ${s.name}: ${s.reason}`);
}
console.log(`\n${count(results, 'passed')} passed, ${failed.length} failed, ${skipped.length} skipped`);
process.exit(failed.length || results.length === 0 ? 1 : 0);
