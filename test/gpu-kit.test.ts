// The GPU kit's runner bundle (esbuild, a second or two). The kit end to end (build, unpack,
// run.sh on SwiftShader) takes 25 minutes here: `npm run kit:check` (scripts/kit/check.sh), not
// part of npm test.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleKit } from '../scripts/kit/bundle.ts';

describe('the kit runner bundle', () => {
  it('is one file with every shader inline that runs the CLI, bench-gpu and logits without the repo', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtune-kit-'));
    try {
      const out = join(dir, 'webtune-kit.mjs');
      await bundleKit(out);
      expect(readdirSync(dir)).toEqual(['webtune-kit.mjs']);
      const text = readFileSync(out, 'utf8');
      for (const f of readdirSync(new URL('../shaders/', import.meta.url)).filter((n) => n.endsWith('.wgsl'))) {
        // the file's longest plain line (minifying may re-quote the text, not change such a line)
        const line = readFileSync(new URL(`../shaders/${f}`, import.meta.url), 'utf8')
          .split('\n')
          .filter((l) => !/[\\"'`$]/.test(l))
          .reduce((a, b) => (b.length > a.length ? b : a), '');
        expect(line.length, f).toBeGreaterThan(20);
        expect(text, f).toContain(line);
      }
      // run from an empty folder: nothing beside the bundle is read for these
      const run = (...args: string[]) => execFileSync(process.execPath, [out, ...args], { cwd: dir, encoding: 'utf8' });
      expect(run('--help')).toMatch(/^  golden /m);
      expect(run('--help')).toMatch(/^  export /m);
      expect(run('golden', '--help')).toContain('--engine');
      expect(run('bench-gpu', '--help')).toContain('--quick');
      expect(run('logits', '--help')).toContain('--adapter');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
