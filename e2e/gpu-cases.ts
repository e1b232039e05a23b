// Kernel parity cases: each runs one Ops call (or a forward/backward pair) on seeded random
// inputs with odd sizes (not multiples of any workgroup size) and returns what it wrote. The
// same case runs on the scalar CpuOps (the oracle) and on WebGpuOps; both in Node's Dawn
// (test/full/gpu-ops-parity.test.ts) and in headless Chromium (e2e/gpu-chromium.ts via gpu-page.ts, run by
// e2e/gpu-flows.mjs).
// The matrix-product cases are in gpu-cases-matmul.ts, the shared helpers in gpu-case-kit.ts.

import {
  readAll,
  tensors,
  uniform,
  type AnyOps,
  type Outputs,
  type ParityCase,
  type ParityResult,
} from './gpu-case-kit.ts';
import { addMatmulCases } from './gpu-cases-matmul.ts';

export type { ParityCase, ParityResult } from './gpu-case-kit.ts';

export function parityCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  const add = (name: string, tol: number, run: (ops: AnyOps) => Promise<Outputs>) => cases.push({ name, tol, run });

  addMatmulCases(add);

  add('rmsnorm forward+backward', 1e-5, async (ops) => {
    const N = 7,
      C = 300;
    const t = tensors(
      ops,
      {
        out: N * C,
        rstd: N,
        inp: uniform(N * C, 13),
        weight: uniform(C, 14),
        dout: uniform(N * C, 15),
        dinp: uniform(N * C, 16),
      },
      'rms',
    );
    ops.rmsnormForward(t.out, t.rstd, t.inp, t.weight, N, C, 1e-6);
    ops.rmsnormBackward(t.dinp, t.dout, t.inp, t.weight, t.rstd, N, C);
    return readAll(ops, t, ['out', 'rstd', 'dinp']);
  });

  for (const p of [0, 0.1]) {
    add(`lora forward+backward dropout ${p}`, 1e-5, async (ops) => {
      const N = 9,
        In = 21,
        O = 17,
        R = 3,
        scale = 4;
      // a and b are views into one parameter buffer, as the model carves them
      const t = tensors(
        ops,
        {
          out: uniform(N * O, 20),
          xa: N * R,
          inp: uniform(N * In, 21),
          dinp: uniform(N * In, 22),
          dxa: N * R,
          dout: uniform(N * O, 23),
          params: 64 + 128,
          grads: uniform(64 + 128, 24),
        },
        'lora',
      );
      ops.upload(t.params, uniform(R * In, 25), 0);
      ops.upload(t.params, uniform(O * R, 26), 64);
      const a = ops.view(t.params, 0, R * In),
        b = ops.view(t.params, 64, O * R);
      const da = ops.view(t.grads, 0, R * In),
        db = ops.view(t.grads, 64, O * R);
      const dropout = { p, seed: 0xdeadbeef };
      ops.loraForward(t.out, t.xa, t.inp, a, b, N, In, O, R, scale, dropout);
      ops.loraBackward(t.dinp, da, db, t.dxa, t.dout, t.inp, t.xa, a, b, N, In, O, R, scale, dropout);
      return readAll(ops, t, ['out', 'xa', 'dinp', 'dxa', 'grads']);
    });
  }

  add('rope forward, backward', 1e-5, async (ops) => {
    const B = 2,
      T = 5,
      H = 3,
      HD = 8;
    const t = tensors(ops, { x: uniform(B * T * H * HD, 30), dx: uniform(B * T * H * HD, 31) }, 'rope');
    ops.ropeForward(t.x, B, T, H, HD, 10000, 3);
    ops.ropeBackward(t.dx, B, T, H, HD, 1000000, 300);
    return readAll(ops, t, ['x', 'dx']);
  });

  // head dim 8 (two threads of a key's four idle in backward), 64 with Qwen2.5-0.5B's 14 / 2 heads (7 query heads share a
  // KV head, 133 query rows span three workgroups) and 128 (Qwen3: the GPU's unrolled variants);
  // the backend's saved state differs (probabilities vs log-sum-exp), so only results compare
  for (const [HD, T, NH, NKV] of [
    [8, 6, 4, 2],
    [64, 19, 14, 2],
    [128, 7, 4, 2],
  ]) {
    add(`attention forward+backward, padding, head dim ${HD}, ${NH}/${NKV} heads`, 1e-5, async (ops) => {
      const B = 3;
      // batch 1 is right padded; batch 2 masks key 0, so its first query sees nothing
      const mask = Int32Array.from({ length: B * T }, (_, i) => (i >= T + 4 || i === 2 * T ? 0 : 1));
      const state = ops.kind === 'cpu' ? B * NH * T * T : B * NH * T * 2;
      const t = tensors(
        ops,
        {
          out: B * T * NH * HD,
          att: state,
          q: uniform(B * T * NH * HD, 40),
          k: uniform(B * T * NKV * HD, 41),
          v: uniform(B * T * NKV * HD, 42),
          dq: uniform(B * T * NH * HD, 44),
          dk: B * T * NKV * HD,
          dv: B * T * NKV * HD,
          datt: ops.kind === 'cpu' ? B * NH * T * T : 0,
          dout: uniform(B * T * NH * HD, 43),
          mask,
        },
        'att',
      );
      ops.attentionForward(t.out, t.att, t.q, t.k, t.v, t.mask, B, T, T, T, NH, NKV, HD);
      ops.attentionBackward(t.dq, t.dk, t.dv, t.datt, t.dout, t.q, t.k, t.v, t.out, t.att, t.mask, B, T, NH, NKV, HD);
      return readAll(ops, t, ['out', 'dq', 'dk', 'dv']);
    });
  }

  add('attention KV-cache decode', 1e-5, async (ops) => {
    const B = 2,
      T = 2,
      S = 6,
      SMAX = 9,
      NH = 6,
      NKV = 3,
      HD = 4;
    const mask = Int32Array.from({ length: B * SMAX }, (_, i) => (i % SMAX === 1 ? 0 : 1));
    const state = ops.kind === 'cpu' ? B * NH * T * S : B * NH * T * 2;
    const t = tensors(
      ops,
      {
        out: B * T * NH * HD,
        att: state,
        q: uniform(B * T * NH * HD, 50),
        k: uniform(B * SMAX * NKV * HD, 51),
        v: uniform(B * SMAX * NKV * HD, 52),
        mask,
      },
      'kv',
    );
    ops.attentionForward(t.out, t.att, t.q, t.k, t.v, t.mask, B, T, S, SMAX, NH, NKV, HD);
    return readAll(ops, t, ['out']);
  });

  add('swiglu forward+backward', 1e-6, async (ops) => {
    const n = 1001;
    const t = tensors(
      ops,
      { out: n, gate: uniform(n, 60, 6), up: uniform(n, 61), dgate: n, dup: n, dout: uniform(n, 62) },
      'swiglu',
    );
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
    const N = 13,
      M = 5,
      C = 7;
    const idx = Int32Array.from([12, 0, 7, 3, 8]);
    const t = tensors(
      ops,
      { out: M * C, inp: uniform(N * C, 80), dinp: uniform(N * C, 81), dout: uniform(M * C, 82), idx },
      'rows',
    );
    ops.gatherRows(t.out, t.inp, t.idx, M, C);
    ops.scatterAddRows(t.dinp, t.dout, t.idx, M, C);
    return readAll(ops, t, ['out', 'dinp']);
  });

  add('globalNorm + adamw (clipped, weight decay)', 1e-5, async (ops) => {
    const P = 70001; // more than one pass of the fixed norm grid
    const t = tensors(
      ops,
      {
        norm: 1,
        param: uniform(P, 90),
        grad: uniform(P, 91, 0.01),
        m: uniform(P, 92, 0.001),
        v: uniform(P, 93, 0.0001).map(Math.abs),
      },
      'opt',
    );
    ops.globalNorm(t.norm, t.grad, P);
    ops.adamw(t.param, t.grad, t.m, t.v, t.norm, P, {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.01,
      step: 3,
      maxGradNorm: 1,
    });
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
    let scale = 0,
      err = 0,
      at = 0;
    for (let i = 0; i < ref.length; i++) {
      scale = Math.max(scale, Math.abs(ref[i]));
      const e = Number.isNaN(g[i]) !== Number.isNaN(ref[i]) ? Infinity : Math.abs(g[i] - ref[i]);
      if (e > err) {
        err = e;
        at = i;
      }
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
export async function runParity(
  cpu: AnyOps,
  gpu: AnyOps,
  filter?: (c: ParityCase) => boolean,
  tolerance?: (c: ParityCase) => number,
): Promise<ParityResult[]> {
  const results: ParityResult[] = [];
  for (const c of parityCases()) {
    if (filter && !filter(c)) continue;
    try {
      const want = await c.run(cpu);
      const got = await c.run(gpu);
      await gpu.flush();
      results.push(compareOutputs(tolerance ? { ...c, tol: tolerance(c) } : c, want, got));
    } catch (e) {
      results.push({
        name: c.name,
        ok: false,
        worst: Infinity,
        detail: `${(e as Error).name}: ${(e as Error).message}`,
      });
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
