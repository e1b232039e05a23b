// The WebAssembly SIMD kernels against their scalar twins (src/engine/cpu/fast/scalar.ts):
// sizes that are not multiples of the SIMD width, the micro-tile or the cache blocks; f32,
// bf16, f16 and NF4 operands; one and two threads; plain and relaxed SIMD.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32ToBf16, f32ToF16, type WeightFormat } from '../src/core/dtype.ts';
import { dequantizeNf4, quantizeNf4 } from '../src/core/nf4.ts';
import { SeededRng } from '../src/core/rng.ts';
import { EngineError, OutOfMemoryError } from '../src/core/errors.ts';
import { WasmHeap } from '../src/engine/cpu/fast/heap.ts';
import { FastKernels } from '../src/engine/cpu/fast/kernels.ts';
import { dropoutScalar, gemmScalar } from '../src/engine/cpu/fast/scalar.ts';
import { dropoutKeep } from '../src/engine/ops.ts';

function maxRelErr(actual: Float32Array, expected: Float32Array): number {
  let scale = 1e-6,
    err = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= err)) err = d; // NaN propagates
  }
  return err / scale;
}

function randomWeights(rng: SeededRng, n: number, dtype: WeightFormat): Float32Array | Uint16Array | Uint32Array {
  const f = rng.fillNormal(new Float32Array(n), 0.5);
  if (dtype === 'f32') return f;
  if (dtype === 'nf4') return quantizeNf4(f, 'f32');
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = dtype === 'bf16' ? f32ToBf16(f[i]) : f32ToF16(f[i]);
  if (dtype === 'f16') {
    // subnormal halves take their own path in the widening
    out[3] = 0x0001;
    out[7] = 0x83ff;
    out[11] = 0x0200;
  }
  return out;
}

interface Config {
  name: string;
  threads: number;
  relaxed: boolean;
  shared: boolean;
}

const CONFIGS: Config[] = [
  { name: '1 thread, SIMD128, private memory', threads: 1, relaxed: false, shared: false },
  { name: '1 thread, relaxed SIMD', threads: 1, relaxed: true, shared: true },
  { name: '2 threads, SIMD128', threads: 2, relaxed: false, shared: true },
  { name: '2 threads, relaxed SIMD', threads: 2, relaxed: true, shared: true },
];

// (M, J, K) with the layouts the backend uses; odd sizes, K across several 256-blocks,
// J across several 128-column blocks and a partial 8-wide panel.
const shapes = (mjk: [number, number, number][]) => mjk.map(([M, J, K]) => ({ M, J, K }));
const SHAPES = shapes([
  [37, 151, 301],
  [5, 9, 3],
  [70, 8, 517],
  [8, 203, 67],
  // fewer rows than a micro-tile (generation): dot products straight from the weight rows
  [1, 300, 517],
  [3, 70, 33],
]);

// NF4 needs J * K in whole 64-value blocks; K or J not a multiple of 8 (or of 4) leaves the
// vectorized dequantization for the element-wise one
const NF4_SHAPES = shapes([
  [37, 64, 300],
  [5, 9, 64],
  [70, 8, 520],
  [8, 203, 64],
  [6, 64, 37],
  [1, 300, 512],
  [3, 70, 32],
  [2, 64, 37],
]);

type Layout = 'forward' | 'backward' | 'transposedA';

