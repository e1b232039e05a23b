// Kernel parity cases: each runs one Ops call (or a forward/backward pair) on seeded random
// inputs with odd sizes (not multiples of any workgroup size) and returns what it wrote. The
// same case runs on the scalar CpuOps (the oracle) and on WebGpuOps; both in Node's Dawn
// (test/full/gpu-ops-parity.test.ts) and in headless Chromium (e2e/gpu-chromium.ts via gpu-page.ts, run by
// e2e/gpu-flows.mjs).

import { narrow, type WeightDType, type WeightFormat } from '../src/core/dtype.ts';
import { quantizeNf4 } from '../src/core/nf4.ts';
import type { Ops } from '../src/engine/ops.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOps = Ops<any, any>;
type Outputs = Record<string, Float32Array>;

export interface ParityCase {
  name: string;
  /** Largest allowed |gpu - cpu| relative to max |cpu| of each output. */
  tol: number;
  run(ops: AnyOps): Promise<Outputs>;
}

export interface ParityResult {
  name: string;
  ok: boolean;
  worst: number; // largest relative error over the outputs
  detail: string;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded values uniform in [-scale, scale): bounded inputs keep exp() and norms tame on both sides. */
function uniform(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Uploads inputs into one arena per dtype, so kernels also see tensors sharing a buffer. */
function tensors(ops: AnyOps, spec: Record<string, Float32Array | Int32Array | number>, label: string) {
  const f32: Record<string, number> = {}, i32: Record<string, number> = {};
  for (const [k, v] of Object.entries(spec)) (v instanceof Int32Array ? i32 : f32)[k] = typeof v === 'number' ? v : v.length;
  const out = { ...ops.arena('f32', f32, `${label}.f32`), ...(Object.keys(i32).length ? ops.arena('i32', i32, `${label}.i32`) : {}) };
  for (const [k, v] of Object.entries(spec)) if (typeof v !== 'number') ops.upload(out[k], v);
  return out;
}

function weight(ops: AnyOps, dtype: WeightFormat, rows: number, cols: number, seed: number, scale = 1) {
  const data = uniform(rows * cols, seed, scale);
  const stored = dtype === 'f32' ? data : dtype === 'nf4' ? quantizeNf4(data, 'f32') : narrow(data, dtype);
  return ops.weight(stored, dtype, rows, cols, `w.${dtype}`);
}

async function readAll(ops: AnyOps, t: Record<string, unknown>, names: string[]): Promise<Outputs> {
  const out: Outputs = {};
  for (const n of names) out[n] = await ops.read(t[n]);
  return out;
}

const DTYPES: WeightDType[] = ['bf16', 'f16', 'f32'];

export function parityCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const add = (name: string, tol: number, run: (ops: AnyOps) => Promise<Outputs>) => cases.push({ name, tol, run });

  for (const dtype of DTYPES) {
    add(`embedding ${dtype}`, 0, async (ops) => {
      const N = 11, C = 13, V = 37;
      const ids = Int32Array.from({ length: N }, (_, i) => (i * 17 + 3) % V);
      const t = tensors(ops, { out: N * C, ids }, 'emb');
      ops.embeddingForward(t.out, t.ids, weight(ops, dtype, V, C, 1), N, C);
      return readAll(ops, t, ['out']);
    });
    add(`matmul ${dtype}`, 1e-5, async (ops) => {
      const N = 19, In = 37, O = 23;
      const t = tensors(ops, { out: N * O, out2: N * O, inp: uniform(N * In, 2), bias: uniform(O, 3), dout: uniform(N * O, 4), dinp: uniform(N * In, 5) }, 'mm');
      const w = weight(ops, dtype, O, In, 6);
      ops.matmulForward(t.out, t.inp, w, t.bias, N, In, O);
      ops.matmulForward(t.out2, t.inp, w, null, N, In, O);
      ops.matmulBackward(t.dinp, t.dout, w, N, In, O);
      return readAll(ops, t, ['out', 'out2', 'dinp']);
    });
    add(`cross-entropy ${dtype}`, 1e-5, async (ops) => {
      const M = 7, C = 13, V = 101;
      const targets = Int32Array.from({ length: M }, (_, i) => (i * 29 + 5) % V);
      const t = tensors(ops, { losses: M, dh: uniform(M * C, 7), h: uniform(M * C, 8, 2), targets }, 'ce');
      ops.crossEntropyForwardBackward(t.losses, t.dh, t.h, weight(ops, dtype, V, C, 9), t.targets, M, C, V, 0.37);
      return readAll(ops, t, ['losses', 'dh']);
    });
    add(`mergeLora ${dtype}`, 1e-6, async (ops) => {
      const O = 13, In = 11, R = 3;
      const t = tensors(ops, { out: O * In, a: uniform(R * In, 10), b: uniform(O * R, 11) }, 'merge');
      ops.mergeLora(t.out, weight(ops, dtype, O, In, 12), t.a, t.b, O, In, R, 4);
      return readAll(ops, t, ['out']);
    });
  }

  // NF4 (the projections only): rows * cols a multiple of the 64-value block, cols not (blocks straddle rows)
  add('matmul nf4', 1e-5, async (ops) => {
    await ops.prepareWeights?.('nf4');
    const N = 19, In = 48, O = 20;
    const t = tensors(ops, { out: N * O, out2: N * O, inp: uniform(N * In, 2), bias: uniform(O, 3), dout: uniform(N * O, 4), dinp: uniform(N * In, 5) }, 'mm');
    const w = weight(ops, 'nf4', O, In, 6);
    ops.matmulForward(t.out, t.inp, w, t.bias, N, In, O);
    ops.matmulForward(t.out2, t.inp, w, null, N, In, O);
    ops.matmulBackward(t.dinp, t.dout, w, N, In, O);
    return readAll(ops, t, ['out', 'out2', 'dinp']);
  });
  add('mergeLora nf4', 0, async (ops) => {
    await ops.prepareWeights?.('nf4');
    const O = 12, In = 16, R = 3;
    const t = tensors(ops, { out: O * In, a: uniform(R * In, 10), b: uniform(O * R, 11) }, 'merge');
    ops.mergeLora(t.out, weight(ops, 'nf4', O, In, 12), t.a, t.b, O, In, R, 0);
    return readAll(ops, t, ['out']);
  });

  add('matmul bf16, several 64x64 tiles', 1e-5, async (ops) => {
    const N = 70, In = 45, O = 131;
    const t = tensors(ops, { out: N * O, inp: uniform(N * In, 17), bias: uniform(O, 18), dout: uniform(N * O, 19), dinp: uniform(N * In, 20) }, 'mm2');
    const w = weight(ops, 'bf16', O, In, 21);
    ops.matmulForward(t.out, t.inp, w, t.bias, N, In, O);
    ops.matmulBackward(t.dinp, t.dout, w, N, In, O);
    return readAll(ops, t, ['out', 'dinp']);
  });

  // q|k|v as the model runs it: one input, three projections with biases, LoRA on two of them,
  // outputs / factors / gradients as views of one buffer each (so the GPU fuses the group);
  // sizes fit no tile. Then a single projection with a residual and no bias.
  for (const p of [0, 0.1]) {
    add(`linear group forward+backward dropout ${p}`, 1e-5, async (ops) => {
      const N = 37, In = 36, R = 3, scale = 2, widths = [52, 20, 20];
      const stride = (n: number) => Math.ceil(n / 64) * 64;
      const t = tensors(ops, {
        inp: uniform(N * In, 100), outs: widths.reduce((a, o) => a + stride(N * o), 0), douts: widths.reduce((a, o) => a + stride(N * o), 0),
        dinp: uniform(N * In, 101), xa: 3 * stride(N * R), dxa: 3 * stride(N * R), params: 3 * stride(R * In) + widths.reduce((a, o) => a + stride(o * R), 0),
        grads: uniform(3 * stride(R * In) + widths.reduce((a, o) => a + stride(o * R), 0), 102), bq: uniform(52, 103), bv: uniform(20, 104),
      }, 'lin');
      let po = 0, oo = 0;
      const projs = widths.map((O, i) => {
        const w = weight(ops, i === 1 ? 'f32' : 'bf16', O, In, 110 + i);
        const aOff = po; po += stride(R * In);
        const bOff = po; po += stride(O * R);
        ops.upload(t.params, uniform(R * In, 120 + i), aOff);
        ops.upload(t.params, uniform(O * R, 130 + i), bOff);
        const out = ops.view(t.outs, oo, N * O), dout = ops.view(t.douts, oo, N * O);
        ops.upload(t.douts, uniform(N * O, 140 + i), oo);
        oo += stride(N * O);
        const lora = i === 1 ? null : {
          a: ops.view(t.params, aOff, R * In), b: ops.view(t.params, bOff, O * R), da: ops.view(t.grads, aOff, R * In), db: ops.view(t.grads, bOff, O * R),
          xa: ops.view(t.xa, i * stride(N * R), N * R), dxa: ops.view(t.dxa, i * stride(N * R), N * R), dropout: { p, seed: 77 + i },
        };
        return { proj: { w, O, bias: i === 0 ? t.bq : i === 2 ? t.bv : null, lora }, out, dout };
      });
      // the f32 weight cannot share the bf16 ones' buffer: the group runs projection by projection
      const bf16Only = [projs[0], projs[2]];
      ops.linearForward(bf16Only.map((x) => x.out), t.inp, bf16Only.map((x) => x.proj), null, N, In, R, scale);
      ops.linearForward([projs[1].out], t.inp, [projs[1].proj], null, N, In, R, scale);
      ops.linearBackward(t.dinp, bf16Only.map((x) => x.dout), t.inp, bf16Only.map((x) => x.proj), N, In, R, scale);
      const all = await readAll(ops, t, ['outs', 'xa', 'dxa', 'grads', 'dinp']);
      ops.linearBackward(t.dinp, projs.map((x) => x.dout), t.inp, projs.map((x) => x.proj), N, In, R, scale);
      return { ...all, dinp3: await ops.read(t.dinp), grads3: await ops.read(t.grads) };
    });
  }

  add('linear with residual, no bias, dropout 0.1', 1e-5, async (ops) => {
    const N = 19, In = 36, O = 28, R = 4, scale = 4;
    const t = tensors(ops, { inp: uniform(N * In, 150), out: uniform(N * O, 151), resid: uniform(N * O, 152), a: uniform(R * In, 153), b: uniform(O * R, 154),
      da: R * In, db: O * R, xa: N * R, dxa: N * R, dout: uniform(N * O, 155), dinp: uniform(N * In, 156) }, 'linr');
    const lora = { a: t.a, b: t.b, da: t.da, db: t.db, xa: t.xa, dxa: t.dxa, dropout: { p: 0.1, seed: 9 } };
    const proj = { w: weight(ops, 'bf16', O, In, 157), O, bias: null, lora };
    ops.linearForward([t.out], t.inp, [proj], t.resid, N, In, R, scale);
    ops.linearBackward(t.dinp, [t.dout], t.inp, [proj], N, In, R, scale);
    return readAll(ops, t, ['out', 'xa', 'dxa', 'da', 'db', 'dinp']);
  });

  // a decode step's shapes: 3 rows, where the GPU runs matrix-vector products, with a bias, LoRA
  // with dropout, a residual, and In not a multiple of the 8-value loads
  add('linear decode rows (N = 3): group with bias and LoRA, then a residual', 1e-5, async (ops) => {
    const N = 3, In = 37, R = 2, widths = [40, 12];
    const t = tensors(ops, { inp: uniform(N * In, 170), outs: 256, xa: 128, dxa: 128, params: 512, grads: 512, bq: uniform(40, 171),
      res: uniform(N * 40, 172), out2: uniform(N * 40, 173) }, 'dec');
    ops.upload(t.params, uniform(512, 174, 0.3));
    const projs = widths.map((O, i) => ({
      w: weight(ops, 'bf16', O, In, 175 + i), O, bias: i === 0 ? t.bq : null,
      lora: { a: ops.view(t.params, i * 256, R * In), b: ops.view(t.params, i * 256 + 128, O * R), da: ops.view(t.grads, i * 256, R * In),
        db: ops.view(t.grads, i * 256 + 128, O * R), xa: ops.view(t.xa, i * 64, N * R), dxa: ops.view(t.dxa, i * 64, N * R), dropout: { p: 0.1, seed: 5 + i } },
    }));
    ops.linearForward([ops.view(t.outs, 0, N * 40), ops.view(t.outs, 128, N * 12)], t.inp, projs, null, N, In, R, 2);
    ops.linearForward([t.out2], t.inp, [projs[0]], t.res, N, In, R, 2);
    return readAll(ops, t, ['outs', 'xa', 'out2']);
  });

  // NF4 through the fused projection kernels: q|k|v of 36 columns (64-value blocks straddle rows
  // and rows do not start on the 8-value loads), N = 37 fitting no tile, biases, LoRA with dropout
  // on q and v only (the backward's dropout seeds go by part, not by LoRA); then decode rows (matrix-vector products) and a long K split over workgroups (K = 700)
  add('NF4 projections: q|k|v group forward+backward, decode rows, K split', 1e-5, async (ops) => {
    await ops.prepareWeights?.('nf4');
    const N = 37, In = 36, R = 3, widths = [48, 16, 16], D = 3;
    const t = tensors(ops, {
      inp: uniform(N * In, 180), outs: 3 * 1792, douts: uniform(3 * 1792, 181), dinp: uniform(N * In, 182), xa: 3 * 128, dxa: 3 * 128,
      params: uniform(3 * 512, 183, 0.3), grads: uniform(3 * 512, 184), bq: uniform(48, 185), dec: 3 * 192,
      out7: 20 * 16, x7: uniform(20 * 700, 186), dinp7: uniform(20 * 16, 187), dout7: uniform(20 * 700, 188),
    }, 'nf4lin');
    const projs = widths.map((O, i) => ({
      w: weight(ops, 'nf4', O, In, 190 + i), O, bias: i === 0 ? t.bq : null,
      lora: i === 1 ? null : {
        a: ops.view(t.params, i * 512, R * In), b: ops.view(t.params, i * 512 + 192, O * R), da: ops.view(t.grads, i * 512, R * In),
        db: ops.view(t.grads, i * 512 + 192, O * R), xa: ops.view(t.xa, i * 128, N * R), dxa: ops.view(t.dxa, i * 128, N * R), dropout: { p: 0.1, seed: 40 + i },
      },
    }));
    ops.linearForward(widths.map((O, i) => ops.view(t.outs, i * 1792, N * O)), t.inp, projs, null, N, In, R, 2);
    ops.linearBackward(t.dinp, widths.map((O, i) => ops.view(t.douts, i * 1792, N * O)), t.inp, projs, N, In, R, 2);
    const train = await readAll(ops, t, ['outs', 'xa', 'dxa', 'grads', 'dinp']);
    ops.linearForward(widths.map((O, i) => ops.view(t.dec, i * 192, D * O)), t.inp, projs, null, D, In, R, 2);
    ops.matmulForward(t.out7, t.x7, weight(ops, 'nf4', 16, 700, 196), null, 20, 700, 16);
    // dinp (20, 16) += dout (20, 700) @ w (700, 16): the K split of the backward
    ops.matmulBackward(t.dinp7, t.dout7, weight(ops, 'nf4', 700, 16, 197), 20, 16, 700);
    return { ...train, ...(await readAll(ops, t, ['dec', 'out7', 'dinp7'])) };
  });

  add('K split over workgroups (forward and backward, K = 700)', 1e-5, async (ops) => {
    const N = 20, In = 700, O = 24;
    const t = tensors(ops, { out: N * O, inp: uniform(N * In, 160), bias: uniform(O, 161), x2: uniform(N * O, 162), w2out: N * In, dout: uniform(N * In, 163) }, 'splitk');
    ops.matmulForward(t.out, t.inp, weight(ops, 'bf16', O, In, 164), t.bias, N, In, O);
    // backward through a (700, 24) weight: dinp (N, 24) += dout (N, 700) @ w
    const back = tensors(ops, { dinp: uniform(N * O, 165) }, 'splitk2');
    ops.matmulBackward(back.dinp, t.dout, weight(ops, 'f16', In, O, 166), N, O, In);
    return { ...(await readAll(ops, t, ['out'])), dinp: await ops.read(back.dinp) };
  });

  add('rmsnorm forward+backward', 1e-5, async (ops) => {
    const N = 7, C = 300;
    const t = tensors(ops, { out: N * C, rstd: N, inp: uniform(N * C, 13), weight: uniform(C, 14), dout: uniform(N * C, 15), dinp: uniform(N * C, 16) }, 'rms');
    ops.rmsnormForward(t.out, t.rstd, t.inp, t.weight, N, C, 1e-6);
    ops.rmsnormBackward(t.dinp, t.dout, t.inp, t.weight, t.rstd, N, C);
    return readAll(ops, t, ['out', 'rstd', 'dinp']);
  });

  for (const p of [0, 0.1]) {
    add(`lora forward+backward dropout ${p}`, 1e-5, async (ops) => {
      const N = 9, In = 21, O = 17, R = 3, scale = 4;
      // a and b are views into one parameter buffer, as the model carves them
      const t = tensors(ops, {
        out: uniform(N * O, 20), xa: N * R, inp: uniform(N * In, 21), dinp: uniform(N * In, 22), dxa: N * R, dout: uniform(N * O, 23),
        params: 64 + 128, grads: uniform(64 + 128, 24),
      }, 'lora');
      ops.upload(t.params, uniform(R * In, 25), 0);
      ops.upload(t.params, uniform(O * R, 26), 64);
      const a = ops.view(t.params, 0, R * In), b = ops.view(t.params, 64, O * R);
      const da = ops.view(t.grads, 0, R * In), db = ops.view(t.grads, 64, O * R);
      const dropout = { p, seed: 0xdeadbeef };
      ops.loraForward(t.out, t.xa, t.inp, a, b, N, In, O, R, scale, dropout);
      ops.loraBackward(t.dinp, da, db, t.dxa, t.dout, t.inp, t.xa, a, b, N, In, O, R, scale, dropout);
      return readAll(ops, t, ['out', 'xa', 'dinp', 'dxa', 'grads']);
    });
  }

  add('rope forward, backward', 1e-5, async (ops) => {
    const B = 2, T = 5, H = 3, HD = 8;
    const t = tensors(ops, { x: uniform(B * T * H * HD, 30), dx: uniform(B * T * H * HD, 31) }, 'rope');
    ops.ropeForward(t.x, B, T, H, HD, 10000, 3);
    ops.ropeBackward(t.dx, B, T, H, HD, 1000000, 300);
    return readAll(ops, t, ['x', 'dx']);
  });

  // head dim 8 (two threads of a key's four idle in backward), 64 with Qwen2.5-0.5B's 14 / 2 heads (7 query heads share a
  // KV head, 133 query rows span three workgroups) and 128 (Qwen3: the GPU's unrolled variants);
  // the backend's saved state differs (probabilities vs log-sum-exp), so only results compare
  for (const [HD, T, NH, NKV] of [[8, 6, 4, 2], [64, 19, 14, 2], [128, 7, 4, 2]]) {
    add(`attention forward+backward, padding, head dim ${HD}, ${NH}/${NKV} heads`, 1e-5, async (ops) => {
      const B = 3;
      // batch 1 is right padded; batch 2 masks key 0, so its first query sees nothing
      const mask = Int32Array.from({ length: B * T }, (_, i) => (i >= T + 4 || i === 2 * T ? 0 : 1));
      const state = ops.kind === 'cpu' ? B * NH * T * T : B * NH * T * 2;
      const t = tensors(ops, {
        out: B * T * NH * HD, att: state, q: uniform(B * T * NH * HD, 40), k: uniform(B * T * NKV * HD, 41), v: uniform(B * T * NKV * HD, 42),
        dq: uniform(B * T * NH * HD, 44), dk: B * T * NKV * HD, dv: B * T * NKV * HD, datt: ops.kind === 'cpu' ? B * NH * T * T : 0,
        dout: uniform(B * T * NH * HD, 43), mask,
      }, 'att');
      ops.attentionForward(t.out, t.att, t.q, t.k, t.v, t.mask, B, T, T, T, NH, NKV, HD);
      ops.attentionBackward(t.dq, t.dk, t.dv, t.datt, t.dout, t.q, t.k, t.v, t.out, t.att, t.mask, B, T, NH, NKV, HD);
      return readAll(ops, t, ['out', 'dq', 'dk', 'dv']);
    });
  }

  add('attention KV-cache decode', 1e-5, async (ops) => {
    const B = 2, T = 2, S = 6, SMAX = 9, NH = 6, NKV = 3, HD = 4;
    const mask = Int32Array.from({ length: B * SMAX }, (_, i) => (i % SMAX === 1 ? 0 : 1));
    const state = ops.kind === 'cpu' ? B * NH * T * S : B * NH * T * 2;
    const t = tensors(ops, { out: B * T * NH * HD, att: state, q: uniform(B * T * NH * HD, 50), k: uniform(B * SMAX * NKV * HD, 51), v: uniform(B * SMAX * NKV * HD, 52), mask }, 'kv');
    ops.attentionForward(t.out, t.att, t.q, t.k, t.v, t.mask, B, T, S, SMAX, NH, NKV, HD);
    return readAll(ops, t, ['out']);
  });

  add('swiglu forward+backward', 1e-6, async (ops) => {
    const n = 1001;
    const t = tensors(ops, { out: n, gate: uniform(n, 60, 6), up: uniform(n, 61), dgate: n, dup: n, dout: uniform(n, 62) }, 'swiglu');
    ops.swigluForward(t.out, t.gate, t.up, n);
    ops.swigluBackward(t.dgate, t.dup, t.dout, t.gate, t.up, n);
    return readAll(ops, t, ['out', 'dgate', 'dup']);
  });

  add('add, copy, zero', 0, async (ops) => {
    const n = 517;
    const t = tensors(ops, { x: uniform(n, 70), y: uniform(n, 71), z: uniform(n, 72) }, 'res');
    ops.addInPlace(t.x, t.y, n);
    ops.copy(t.y, 5, t.x, 100, 300); // across tensors of one arena
    ops.copy(t.z, 0, t.z, 200, 100); // within one tensor
    ops.copy(ops.view(t.x, 64, 300), 0, ops.view(t.x, 0, 300), 10, 200); // overlapping views
    ops.zero(t.x, 33);
    return readAll(ops, t, ['x', 'y', 'z']);
  });

  add('gather, scatter-add rows', 0, async (ops) => {
    const N = 13, M = 5, C = 7;
    const idx = Int32Array.from([12, 0, 7, 3, 8]);
    const t = tensors(ops, { out: M * C, inp: uniform(N * C, 80), dinp: uniform(N * C, 81), dout: uniform(M * C, 82), idx }, 'rows');
    ops.gatherRows(t.out, t.inp, t.idx, M, C);
    ops.scatterAddRows(t.dinp, t.dout, t.idx, M, C);
    return readAll(ops, t, ['out', 'dinp']);
  });

  add('globalNorm + adamw (clipped, weight decay)', 1e-5, async (ops) => {
    const P = 70001; // more than one pass of the fixed norm grid
    const t = tensors(ops, { norm: 1, param: uniform(P, 90), grad: uniform(P, 91, 0.01), m: uniform(P, 92, 0.001), v: uniform(P, 93, 0.0001).map(Math.abs) }, 'opt');
    ops.globalNorm(t.norm, t.grad, P);
    ops.adamw(t.param, t.grad, t.m, t.v, t.norm, P, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3, maxGradNorm: 1 });
    return readAll(ops, t, ['norm', 'param', 'm', 'v']);
  });

