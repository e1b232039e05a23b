// Sizes a real dataset or a long run reaches: a spread of an array into a call (Math.max(...x),
// push(...x)) throws "Maximum call stack size exceeded" past ~120k elements, which is how a
// 265k-row file crashed `train`. Functional checks of the places that meet such arrays, and a
// scan that keeps the pattern out of the layers that handle rows, examples and steps.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lossDomain } from '../src/ui/shared/chart-math.ts';
import { importDataset, splitDataset } from '../src/data/dataset.ts';
import { makeMicroBatch } from '../src/train/trainer.ts';

const N = 150_000; // past the ~125k arguments a spread into a call takes

describe('arrays of a few hundred thousand', () => {
  it('the loss chart range over 150k steps', () => {
    const values = Array.from({ length: N }, (_, i) => 3 - i / N);
    const [lo, hi] = lossDomain(values);
    expect(lo).toBeCloseTo(2 - 0.05, 4);
    expect(hi).toBeCloseTo(3 + 0.05, 4);
  });

  it('a 150k-row JSON lines file imports, splits, and its longest example sizes a batch', () => {
    const text = Array.from({ length: N }, (_, i) => `{"instruct":"q","input":"${i}","output":"a${i % 7}"}`).join('\n');
    const d = importDataset(text, { file: 'big.jsonl' });
    expect(d.rows).toHaveLength(N);
    expect(d.rows[N - 1].origin).toEqual({ line: N });
    const s = splitDataset(d.rows, { evalFraction: 0.1, seed: 1 });
    expect(s.train.length + s.eval.length).toBe(N);
    const mb = makeMicroBatch(
      [
        { ids: new Int32Array(3), labels: new Int32Array(3), truncated: 0 },
        { ids: new Int32Array(5), labels: new Int32Array(5), truncated: 0 },
      ],
      0,
    );
    expect(mb.T).toBe(5);
  });
});

describe('no array spread into a call where rows, examples or steps flow', () => {
  // The import, example, training, evaluation and page code that sees every row or every step.
  const roots = ['src/train', 'src/eval', 'src/ui'];
  const single = [
    'src/data/dataset.ts',
    'src/data/json-items.ts',
    'src/data/encoding.ts',
    'src/data/examples.ts',
    'src/cli/commands/train.ts',
    'src/cli/commands/eval.ts',
    'src/cli/commands/common.ts',
    'src/data/control-text.ts',
    'src/data/stream-examples.ts',
    'src/data/token-store.ts',
    'src/data/row-hashes.ts',
  ];
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });

  it('has no Math.max(...x), Math.min(...x) or push(...x)', () => {
    const hits: string[] = [];
    const all = [
      ...roots.flatMap((r) => files(new URL(`../${r}`, import.meta.url).pathname)),
      ...single.map((f) => new URL(`../${f}`, import.meta.url).pathname),
    ];
    for (const f of all)
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/Math\.(max|min)\([^)]*\.\.\.|\.push\(\s*\.\.\./.test(line))
            hits.push(`${f.split('/src/')[1]}:${i + 1}: ${line.trim()}`);
        });
    expect(hits).toEqual([]);
  });
});