for (const cfg of CONFIGS) {
  describe(`fast kernels: ${cfg.name}`, () => {
    let k: FastKernels;
    beforeAll(async () => {
      k = await FastKernels.create({ threads: cfg.threads, relaxed: cfg.relaxed, shared: cfg.shared, parallelMin: 0 });
    });
    afterAll(() => k.dispose());

    it('reports what it runs', () => {
      expect(k.threads).toBe(cfg.threads);
      expect(k.relaxed).toBe(cfg.relaxed);
      expect(k.shared).toBe(cfg.shared);
    });

    for (const dtype of ['f32', 'bf16', 'f16', 'nf4'] as const) {
      for (const layout of ['forward', 'backward', 'transposedA'] as Layout[]) {
        it(`gemm ${layout}, ${dtype} B, matches the scalar twin`, () => {
          const rng = new SeededRng(7);
          for (const { M, J, K } of dtype === 'nf4' ? NF4_SHAPES : SHAPES) {
            for (const accumulate of [false, true]) {
              const a = rng.fillNormal(new Float32Array(M * K), 1);
              const b = randomWeights(rng, J * K, dtype);
              const c0 = rng.fillNormal(new Float32Array(M * J), 1);
              const bias = rng.fillNormal(new Float32Array(J), 1);
              const alpha = accumulate ? 0.75 : 1;
              // forward: B(k, j) = W[j, k] (weight rows along k); backward: B(k, j) = W[k, j]
              const [sBk, sBj] = layout === 'forward' ? [1, K] : [J, 1];
              const [sAm, sAk] = layout === 'transposedA' ? [1, M] : [K, 1];
              const h = k.heap,
                mark = h.mark();
              const pa = h.allocBytes(a.byteLength, 'a'),
                pb = h.allocBytes(b.byteLength, 'b');
              const pc = h.allocBytes(c0.byteLength, 'c'),
                pbias = h.allocBytes(bias.byteLength, 'bias');
              h.f32(pa, a.length).set(a);
              (dtype === 'f32' ? h.f32(pb, b.length) : dtype === 'nf4' ? h.u32(pb, b.length) : h.u16(pb, b.length)).set(
                b,
              );
              h.f32(pc, c0.length).set(c0);
              h.f32(pbias, bias.length).set(bias);
              k.gemm({
                M,
                J,
                K,
                A: pa,
                sAm,
                sAk,
                B: pb,
                bdtype: dtype,
                sBk,
                sBj,
                C: pc,
                ldc: J,
                alpha,
                accumulate,
                bias: accumulate ? 0 : pbias,
              });
              const got = h.f32(pc, M * J).slice();
              h.reset(mark);
              const want = c0.slice();
              gemmScalar({
                M,
                J,
                K,
                A: a,
                sAm,
                sAk,
                B: b,
                Bn: J * K,
                bdtype: dtype,
                sBk,
                sBj,
                C: want,
                ldc: J,
                alpha,
                accumulate,
                bias: accumulate ? null : bias,
              });
              expect(maxRelErr(got, want), `${M}x${J}x${K} accumulate=${accumulate}`).toBeLessThan(
                2e-6 * Math.sqrt(K) + 1e-6,
              );
            }
          }
        });
      }
    }

    it('gemm dequantizes NF4 bit for bit as src/core/nf4.ts does (identity A picks out B)', () => {
      const rng = new SeededRng(11);
      for (const [K, J] of [
        [72, 16],
        [40, 24],
        [36, 16],
        [37, 64],
        [64, 9],
      ]) {
        const w = quantizeNf4(rng.fillNormal(new Float32Array(K * J), 0.3), 'f32');
        const want = dequantizeNf4(w, 0, K * J, new Float32Array(K * J)); // (K, J) row-major, or (J, K) read as a weight
        for (const layout of ['forward', 'backward'] as const) {
          const h = k.heap,
            mark = h.mark();
          const eye = new Float32Array(K * K);
          for (let i = 0; i < K; i++) eye[i * K + i] = 1;
          const pa = h.allocBytes(eye.byteLength, 'a'),
            pb = h.allocBytes(w.byteLength, 'b'),
            pc = h.allocBytes(K * J * 4, 'c');
          h.f32(pa, eye.length).set(eye);
          h.u32(pb, w.length).set(w);
          // forward: B(k, j) = W[j, k], W (J, K); backward: B(k, j) = W[k, j], W (K, J)
          const [sBk, sBj] = layout === 'forward' ? [1, K] : [J, 1];
          for (const M of [K, 1, 3]) {
            k.gemm({
              M,
              J,
              K,
              A: pa,
              sAm: K,
              sAk: 1,
              B: pb,
              bdtype: 'nf4',
              sBk,
              sBj,
              C: pc,
              ldc: J,
              alpha: 1,
              accumulate: false,
              bias: 0,
            });
            const got = h.f32(pc, M * J);
            for (let m = 0; m < M; m++)
              for (let j = 0; j < J; j++) {
                const idx = layout === 'forward' ? j * K + m : m * J + j;
                if (got[m * J + j] !== want[idx])
                  expect.fail(
                    `${layout} K=${K} J=${J} M=${M}: C[${m}, ${j}] = ${got[m * J + j]}, dequantized ${want[idx]}`,
                  );
              }
          }
          h.reset(mark);
        }
      }
    });

    it('gemm writes only its (M, J) block of a wider C', () => {
      const M = 13,
        J = 21,
        K = 40,
        ldc = 29;
      const rng = new SeededRng(3);
      const a = rng.fillNormal(new Float32Array(M * K), 1),
        b = rng.fillNormal(new Float32Array(J * K), 1);
      const h = k.heap,
        mark = h.mark();
      const pa = h.allocBytes(a.byteLength, 'a'),
        pb = h.allocBytes(b.byteLength, 'b'),
        pc = h.allocBytes(M * ldc * 4, 'c');
      h.f32(pa, a.length).set(a);
      h.f32(pb, b.length).set(b);
      h.f32(pc, M * ldc).fill(-7);
      k.gemm({
        M,
        J,
        K,
        A: pa,
        sAm: K,
        sAk: 1,
        B: pb,
        bdtype: 'f32',
        sBk: 1,
        sBj: K,
        C: pc,
        ldc,
        alpha: 1,
        accumulate: false,
        bias: 0,
      });
      const got = h.f32(pc, M * ldc).slice();
      h.reset(mark);
      const want = new Float32Array(M * ldc).fill(-7);
      gemmScalar({
        M,
        J,
        K,
        A: a,
        sAm: K,
        sAk: 1,
        B: b,
        bdtype: 'f32',
        sBk: 1,
        sBj: K,
        C: want,
        ldc,
        alpha: 1,
        accumulate: false,
        bias: null,
      });
      expect(maxRelErr(got, want)).toBeLessThan(1e-5);
      for (let m = 0; m < M; m++) for (let j = J; j < ldc; j++) expect(got[m * ldc + j]).toBe(-7);
    });

    for (const add of [false, true]) {
      it(`dropout ${add ? 'masked add' : 'mask'} keeps exactly the elements ops.ts keeps`, () => {
        const rng = new SeededRng(11);
        const n = 100_003,
          e0 = 12_345,
          seed = 0xdeadbeef,
          p = 0.1;
        const src = rng.fillNormal(new Float32Array(n), 1),
          dst0 = rng.fillNormal(new Float32Array(n), 1);
        const h = k.heap,
          mark = h.mark();
        const ps = h.allocBytes(n * 4, 'src'),
          pd = h.allocBytes(n * 4, 'dst');
        h.f32(ps, n).set(src);
        h.f32(pd, n).set(dst0);
        k.dropout(pd, ps, n, seed, e0, p, add);
        const got = h.f32(pd, n).slice();
        h.reset(mark);
        const want = dst0.slice();
        dropoutScalar(want, src, n, seed, e0, p, add);
        expect(maxRelErr(got, want)).toBeLessThan(1e-6);
        // the mask itself, independently of the twin: dropped elements are exactly zero (mask mode)
        if (!add) {
          let dropped = 0;
          for (let e = 0; e < n; e++) {
            const kept = dropoutKeep({ p, seed }, e0 + e);
            if (!kept) {
              dropped++;
              expect(got[e]).toBe(0);
            }
          }
          expect(dropped / n).toBeGreaterThan(0.09);
          expect(dropped / n).toBeLessThan(0.11);
        }
      });
    }
  });
}

