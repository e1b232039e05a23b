// The build's version in the service worker's own bytes (scripts/precache.ts, run by
// vite.config.ts after the bundle is written): a build with other contents gets another sw.js,
// which is what makes browsers install it; the same contents give the same bytes. Oracle: the
// files' own SHA-256 and the worker text before and after.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION_LINE, writePrecache } from '../scripts/precache.ts';

const root = new URL('..', import.meta.url).pathname;
const sw = readFileSync(join(root, 'public/sw.js'), 'utf8');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-sw-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function fakeBuild(dir: string, bundle: string): void {
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<script src="./assets/index-abc12345.js"></script>');
  writeFileSync(join(dir, 'assets/index-abc12345.js'), bundle);
  mkdirSync(join(dir, 'samples'), { recursive: true });
  writeFileSync(join(dir, 'samples/meeting-train.json'), '[]');
  writeFileSync(join(dir, 'sw.js'), sw);
}

describe('the service worker of a build', () => {
  it('carries the version in its bytes: new contents, new worker; the same contents, the same worker', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => join(tmp, n));
    fakeBuild(a, 'console.log(1)');
    fakeBuild(b, 'console.log(1)');
    fakeBuild(c, 'console.log(2)');
    const [va, vb, vc] = [a, b, c].map((d) => writePrecache(d));
    expect(va.version).toBe(vb.version);
    expect(vc.version).not.toBe(va.version);
    const swA = readFileSync(join(a, 'sw.js'), 'utf8'),
      swC = readFileSync(join(c, 'sw.js'), 'utf8');
    expect(swA).not.toBe(swC);
    expect(swA).toContain(`const VERSION = '${va.version}';`);
    expect(readFileSync(join(b, 'sw.js'), 'utf8')).toBe(swA);
    // Only the version line differs from the source.
    expect(swA.replace(VERSION_LINE, '')).toBe(sw.replace(VERSION_LINE, ''));
    const list = JSON.parse(readFileSync(join(a, 'precache.json'), 'utf8'));
    expect(list).toEqual({
      version: va.version,
      files: ['assets/index-abc12345.js', 'index.html', 'samples/meeting-train.json'],
    });
  });

  it('a worker source without the version line fails the build instead of never updating', () => {
    const d = join(tmp, 'bad');
    fakeBuild(d, 'x');
    writeFileSync(join(d, 'sw.js'), sw.replace(VERSION_LINE, ''));
    expect(() => writePrecache(d)).toThrow(/no "const VERSION/);
  });

  it('waits for the page before taking over, and revalidates what is not a hashed bundle file', () => {
    expect(sw).toMatch(VERSION_LINE);
    expect(sw).toMatch(/if \(!self\.registration\.active\) await self\.skipWaiting\(\);/);
    expect(sw).toMatch(/event\.data\.type === 'skip-waiting'\) self\.skipWaiting\(\)/);
    expect(sw).toMatch(/if \(!immutable\(url\)\) return isolated\(await revalidated\(request\)\);/);
  });
});
