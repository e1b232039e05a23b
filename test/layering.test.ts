// The architecture as a test: each layer imports only from layers below it (or beside it), no
// module imports itself around a cycle, the page loads without the model code, and no source file
// grows past 450 lines (string tables and the C kernels aside).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importCycles, importGraph, listFiles, reachable } from './helpers/imports.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const rel = (dir: string, exts: string[]) => listFiles(`${root}${dir}`, exts).map((f) => f.slice(root.length));
const SRC = rel('src', ['.ts']);
const graph = importGraph(root, SRC);

// core < engine, io, tokenizer < data, train < eval, export < worker, cli < ui
const RANK: Record<string, number> = {
  core: 0,
  engine: 1,
  io: 1,
  tokenizer: 1,
  data: 2,
  train: 2,
  eval: 3,
  export: 3,
  worker: 4,
  cli: 4,
  ui: 5,
};
function layer(file: string): string {
  const top = file.split('/')[1];
  if (top === 'main.ts') return 'ui'; // the page's entry point
  if (!(top in RANK)) throw new Error(`${file} is in no layer: add its folder to RANK`);
  return top;
}

describe('layering', () => {
  it('reads the imports it checks (the scanner sees type, dynamic and re-exported imports)', () => {
    expect(graph.get('src/worker/api.ts')).toContain('src/train/recipe.ts'); // `import type` and `export type ... from`
    expect(graph.get('src/engine/create.ts')).toContain('src/engine/cpu/fast/backend.ts'); // await import('./cpu/fast/backend.ts')
    expect(
      importCycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b', 'c']]);
  });

  it('no layer imports from a layer above it', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph)
      for (const dep of deps)
        if (RANK[layer(dep)] > RANK[layer(file)])
          upward.push(`${file} (${layer(file)}) imports ${dep} (${layer(dep)})`);
    expect(upward).toEqual([]);
  });

  it('has no import cycles', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it('the page bundle does not pull in the model (the worker holds it; the memory plan is pure)', () => {
    const page = reachable(graph, 'src/main.ts');
    expect(page.has('src/ui/model/memory-card.ts')).toBe(true);
    expect(page.has('src/engine/plan.ts')).toBe(true);
    expect(
      [...page].filter((f) => /^src\/engine\/(model|lora-engine|create)\.ts$|^src\/engine\/(cpu|gpu)\//.test(f)),
    ).toEqual([]);
  });
});

describe("the page's folders", () => {
  // ui/ is split by screen plus the shell (app/) and shared parts; a page file named like a file
  // of a lower layer (ui/loop.ts beside train/loop.ts) made imports and stack traces ambiguous.
  const FOLDERS = ['app', 'shared', 'model', 'data', 'train', 'evaluate', 'playground', 'export'];
  const ui = SRC.filter((f) => f.startsWith('src/ui/'));
  const base = (f: string) => f.slice(f.lastIndexOf('/') + 1);

  it('every page file sits in a screen folder, app/ or shared/', () => {
    expect(ui.length).toBeGreaterThan(40);
    expect(ui.filter((f) => !FOLDERS.includes(f.split('/')[2]) || f.split('/').length !== 4)).toEqual([]);
  });

  it('no page file shares its name with a file of another layer or another page folder', () => {
    const others = new Set(SRC.filter((f) => !f.startsWith('src/ui/')).map(base));
    const names = ui.map(base);
    expect(names.filter((n) => others.has(n))).toEqual([]);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });
});

describe('file size', () => {
  // String tables and the C kernels are long by nature; everything else is split before 450 lines.
  const EXEMPT = new Set([
    'src/ui/shared/i18n.ts',
    'src/engine/cpu/fast/kernels.c',
    'src/engine/cpu/fast/kernels.wasm.ts',
  ]);
  const sources = [
    ...rel('src', ['.ts', '.c']),
    ...rel('shaders', ['.wgsl']),
    ...rel('scripts', ['.ts', '.mjs', '.py']),
    ...rel('e2e', ['.ts', '.mjs']),
  ];

  it('finds the sources it measures', () => {
    expect(sources).toContain('src/train/trainer.ts');
    expect(sources).toContain('shaders/matmul.wgsl');
  });

  it('no source file is over 450 lines', () => {
    const long = sources
      .filter((f) => !EXEMPT.has(f))
      .map((f) => [f, readFileSync(`${root}${f}`, 'utf8').split('\n').length - 1] as const)
      .filter(([, n]) => n > 450);
    expect(long).toEqual([]);
  });
});