  return cases;
}

export function compareOutputs(c: ParityCase, want: Outputs, got: Outputs): ParityResult {
  let worst = 0;
  const notes: string[] = [];
  for (const [name, ref] of Object.entries(want)) {
    const g = got[name];
    if (!g || g.length !== ref.length) {
      notes.push(`${name}: length ${g?.length} vs ${ref.length}`);
      worst = Infinity;
      continue;
    }
    let scale = 0, err = 0, at = 0;
    for (let i = 0; i < ref.length; i++) {
      scale = Math.max(scale, Math.abs(ref[i]));
      const e = Number.isNaN(g[i]) !== Number.isNaN(ref[i]) ? Infinity : Math.abs(g[i] - ref[i]);
      if (e > err) { err = e; at = i; }
    }
    const rel = err / (scale || 1);
    if (rel > worst) worst = rel;
    if (rel > c.tol) notes.push(`${name}[${at}]: gpu ${g[at]} cpu ${ref[at]} (rel ${rel.toExponential(2)})`);
  }
  return { name: c.name, ok: worst <= c.tol, worst, detail: notes.join('; ') };
}

/** Cases whose GPU kernels multiply through the matmul tiles: on the shader-f16 path their operands round to f16. */
export const MATMUL_CASES = /matmul|linear|cross-entropy|lora|K split/;

