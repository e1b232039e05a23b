// FastCpuOps against the scalar CpuOps (the oracle the golden tests tie to PyTorch): each
// overridden kernel on odd sizes and every weight dtype, in shared memory with 1 and 2
// threads and in the private-memory fallback; then a whole LoRA engine step both ways.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32ToBf16, f32ToF16, type WeightDType } from '../src/core/dtype.ts';
import { SeededRng } from '../src/core/rng.ts';
import { CpuBackend } from '../src/engine/cpu/backend.ts';
import { createFastCpuBackend, FastCpuBackend, fastCpuSupported } from '../src/engine/cpu/fast/backend.ts';
import { FastCpuOps } from '../src/engine/cpu/fast/ops.ts';
import { CpuOps, type CpuTensor, type CpuWeight } from '../src/engine/cpu/ops.ts';
import type { MicroBatch } from '../src/engine/engine.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { LoraEngine } from '../src/engine/lora-engine.ts';
import type { Dropout } from '../src/engine/ops.ts';
import { randomModel } from './helpers/random-model.ts';

function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 1e-6,
    err = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= err)) err = d;
  }
  return err / scale;
}

function weightData(rng: SeededRng, n: number, dtype: WeightDType, std = 0.3): Float32Array | Uint16Array {
  const f = rng.fillNormal(new Float32Array(n), std);
  if (dtype === 'f32') return f;
  return Uint16Array.from(f, (x) => (dtype === 'bf16' ? f32ToBf16(x) : f32ToF16(x)));
}

/** A tensor of `ops` holding `data` (so fast ops get memory-resident tensors, like the model's). */
function tensor(ops: CpuOps, data: Float32Array | Int32Array): CpuTensor {
  const t = ops.alloc(data instanceof Int32Array ? 'i32' : 'f32', data.length);
  ops.upload(t, data);
  return t;
}

const FAST = [
  { name: '1 thread, shared memory', threads: 1, shared: true },
  // parallelMin 0: even these small calls are split between the threads
  { name: '2 threads, shared memory', threads: 2, shared: true, parallelMin: 0 },
  { name: 'private memory (no SharedArrayBuffer)', threads: 1, shared: false },
];