it('disposed kernels refuse work instead of hanging, on the caller and on the pool', async () => {
  const k = await FastKernels.create({ threads: 2, shared: true });
  k.dispose();
  const p = k.heap.allocBytes(1 << 22, 'x');
  const call = (M: number, J: number, K: number) => () =>
    k.gemm({
      M,
      J,
      K,
      A: p,
      sAm: K,
      sAk: 1,
      B: p,
      bdtype: 'f32',
      sBk: 1,
      sBj: K,
      C: p + (1 << 21),
      ldc: J,
      alpha: 1,
      accumulate: false,
      bias: 0,
    });
  expect(call(16, 16, 16)).toThrow(/after dispose/); // small: would run on the caller alone
  expect(call(256, 256, 256)).toThrow(/after dispose/); // large: would use the pool
});

it('a kernel that traps (address outside the memory) raises EngineError and leaves the pool usable', async () => {
  const k = await FastKernels.create({ threads: 2, shared: true, parallelMin: 0 });
  try {
    const M = 64,
      J = 256,
      K = 32;
    const pa = k.heap.allocBytes(M * K * 4, 'a'),
      pb = k.heap.allocBytes(J * K * 4, 'b'),
      pc = k.heap.allocBytes(M * J * 4, 'c');
    const outside = 0xfff00000; // far above the memory's current size
    const call = (C: number) =>
      k.gemm({
        M,
        J,
        K,
        A: pa,
        sAm: K,
        sAk: 1,
        B: pb,
        bdtype: 'f32',
        sBk: 1,
        sBj: K,
        C,
        ldc: J,
        alpha: 1,
        accumulate: false,
        bias: 0,
      });
    expect(() => call(outside)).toThrow(EngineError);
    k.heap.f32(pa, M * K).fill(1);
    k.heap.f32(pb, J * K).fill(0.5);
    call(pc);
    expect(Array.from(k.heap.f32(pc, M * J)).every((x) => x === K * 0.5)).toBe(true);
  } finally {
    k.dispose();
  }
});

