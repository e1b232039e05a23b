// Finite-difference checks of every CPU backward kernel: loss = sum(out * R) for a random R,
// analytic gradient from the backward kernel vs central differences in float64 terms.
import { describe, expect, it } from 'vitest';
import { CpuOps, type CpuWeight } from '../src/engine/cpu/ops.ts';

const ops = new CpuOps();

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return (s / 4294967296) * 2 - 1;
  };
}
const rand = (n: number, r: () => number, scale = 1) => Float32Array.from({ length: n }, () => r() * scale);
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

/**
 * Compares the analytic gradient `grad` of loss(x) w.r.t. x with central differences at a few
 * coordinates; returns the relative L2 error over those coordinates.
 */
function fdError(x: Float32Array, loss: () => number, grad: Float32Array, coords = 24, h = 1e-2): number {
  const r = rng(99);
  let num = 0,
    den = 0;
  for (let k = 0; k < coords; k++) {
    const i = Math.floor(((r() + 1) / 2) * x.length);
    const old = x[i];
    x[i] = old + h;
    const up = loss();
    x[i] = old - h;
    const down = loss();
    x[i] = old;
    const fd = (up - down) / (2 * h);
    num += (fd - grad[i]) ** 2;
    den += fd * fd;
  }
  return Math.sqrt(num / Math.max(den, 1e-12));
}