for (const cfg of FAST) {
  describe(`FastCpuOps, ${cfg.name}`, () => {
    let fast: FastCpuOps;
    const ref = new CpuOps();
    beforeAll(async () => {
      fast = await FastCpuOps.create({ threads: cfg.threads, shared: cfg.shared, parallelMin: cfg.parallelMin });
    });
    afterAll(() => fast.dispose());

    const N = 19,
      In = 77,
      O = 133,
      R = 5;

    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      it(`matmulForward (with and without bias) and matmulBackward, ${dtype} weight`, () => {
        const rng = new SeededRng(21);
        const x = rng.fillNormal(new Float32Array(N * In), 1);
        const wd = weightData(rng, O * In, dtype);
        const bias = rng.fillNormal(new Float32Array(O), 1);
        const dy = rng.fillNormal(new Float32Array(N * O), 1);
        const dx0 = rng.fillNormal(new Float32Array(N * In), 1);
        const wf = fast.weight(wd, dtype, O, In, 'w'),
          wr = ref.weight(wd, dtype, O, In, 'w');
        for (const withBias of [false, true]) {
          const yf = fast.alloc('f32', N * O),
            yr = ref.alloc('f32', N * O);
          fast.matmulForward(yf, tensor(fast, x), wf, withBias ? tensor(fast, bias) : null, N, In, O);
          ref.matmulForward(yr, x, wr, withBias ? bias : null, N, In, O);
          expect(relErr(yf, yr)).toBeLessThan(1e-5);
        }
        const dxf = tensor(fast, dx0),
          dxr = dx0.slice();
        fast.matmulBackward(dxf, tensor(fast, dy), wf, N, In, O);
        ref.matmulBackward(dxr, dy, wr, N, In, O);
        expect(relErr(dxf, dxr)).toBeLessThan(1e-5);
      });
    }

    for (const p of [0, 0.1]) {
      it(`loraForward and loraBackward, dropout ${p}`, () => {
        const rng = new SeededRng(5);
        const drop: Dropout = { p, seed: 987654 };
        const x = rng.fillNormal(new Float32Array(N * In), 1);
        const a = rng.fillNormal(new Float32Array(R * In), 0.2),
          b = rng.fillNormal(new Float32Array(O * R), 0.2);
        const out0 = rng.fillNormal(new Float32Array(N * O), 1),
          dy = rng.fillNormal(new Float32Array(N * O), 1);
        const dx0 = rng.fillNormal(new Float32Array(N * In), 1);
        const da0 = rng.fillNormal(new Float32Array(R * In), 1),
          db0 = rng.fillNormal(new Float32Array(O * R), 1);
        const scale = 4;

        const outF = tensor(fast, out0),
          xaF = fast.alloc('f32', N * R);
        const tx = tensor(fast, x),
          ta = tensor(fast, a),
          tb = tensor(fast, b);
        fast.loraForward(outF, xaF, tx, ta, tb, N, In, O, R, scale, drop);
        const outR = out0.slice(),
          xaR = new Float32Array(N * R);
        ref.loraForward(outR, xaR, x, a, b, N, In, O, R, scale, drop);
        expect(relErr(xaF, xaR)).toBeLessThan(1e-5);
        expect(relErr(outF, outR)).toBeLessThan(1e-5);

        const dxF = tensor(fast, dx0),
          daF = tensor(fast, da0),
          dbF = tensor(fast, db0),
          dxaF = fast.alloc('f32', N * R);
        fast.loraBackward(dxF, daF, dbF, dxaF, tensor(fast, dy), tx, xaF, ta, tb, N, In, O, R, scale, drop);
        const dxR = dx0.slice(),
          daR = da0.slice(),
          dbR = db0.slice(),
          dxaR = new Float32Array(N * R);
        ref.loraBackward(dxR, daR, dbR, dxaR, dy, x, xaR, a, b, N, In, O, R, scale, drop);
        expect(relErr(dxaF, dxaR)).toBeLessThan(1e-5);
        expect(relErr(dbF, dbR)).toBeLessThan(1e-5);
        expect(relErr(daF, daR)).toBeLessThan(1e-5);
        expect(relErr(dxF, dxR)).toBeLessThan(1e-5);
      });
    }

    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      it(`crossEntropyForwardBackward over several vocabulary chunks, ${dtype} weight`, () => {
        const rng = new SeededRng(9);
        const M = 7,
          C = 45,
          V = 9001; // three 4096-row chunks, the last partial
        const h = rng.fillNormal(new Float32Array(M * C), 1);
        const wd = weightData(rng, V * C, dtype, 0.5);
        // targets spread over every chunk, including the first and last rows
        const targets = Int32Array.from([0, 4095, 4096, 8191, 9000, 123, 5000]);
        const wf: CpuWeight = fast.weight(wd, dtype, V, C, 'lm_head'),
          wr = ref.weight(wd, dtype, V, C, 'lm_head');
        const lossF = fast.alloc('f32', M),
          dhF = fast.alloc('f32', M * C);
        fast.crossEntropyForwardBackward(lossF, dhF, tensor(fast, h), wf, tensor(fast, targets), M, C, V, 0.25);
        const lossR = new Float32Array(M),
          dhR = new Float32Array(M * C);
        ref.crossEntropyForwardBackward(lossR, dhR, h, wr, targets, M, C, V, 0.25);
        expect(relErr(lossF, lossR)).toBeLessThan(1e-5);
        expect(relErr(dhF, dhR)).toBeLessThan(1e-4);
      });
    }

    for (const HD of [8, 10]) {
      it(`attentionForward with padding and a KV cache, and attentionBackward, head dim ${HD}`, () => {
        const rng = new SeededRng(HD);
        const NH = 6,
          NKV = 2;
        // generation-like call: T new queries over S cached keys in rows of capacity SMAX; batch row 2 fully masked
        {
          const B = 3,
            T = 3,
            S = 7,
            SMAX = 9;
          const q = rng.fillNormal(new Float32Array(B * T * NH * HD), 1);
          const k = rng.fillNormal(new Float32Array(B * SMAX * NKV * HD), 1),
            v = rng.fillNormal(new Float32Array(B * SMAX * NKV * HD), 1);
          const mask = Int32Array.from({ length: B * SMAX }, (_, i) => (i >= 2 * SMAX ? 0 : i % SMAX === 1 ? 0 : 1));
          const outF = fast.alloc('f32', B * T * NH * HD),
            attF = fast.alloc('f32', B * NH * T * S);
          fast.attentionForward(
            outF,
            attF,
            tensor(fast, q),
            tensor(fast, k),
            tensor(fast, v),
            tensor(fast, mask),
            B,
            T,
            S,
            SMAX,
            NH,
            NKV,
            HD,
          );
          const outR = new Float32Array(B * T * NH * HD),
            attR = new Float32Array(B * NH * T * S);
          ref.attentionForward(outR, attR, q, k, v, mask, B, T, S, SMAX, NH, NKV, HD);
          expect(relErr(attF, attR)).toBeLessThan(1e-5);
          expect(relErr(outF, outR)).toBeLessThan(1e-5);
          expect(Array.from(outF.subarray(2 * T * NH * HD)).every((x) => x === 0)).toBe(true);
        }
        // training call: S = SMAX = T, right padding on one row
        {
          const B = 2,
            T = 13;
          const n = B * T * NH * HD,
            nkv = B * T * NKV * HD;
          const q = rng.fillNormal(new Float32Array(n), 1),
            k = rng.fillNormal(new Float32Array(nkv), 1),
            v = rng.fillNormal(new Float32Array(nkv), 1);
          const mask = Int32Array.from({ length: B * T }, (_, i) => (i >= T && i % T >= 9 ? 0 : 1));
          const dy = rng.fillNormal(new Float32Array(n), 1);
          const tq = tensor(fast, q),
            tk = tensor(fast, k),
            tv = tensor(fast, v);
          const outF = fast.alloc('f32', n),
            attF = fast.alloc('f32', B * NH * T * T);
          fast.attentionForward(outF, attF, tq, tk, tv, tensor(fast, mask), B, T, T, T, NH, NKV, HD);
          const outR = new Float32Array(n),
            attR = new Float32Array(B * NH * T * T);
          ref.attentionForward(outR, attR, q, k, v, mask, B, T, T, T, NH, NKV, HD);
          expect(relErr(outF, outR)).toBeLessThan(1e-5);
          // dq/dk/dv are overwritten: start them dirty
          const dqF = tensor(fast, rng.fillNormal(new Float32Array(n), 1)),
            dkF = tensor(fast, rng.fillNormal(new Float32Array(nkv), 1));
          const dvF = tensor(fast, rng.fillNormal(new Float32Array(nkv), 1)),
            dattF = fast.alloc('f32', B * NH * T * T);
          fast.attentionBackward(
            dqF,
            dkF,
            dvF,
            dattF,
            tensor(fast, dy),
            tq,
            tk,
            tv,
            outF,
            attF,
            tensor(fast, mask),
            B,
            T,
            NH,
            NKV,
            HD,
          );
          const dqR = new Float32Array(n),
            dkR = new Float32Array(nkv),
            dvR = new Float32Array(nkv),
            dattR = new Float32Array(B * NH * T * T);
          ref.attentionBackward(dqR, dkR, dvR, dattR, dy, q, k, v, outR, attR, mask, B, T, NH, NKV, HD);
          expect(relErr(dqF, dqR)).toBeLessThan(1e-5);
          expect(relErr(dkF, dkR)).toBeLessThan(1e-5);
          expect(relErr(dvF, dvR)).toBeLessThan(1e-5);
        }
      });
    }

    it('rmsnormForward and rmsnormBackward (dinp accumulated)', () => {
      const rng = new SeededRng(8);
      const C = In; // 77: not a multiple of the SIMD width
      const x = rng.fillNormal(new Float32Array(N * C), 2),
        w = rng.fillNormal(new Float32Array(C), 1);
      const dy = rng.fillNormal(new Float32Array(N * C), 1),
        dx0 = rng.fillNormal(new Float32Array(N * C), 1);
      const tx = tensor(fast, x),
        tw = tensor(fast, w);
      const outF = fast.alloc('f32', N * C),
        rstdF = fast.alloc('f32', N);
      fast.rmsnormForward(outF, rstdF, tx, tw, N, C, 1e-6);
      const outR = new Float32Array(N * C),
        rstdR = new Float32Array(N);
      ref.rmsnormForward(outR, rstdR, x, w, N, C, 1e-6);
      expect(relErr(rstdF, rstdR)).toBeLessThan(1e-6);
      expect(relErr(outF, outR)).toBeLessThan(1e-6);
      const dxF = tensor(fast, dx0),
        dxR = dx0.slice();
      fast.rmsnormBackward(dxF, tensor(fast, dy), tx, tw, rstdF, N, C);
      ref.rmsnormBackward(dxR, dy, x, w, rstdR, N, C);
      expect(relErr(dxF, dxR)).toBeLessThan(1e-5);
    });

    it('swigluForward and swigluBackward, including saturated gates', () => {
      const rng = new SeededRng(4);
      const n = 1003;
      const gate = rng.fillNormal(new Float32Array(n), 3),
        up = rng.fillNormal(new Float32Array(n), 1),
        dy = rng.fillNormal(new Float32Array(n), 1);
      gate.set([-100, -90, -20, 0, 20, 90, 100], 0);
      const tg = tensor(fast, gate),
        tu = tensor(fast, up);
      const outF = fast.alloc('f32', n),
        outR = new Float32Array(n);
      fast.swigluForward(outF, tg, tu, n);
      ref.swigluForward(outR, gate, up, n);
      expect(relErr(outF, outR)).toBeLessThan(1e-6);
      const dgF = fast.alloc('f32', n),
        duF = fast.alloc('f32', n),
        dgR = new Float32Array(n),
        duR = new Float32Array(n);
      fast.swigluBackward(dgF, duF, tensor(fast, dy), tg, tu, n);
      ref.swigluBackward(dgR, duR, dy, gate, up, n);
      expect(relErr(dgF, dgR)).toBeLessThan(1e-6);
      expect(relErr(duF, duR)).toBeLessThan(1e-6);
    });

    it('refuses a label outside the vocabulary, naming it', () => {
      const w = fast.weight(new Float32Array(10 * 4), 'f32', 10, 4, 'lm_head');
      expect(() =>
        fast.crossEntropyForwardBackward(
          fast.alloc('f32', 1),
          fast.alloc('f32', 4),
          fast.alloc('f32', 4),
          w,
          tensor(fast, Int32Array.from([10])),
          1,
          4,
          10,
          1,
        ),
      ).toThrow(/label 10 is outside the vocabulary \(10\)/);
    });

    it('refuses a weight whose shape does not match the call', () => {
      const w = fast.weight(new Float32Array(6 * 4), 'f32', 6, 4, 'q_proj');
      expect(() => fast.matmulForward(fast.alloc('f32', 12), fast.alloc('f32', 8), w, null, 2, 4, 5)).toThrow(
        /\(6, 4\).*\(5, 4\)/,
      );
    });
  });
}

