// .ci/run on a fresh machine: under `set -o pipefail` a pipe into `grep -q` fails at random
// (grep exits at the first match, the writer gets SIGPIPE: exit 141 in 16 of 100 runs of
// `ldconfig -p | grep -q`), and CI then reinstalls or stops. And it installs every tool a test
// asks for with needTool/needGpu, or CI=true fails those tests.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const script = readFileSync('.ci/run', 'utf8');
const code = script
  .split('\n')
  .filter((l) => !l.trim().startsWith('#'))
  .join('\n');

describe('.ci/run', () => {
  it('pipes nothing into an early-exiting reader under pipefail', () => {
    expect(code).toMatch(/set -euo pipefail/);
    expect(code).not.toMatch(/\|\s*(grep -q|grep -m|head\b)/);
  });
  it('installs what the tests need, fetches lavapipe, and runs both suites under CI=true', () => {
    for (const pkg of ['chromium', 'libvulkan1', 'python3', 'python3-jinja2', 'python3-torch', 'clang-19', 'lld-19'])
      expect(code).toContain(`need+=(${pkg})`);
    expect(code).toMatch(/scripts\/lavapipe\.sh/);
    expect(code).toMatch(/export CI=true/);
    expect(code.indexOf('npm test')).toBeLessThan(code.indexOf('npm run test:full'));
  });
});
