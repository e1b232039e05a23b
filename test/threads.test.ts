// `?threads=N` from a link: clamped to the machine's cores, junk ignored (src/worker/threads.ts),
// and both the page and the worker go through it (a crafted link or worker name must not start
// 100000 workers).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clampThreads } from '../src/worker/threads.ts';

describe('clampThreads', () => {
  it('keeps 1..cores, clamps above, ignores junk', () => {
    expect(clampThreads('1', 8)).toBe(1);
    expect(clampThreads('8', 8)).toBe(8);
    expect(clampThreads('100000', 8)).toBe(8);
    expect(clampThreads('9007199254740993', 4)).toBe(undefined);
    expect(clampThreads('3', undefined)).toBe(1);
    for (const junk of ['0', '-2', '1.5', 'abc', '', null, undefined, '1e9'])
      expect(clampThreads(junk, 8), String(junk)).toBe(undefined);
  });

  it('is what the page and the worker read ?threads through', () => {
    const root = new URL('..', import.meta.url).pathname;
    expect(readFileSync(root + 'src/main.ts', 'utf8')).toMatch(
      /clampThreads\(new URLSearchParams\(location\.search\)\.get\('threads'\), navigator\.hardwareConcurrency\)/,
    );
    expect(readFileSync(root + 'src/worker/worker.ts', 'utf8')).toMatch(/const threads = clampThreads\(/);
  });
});
