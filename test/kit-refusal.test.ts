// The GPU kit's run.sh on a software adapter (lavapipe, else SwiftShader): its preflight lines
// (glibc, xz, python3) come first, then it refuses with one line naming the adapter and the way
// round (KIT_ALLOW_EMULATION=1), before any section runs. The kit is the real run.sh and the
// real runner bundle, unpacked by hand into its work folder (the kit's own Node is this one).
import { needGpu } from './helpers/gpu-env.ts';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundleKit } from '../scripts/kit/bundle.ts';
import { softwareAdapter } from '../scripts/kit/adapter.ts';

const run = needGpu('any', 'the GPU kit refusing a software adapter');
let dir = '';

beforeAll(async () => {
  if (!run) return;
  dir = mkdtempSync(join(tmpdir(), 'webtune-kit-refusal-'));
  const work = join(dir, 'work');
  mkdirSync(join(work, 'node_modules'), { recursive: true });
  copyFileSync('scripts/kit/run.sh', join(dir, 'run.sh'));
  await bundleKit(join(work, 'webtune-kit.mjs'));
  symlinkSync(resolve('node_modules/webgpu'), join(work, 'node_modules', 'webgpu'));
  // no node.xz / payload.tar.xz beside run.sh: it finds the work folder unpacked already
  writeFileSync(join(work, 'node'), `#!/bin/sh\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!run)('the GPU kit on a software adapter', () => {
  it('knows the software adapters by name', () => {
    for (const s of [
      'llvmpipe (LLVM 15.0.6, 256 bits)',
      'Google SwiftShader',
      'Microsoft Basic Render Driver',
      'WARP',
      'mesa software llvmpipe-llvm-15',
    ])
      expect(softwareAdapter(s), s).toBe(true);
    for (const s of [
      'NVIDIA GeForce RTX 4090',
      'apple m2',
      'AMD Radeon RX 7900 XTX (RADV NAVI31)',
      'Intel(R) Arc(tm) A770 Graphics (DG2)',
    ])
      expect(softwareAdapter(s), s).toBe(false);
  });

  it('checks glibc, xz and python3 first, then refuses with one line unless KIT_ALLOW_EMULATION=1', () => {
    const env = { ...process.env, KIT_ALLOW_EMULATION: '' };
    const r = spawnSync('bash', [join(dir, 'run.sh'), join(dir, 'results')], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(2);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 3).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'PASS glibc',
      expect.stringMatching(/^(PASS|SKIP) xz$/),
      expect.stringMatching(/^(PASS|SKIP) python3$/),
    ]);
    expect(lines[0]).toMatch(/glibc 2\.\d+ \(>= 2\.34\)$/);
    expect(lines.slice(3)).toEqual([
      expect.stringMatching(
        /^FAIL  adapter +REFUSED: .*(llvmpipe|[Ss]wift[Ss]hader).* is a software adapter, not a GPU; KIT_ALLOW_EMULATION=1 runs the kit on it anyway$/,
      ),
    ]);
    const adapter = readFileSync(join(dir, 'results', 'adapter.txt'), 'utf8');
    expect(adapter).toMatch(/^adapter: .+\ndriver: .+\n$/);
    // nothing past the refusal ran
    expect(
      readFileSync(join(dir, 'results', 'summary.txt'), 'utf8')
        .split('\n')
        .filter(Boolean),
    ).toHaveLength(4);
  }, 120_000);

  it('with KIT_ALLOW_EMULATION=1 the adapter step goes on', () => {
    const r = spawnSync(join(dir, 'work', 'node'), [join(dir, 'work', 'webtune-kit.mjs'), 'adapter'], {
      env: { ...process.env, KIT_ALLOW_EMULATION: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^adapter: .+\ndriver: .+\n$/);
  }, 60_000);
});