describe('a LoRA engine over the fast backend', () => {
  it('takes the same optimizer steps as over the scalar backend (dropout on, bf16 weights)', async () => {
    const { cfg, weights } = randomModel({
      hidden_size: 48,
      intermediate_size: 136,
      num_attention_heads: 6,
      num_key_value_heads: 2,
      vocab_size: 301,
    });
    const lora = { ...DEFAULT_LORA, r: 4, dropout: 0.1 };
    const load = { maxBatch: 2, maxSeq: 11, lora };
    const fastBackend = await createFastCpuBackend({ threads: 2 });
    expect(fastBackend).toBeInstanceOf(FastCpuBackend);
    expect(fastBackend.describe().device).toMatch(/WebAssembly SIMD.*2 threads/);
    const engines = [new LoraEngine(new CpuBackend()), new LoraEngine(fastBackend)];
    const rng = new SeededRng(2);
    const batch = (): MicroBatch => {
      const B = 2,
        T = 11;
      const inputIds = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
      const attentionMask = Int32Array.from({ length: B * T }, (_, i) => (i % T < (i < T ? T : 8) ? 1 : 0));
      const labels = Int32Array.from(inputIds, (id, i) => (i % T < 4 || !attentionMask[i] ? -100 : id));
      return { B, T, inputIds, attentionMask, labels };
    };
    const micros = [batch(), batch()];
    const results = [];
    for (const e of engines) {
      await e.load(cfg, weights, load);
      await e.initLora(42);
      const steps = [];
      for (let s = 0; s < 3; s++) {
        steps.push(
          await e.step(micros, {
            lr: 1e-2,
            dropoutSeed: 100 + s,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weightDecay: 0.01,
            maxGradNorm: 1,
          }),
        );
      }
      results.push({ steps, lora: await e.getLora() });
      await e.dispose();
    }
    const [scalar, fastRes] = results;
    for (let s = 0; s < 3; s++) {
      expect(fastRes.steps[s].loss).toBeCloseTo(scalar.steps[s].loss, 4);
      expect(fastRes.steps[s].gradNorm / scalar.steps[s].gradNorm).toBeCloseTo(1, 3);
    }
    for (const [name, t] of Object.entries(scalar.lora)) expect(relErr(fastRes.lora[name], t), name).toBeLessThan(1e-3);
  });
});

it('createEngine("cpu") picks the fast backend (so the golden tests of the default CPU engine run these kernels)', async () => {
  const { createEngine } = await import('../src/engine/create.ts');
  const e = await createEngine('cpu', { threads: 2 });
  try {
    const info = await e.info();
    expect(info.device).toMatch(/WebAssembly SIMD/);
    expect(info.threads).toBe(2);
    expect(info.features).toContain('wasm-simd128');
    expect(fastCpuSupported()).toBe(true);
  } finally {
    await e.dispose();
  }
});
