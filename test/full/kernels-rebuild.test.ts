// The committed kernels.wasm.ts is what kernels.c compiles to: rebuilt with Debian's clang-19 and
// lld-19 (.ci/run installs them; 19.1.7 rebuilds it byte for byte) and compared. Four -O3 builds
// take a minute or more on 2 busy cores, so this is test:full; npm test checks the SHA-256 of
// kernels.c that the build recorded (test/cpu-fast-kernels.test.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { needTool } from '../helpers/skip.ts';

const hasClang = needTool(
  'clang-19 and lld-19 (rebuild kernels.c to compare)',
  spawnSync('clang-19', ['--version']).status === 0
    ? undefined
    : 'no clang-19 (Debian: apt-get install clang-19 lld-19; .ci/run does)',
);
it.skipIf(!hasClang)(
  'kernels.wasm.ts is the build of kernels.c (rebuild: bash scripts/wasm/build.sh)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'kernels-'));
    try {
      const out = join(dir, 'kernels.wasm.ts');
      const r = spawnSync('bash', ['scripts/wasm/build.sh', out], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(out, 'utf8') === readFileSync('src/engine/cpu/fast/kernels.wasm.ts', 'utf8')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  300_000,
); // four -O3 builds: a minute and more on a busy 2-core machine