/** The tolerance of a case on the shader-f16 path: f16 operands (11-bit significands), f32 sums. */
export function f16Tolerance(c: ParityCase): number {
  return MATMUL_CASES.test(c.name) ? Math.max(c.tol, 3e-3) : c.tol;
}

/** Every case on the oracle and on the GPU backend (with `tolerance` overriding the cases' own). */
export async function runParity(cpu: AnyOps, gpu: AnyOps, filter?: (c: ParityCase) => boolean, tolerance?: (c: ParityCase) => number): Promise<ParityResult[]> {
  const results: ParityResult[] = [];
  for (const c of parityCases()) {
    if (filter && !filter(c)) continue;
    try {
      const want = await c.run(cpu);
      const got = await c.run(gpu);
      await gpu.flush();
      results.push(compareOutputs(tolerance ? { ...c, tol: tolerance(c) } : c, want, got));
    } catch (e) {
      results.push({ name: c.name, ok: false, worst: Infinity, detail: `${(e as Error).name}: ${(e as Error).message}` });
    }
  }
  return results;
}

/** What a parity page leaves on window.__gpuParity for gpu-chromium.ts. */
export interface PageReport {
  adapter: string;
  results: ParityResult[];
  error?: string;
}

declare global {
  interface Window {
    __gpuParity?: PageReport;
  }
}

/** Runs a page's cases and publishes the report (or the error) where gpu-chromium.ts reads it. */
export function publishReport(run: () => Promise<PageReport>): void {
  const status = document.getElementById('status')!;
  run()
    .then((report) => {
      window.__gpuParity = report;
      status.textContent = 'done';
    })
    .catch((e: Error) => {
      window.__gpuParity = { adapter: '', results: [], error: `${e.name}: ${e.message}` };
      status.textContent = 'failed';
    });
}