it('the pool worker computes units of large jobs, with results equal to the single-thread ones', async () => {
  const pooled = await FastKernels.create({ threads: 2, shared: true });
  const single = await FastKernels.create({ threads: 1, shared: true });
  try {
    const M = 256,
      J = 512,
      K = 300;
    const rng = new SeededRng(17);
    const a = rng.fillNormal(new Float32Array(M * K), 1),
      b = Uint16Array.from(rng.fillNormal(new Float32Array(J * K), 0.3), f32ToBf16);
    const results: Float32Array[] = [];
    for (const k of [pooled, single]) {
      const h = k.heap;
      const pa = h.allocBytes(a.byteLength, 'a'),
        pb = h.allocBytes(b.byteLength, 'b'),
        pc = h.allocBytes(M * J * 4, 'c');
      h.f32(pa, a.length).set(a);
      h.u16(pb, b.length).set(b);
      const call = () =>
        k.gemm({
          M,
          J,
          K,
          A: pa,
          sAm: K,
          sAk: 1,
          B: pb,
          bdtype: 'bf16',
          sBk: 1,
          sBj: K,
          C: pc,
          ldc: J,
          alpha: 1,
          accumulate: false,
          bias: 0,
        });
      // the worker may sleep through a job on a busy machine (the caller then does it all): try until it helped
      call();
      for (let n = 0; k === pooled && k.unitsByWorkers === 0 && n < 500; n++) call();
      results.push(h.f32(pc, M * J).slice());
    }
    expect(pooled.unitsByWorkers).toBeGreaterThan(0);
    // each output element is computed whole by one thread in a fixed order: bit-identical
    expect(results[0]).toEqual(results[1]);
  } finally {
    pooled.dispose();
    single.dispose();
  }
});

// The committed builds must be what kernels.c compiles to. Everywhere: the SHA-256 of kernels.c
// that build.sh wrote into kernels.wasm.ts's header is the file's now (an edit without a rebuild
// fails). The rebuild itself, byte-identical with clang-19: test/full/kernels-rebuild.test.ts.
function kernelsDrift(source: Buffer | string, generated: string): string | undefined {
  const recorded = /^\/\/ Generated by scripts\/wasm\/build\.sh from kernels\.c \(sha256 ([0-9a-f]{64})\)/.exec(
    generated,
  )?.[1];
  if (!recorded) return 'kernels.wasm.ts names no sha256 of kernels.c (rebuild: bash scripts/wasm/build.sh)';
  const now = createHash('sha256').update(source).digest('hex');
  return now === recorded
    ? undefined
    : `kernels.c (sha256 ${now}) is not what kernels.wasm.ts was built from (${recorded}): rebuild with bash scripts/wasm/build.sh`;
}

it('kernels.wasm.ts was built from this kernels.c (its recorded SHA-256)', () => {
  const source = readFileSync('src/engine/cpu/fast/kernels.c');
  const generated = readFileSync('src/engine/cpu/fast/kernels.wasm.ts', 'utf8');
  expect(kernelsDrift(source, generated)).toBeUndefined();
  // the check sees a one-byte edit, and a header without the hash (the old generator's)
  expect(kernelsDrift(Buffer.concat([source, Buffer.from(' ')]), generated)).toMatch(
    /is not what kernels.wasm.ts was built from/,
  );
  expect(kernelsDrift(source, generated.replace(/ \(sha256 [0-9a-f]+\)/, ''))).toMatch(/names no sha256/);
});

it('the heap refuses an allocation past its memory maximum with OutOfMemoryError naming the tensor', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16 });
  const heap = new WasmHeap(memory, 1024, 16);
  const p = heap.allocBytes(100, 'small');
  expect(p % 64).toBe(0);
  expect(heap.allocBytes(65536 * 4, 'grows the memory')).toBeGreaterThan(p);
  expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(65536 * 5);
  expect(() => heap.allocBytes(65536 * 16, 'model.layers.3.mlp.up_proj.weight')).toThrow(OutOfMemoryError);
  expect(() => heap.allocBytes(65536 * 16, 'model.layers.3.mlp.up_proj.weight')).toThrow(/up_proj\.weight.*1 MiB/);
});