describe('CPU backward kernels vs finite differences', () => {
  const r = rng(1);
  const N = 5,
    C = 7;

  it('rmsnorm', () => {
    const x = rand(N * C, r),
      w = rand(C, r),
      R = rand(N * C, r);
    const out = new Float32Array(N * C),
      rstd = new Float32Array(N);
    const loss = () => (ops.rmsnormForward(out, rstd, x, w, N, C, 1e-6), dot(out, R));
    loss();
    const dx = new Float32Array(N * C);
    ops.rmsnormBackward(dx, R, x, w, rstd, N, C);
    expect(fdError(x, loss, dx)).toBeLessThan(1e-2);
  });

  for (const dtype of ['f32', 'bf16'] as const) {
    it(`matmul (${dtype} weight)`, () => {
      const In = 9,
        O = 6;
      const x = rand(N * In, r),
        R = rand(N * O, r),
        bias = rand(O, r);
      const wf = rand(O * In, r);
      const w: CpuWeight =
        dtype === 'f32'
          ? { data: wf, dtype, rows: O, cols: In }
          : { data: Uint16Array.from(new Uint32Array(wf.buffer), (b) => b >>> 16), dtype, rows: O, cols: In };
      const out = new Float32Array(N * O);
      const loss = () => (ops.matmulForward(out, x, w, bias, N, In, O), dot(out, R));
      const dx = new Float32Array(N * In);
      ops.matmulBackward(dx, R, w, N, In, O);
      expect(fdError(x, loss, dx)).toBeLessThan(1e-2);
    });
  }

  for (const p of [0, 0.3]) {
    it(`lora (dropout ${p})`, () => {
      const In = 9,
        O = 6,
        Rk = 3,
        scale = 2.5,
        drop = { p, seed: 1234 };
      const x = rand(N * In, r),
        a = rand(Rk * In, r),
        b = rand(O * Rk, r),
        R = rand(N * O, r);
      const out = new Float32Array(N * O),
        xa = new Float32Array(N * Rk);
      const loss = () => (out.fill(0), ops.loraForward(out, xa, x, a, b, N, In, O, Rk, scale, drop), dot(out, R));
      loss();
      const dx = new Float32Array(N * In),
        da = new Float32Array(Rk * In),
        db = new Float32Array(O * Rk),
        dxa = new Float32Array(N * Rk);
      ops.loraBackward(dx, da, db, dxa, R, x, xa, a, b, N, In, O, Rk, scale, drop);
      expect(fdError(x, loss, dx)).toBeLessThan(1e-2);
      expect(fdError(a, loss, da)).toBeLessThan(1e-2);
      expect(fdError(b, loss, db)).toBeLessThan(1e-2);
      if (p > 0) expect(xa.some((v, i) => v !== 0) && dx.some((v) => v === 0)).toBe(true);
    });
  }

  it('rope', () => {
    const B = 2,
      T = 3,
      H = 2,
      HD = 8;
    const x = rand(B * T * H * HD, r),
      R = rand(x.length, r);
    const loss = () => {
      const y = x.slice();
      ops.ropeForward(y, B, T, H, HD, 10000, 2);
      return dot(y, R);
    };
    const dx = R.slice();
    ops.ropeBackward(dx, B, T, H, HD, 10000, 2);
    expect(fdError(x, loss, dx)).toBeLessThan(1e-2);
  });

  it('attention (GQA, causal, padding mask)', () => {
    const B = 2,
      T = 5,
      NH = 4,
      NKV = 2,
      HD = 4;
    const q = rand(B * T * NH * HD, r),
      k = rand(B * T * NKV * HD, r),
      v = rand(B * T * NKV * HD, r);
    const mask = Int32Array.from({ length: B * T }, (_, i) => (i >= T + 3 ? 0 : 1)); // row 1 padded after 3
    const R = rand(B * T * NH * HD, r);
    const out = new Float32Array(R.length),
      att = new Float32Array(B * NH * T * T);
    const loss = () => (ops.attentionForward(out, att, q, k, v, mask, B, T, T, T, NH, NKV, HD), dot(out, R));
    loss();
    const dq = new Float32Array(q.length),
      dk = new Float32Array(k.length),
      dv = new Float32Array(v.length),
      datt = new Float32Array(att.length);
    ops.attentionBackward(dq, dk, dv, datt, R, q, k, v, out, att, mask, B, T, NH, NKV, HD);
    expect(fdError(q, loss, dq)).toBeLessThan(1e-2);
    expect(fdError(k, loss, dk)).toBeLessThan(1e-2);
    expect(fdError(v, loss, dv)).toBeLessThan(1e-2);
  });

  it('swiglu', () => {
    const n = 11,
      g = rand(n, r, 3),
      u = rand(n, r),
      R = rand(n, r),
      out = new Float32Array(n);
    const loss = () => (ops.swigluForward(out, g, u, n), dot(out, R));
    const dg = new Float32Array(n),
      du = new Float32Array(n);
    ops.swigluBackward(dg, du, R, g, u, n);
    expect(fdError(g, loss, dg, 11)).toBeLessThan(1e-2);
    expect(fdError(u, loss, du, 11)).toBeLessThan(1e-2);
  });

  it('cross-entropy over vocabulary chunks', () => {
    const M = 3,
      V = 37,
      Cc = 5;
    const h = rand(M * Cc, r),
      wf = rand(V * Cc, r);
    const w: CpuWeight = { data: wf, dtype: 'f32', rows: V, cols: Cc };
    const targets = Int32Array.of(4, 36, 0);
    const losses = new Float32Array(M),
      dh = new Float32Array(M * Cc);
    const chunked = new (class extends CpuOps {
      protected override ceChunk = 8;
    })();
    const loss = () => (
      chunked.crossEntropyForwardBackward(losses, dh, h, w, targets, M, Cc, V, 0.5),
      losses.reduce((a, b) => a + b, 0) * 0.5
    );
    loss();
    const g = dh.slice();
    // forward against a direct log-softmax
    for (let m = 0; m < M; m++) {
      const logits = Array.from({ length: V }, (_, v) =>
        dot(h.subarray(m * Cc, (m + 1) * Cc), wf.subarray(v * Cc, (v + 1) * Cc)),
      );
      const mx = Math.max(...logits);
      const lse = mx + Math.log(logits.reduce((s, l) => s + Math.exp(l - mx), 0));
      expect(losses[m]).toBeCloseTo(lse - logits[targets[m]], 5);
    }
    expect(fdError(h, loss, g, 15)).toBeLessThan(1e-2);
  });

  it('adamw matches the torch update written out in float64', () => {
    const P = 10,
      p = rand(P, r),
      g = rand(P, r),
      m = rand(P, r, 0.1),
      v = rand(P, r).map(Math.abs);
    const want = Array.from(p, (x, i) => {
      const clip = Math.min(1, 0.5 / (3 + 1e-6)),
        gi = g[i] * clip,
        lr = 0.01,
        wd = 0.1,
        step = 3;
      const mi = 0.9 * m[i] + 0.1 * gi,
        vi = 0.999 * v[i] + 0.001 * gi * gi;
      return x * (1 - lr * wd) - (lr * mi) / (1 - 0.9 ** step) / (Math.sqrt(vi / (1 - 0.999 ** step)) + 1e-8);
    });
    ops.adamw(p, g, m, v, Float32Array.of(3), P, {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.1,
      step: 3,
      maxGradNorm: 0.5,
    });
    p.forEach((x, i) => expect(x).toBeCloseTo(want[i], 5));
  });
});
