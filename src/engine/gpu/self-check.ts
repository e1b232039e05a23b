// The self-check of a new device: before the first step, every kernel variant the run will use
// beyond the plain f32 path (shader-f16 matmul tiles; subgroup reductions, cross-entropy rows,
// attention's split dot products and LoRA x @ A) runs on small random
// inputs and is compared with the scalar CPU kernels (the f32 oracle every WGSL kernel is tested
// against). A variant outside its bound is switched off for the device (create.ts makes a new
// device without it): no emulator offers every driver a user may have, so a variant that is
// wrong on one vendor's driver must not train wrong there unseen.

import { CpuOps } from '../cpu/ops.ts';
import type { Ops } from '../ops.ts';
import { attentionScratch, attentionState } from '../plan.ts';
import type { MatmulPlanner, ShaderFeatures, VariantVerdict } from './variants.ts';

export type CheckedVariant = keyof ShaderFeatures;
export type { VariantVerdict } from './variants.ts';

/**
 * f16 tiles: operands rounded to 11-bit significands with f32 sums give ~5e-4 relL2 on unit
 * normal data (measured on lavapipe 25: see the test); 8x that is still far below what a wrong
 * kernel gives (a dropped tile, a wrong scale: 1e-1 and up). Subgroup reductions change only the
 * order of f32 sums: 1e-5.
 */
export const SELF_CHECK_BOUNDS: Record<CheckedVariant, number> = { f16: 4e-3, subgroups: 1e-5 };

export const VARIANT_NAMES: Record<CheckedVariant, string> = { f16: 'f16 tiles', subgroups: 'subgroups' };

/** A deterministic normal-ish sequence (sum of uniforms): the same inputs on every device. */
function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Float32Array.from({ length: n }, () => u() + u() + u() + u() - 2);
}

/** bf16 bits of the values (truncated): models arrive as bf16, so its kernels get compiled anyway. */
function bf16(values: Float32Array): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return Uint16Array.from(u, (x) => x >>> 16);
}

function relL2(got: Float32Array, want: Float32Array): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < want.length; i++) {
    const d = got[i] - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  const r = Math.sqrt(num / Math.max(den, 1e-30));
  return Number.isFinite(r) ? r : Infinity; // NaN (a broken kernel) counts as the worst error
}

type Probe = <T, W>(ops: Ops<T, W>) => Promise<Float32Array>;

async function readAll<T, W>(ops: Ops<T, W>, ts: [T, number][]): Promise<Float32Array> {
  await ops.flush();
  const parts = await Promise.all(ts.map(([t, n]) => ops.read(t, n)));
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** x @ wᵀ + bias and dy @ w at a shape with ragged tile edges (and over 8 rows: not the GEMV). */
function matmulProbe(N: number, In: number, O: number): Probe {
  return async (ops) => {
    const up = (data: Float32Array, label: string) => {
      const t = ops.alloc('f32', data.length, label);
      ops.upload(t, data);
      return t;
    };
    const w = ops.weight(bf16(randoms(O * In, 1)), 'bf16', O, In, 'self-check w');
    const x = up(randoms(N * In, 2), 'self-check x'),
      bias = up(randoms(O, 3), 'self-check bias'),
      dy = up(randoms(N * O, 4), 'self-check dy');
    const out = ops.alloc('f32', N * O, 'self-check out'),
      dx = ops.alloc('f32', N * In, 'self-check dx');
    ops.matmulForward(out, x, w, bias, N, In, O);
    ops.matmulBackward(dx, dy, w, N, In, O);
    return readAll(ops, [
      [out, N * O],
      [dx, N * In],
    ]);
  };
}

/** The cross-entropy's logits and dh, which run on the f16 tiles too. */
const crossEntropyProbe: Probe = async (ops) => {
  const M = 70,
    C = 96,
    V = 300;
  const h = ops.alloc('f32', M * C, 'self-check h');
  ops.upload(h, randoms(M * C, 5));
  const w = ops.weight(bf16(randoms(V * C, 6).map((v) => v * 0.2)), 'bf16', V, C, 'self-check head');
  const targets = ops.alloc('i32', M, 'self-check targets');
  ops.upload(
    targets,
    Int32Array.from({ length: M }, (_, i) => (i * 37) % V),
  );
  const losses = ops.alloc('f32', M, 'self-check losses'),
    dh = ops.alloc('f32', M * C, 'self-check dh');
  ops.crossEntropyForwardBackward(losses, dh, h, w, targets, M, C, V, 1 / M);
  return readAll(ops, [
    [losses, M],
    [dh, M * C],
  ]);
};

/** RMSNorm forward and backward (row reductions) and the global gradient norm. */
const reductionProbe: Probe = async (ops) => {
  const N = 6,
    C = 1000,
    P = 70_001;
  const x = ops.alloc('f32', N * C, 'self-check x'),
    g = ops.alloc('f32', C, 'self-check g'),
    dy = ops.alloc('f32', N * C, 'self-check dy');
  const big = ops.alloc('f32', P, 'self-check p');
  ops.upload(x, randoms(N * C, 7));
  ops.upload(g, randoms(C, 8));
  ops.upload(dy, randoms(N * C, 9));
  ops.upload(big, randoms(P, 10));
  const out = ops.alloc('f32', N * C, 'self-check out'),
    rstd = ops.alloc('f32', N, 'self-check rstd');
  const dx = ops.alloc('f32', N * C, 'self-check dx'),
    norm = ops.alloc('f32', 1, 'self-check norm');
  ops.rmsnormForward(out, rstd, x, g, N, C, 1e-6);
  ops.rmsnormBackward(dx, dy, x, g, rstd, N, C);
  ops.globalNorm(norm, big, P);
  return readAll(ops, [
    [out, N * C],
    [rstd, N],
    [dx, N * C],
    [norm, 1],
  ]);
};

/** A tensor of `n` random values (seeded) on `ops`. */
function randomTensor<T, W>(ops: Ops<T, W>, n: number, seed: number, label: string, scale = 1): T {
  const t = ops.alloc('f32', n, label);
  ops.upload(
    t,
    randoms(n, seed).map((v) => v * scale),
  );
  return t;
}

/**
 * Attention forward and backward (its backward adds each key's split q.k and dout.v across lanes
 * with subgroups): two key blocks, grouped heads, padded keys. The backends keep different
 * state (`att`), so only out, dq, dk and dv are compared.
 */
const attentionProbe: Probe = async (ops) => {
  const B = 1,
    T = 24,
    NH = 4,
    NKV = 2,
    HD = 16,
    Q = B * T * NH * HD,
    KV = B * T * NKV * HD;
  const q = randomTensor(ops, Q, 11, 'self-check q'),
    k = randomTensor(ops, KV, 12, 'self-check k'),
    v = randomTensor(ops, KV, 13, 'self-check v');
  const dout = randomTensor(ops, Q, 14, 'self-check dout');
  const mask = ops.alloc('i32', B * T, 'self-check mask');
  ops.upload(
    mask,
    Int32Array.from({ length: B * T }, (_, t) => (t < T - 3 ? 1 : 0)),
  );
  const out = ops.alloc('f32', Q, 'self-check out'),
    att = ops.alloc('f32', attentionState(ops.kind, B, NH, T, T), 'self-check att');
  const dq = ops.alloc('f32', Q, 'self-check dq'),
    dk = ops.alloc('f32', KV, 'self-check dk'),
    dv = ops.alloc('f32', KV, 'self-check dv');
  const datt = ops.alloc('f32', Math.max(1, attentionScratch(ops.kind, B, NH, T)), 'self-check datt');
  ops.attentionForward(out, att, q, k, v, mask, B, T, T, T, NH, NKV, HD);
  ops.attentionBackward(dq, dk, dv, datt, dout, q, k, v, out, att, mask, B, T, NH, NKV, HD);
  return readAll(ops, [
    [out, Q],
    [dq, Q],
    [dk, KV],
    [dv, KV],
  ]);
};

/** A LoRA adapter forward and backward (x @ A runs on lanes with subgroups), In over two chunks. */
const loraProbe: Probe = async (ops) => {
  const N = 21,
    In = 150,
    O = 40,
    R = 8,
    drop = { p: 0, seed: 0 };
  const inp = randomTensor(ops, N * In, 15, 'self-check inp'),
    a = randomTensor(ops, R * In, 16, 'self-check a', 0.1);
  const b = randomTensor(ops, O * R, 17, 'self-check b', 0.1),
    dout = randomTensor(ops, N * O, 18, 'self-check dout');
  const out = randomTensor(ops, N * O, 19, 'self-check out'),
    xa = ops.alloc('f32', N * R, 'self-check xa'),
    dxa = ops.alloc('f32', N * R, 'self-check dxa');
  const dinp = ops.alloc('f32', N * In, 'self-check dinp'),
    da = ops.alloc('f32', R * In, 'self-check da'),
    db = ops.alloc('f32', O * R, 'self-check db');
  ops.loraForward(out, xa, inp, a, b, N, In, O, R, 2, drop);
  ops.loraBackward(dinp, da, db, dxa, dout, inp, xa, a, b, N, In, O, R, 2, drop);
  return readAll(ops, [
    [out, N * O],
    [xa, N * R],
    [dinp, N * In],
    [da, R * In],
    [db, O * R],
  ]);
};

/** The probes of each variant; the matmul ones run once per tile shape the planner may pick. */
function probes(variant: CheckedVariant): [name: string, probe: Probe, tiles: boolean][] {
  if (variant === 'subgroups') {
    return [
      ['rmsnorm + global norm', reductionProbe, false],
      ['cross-entropy', crossEntropyProbe, true],
      ['attention', attentionProbe, false],
      ['lora', loraProbe, false],
    ];
  }
  return [
    ['matmul', matmulProbe(72, 136, 200), true],
    ['cross-entropy', crossEntropyProbe, true],
  ];
}

/**
 * Runs each variant in `features` that is on through `ops` (built with those features) and
 * compares it with the CPU. The planner's forced tile shape is restored afterwards.
 */
export async function selfCheck<T, W>(
  ops: Ops<T, W>,
  features: ShaderFeatures,
  planner: MatmulPlanner,
): Promise<VariantVerdict[]> {
  const cpu = new CpuOps();
  const verdicts: VariantVerdict[] = [];
  const forced = planner.force;
  try {
    for (const variant of (Object.keys(features) as CheckedVariant[]).filter((v) => features[v])) {
      // the worst probe by its error over its bound
      let error = 0,
        worst = '',
        bound = SELF_CHECK_BOUNDS[variant],
        ratio = 0;
      const shapes = variant === 'f16' ? (['small', 'big'] as const) : ([forced] as const);
      for (const [name, probe, tiles] of probes(variant)) {
        // a subgroup kernel that runs on the matmul tiles (cross-entropy) carries their f16 rounding
        const b = variant === 'subgroups' && tiles && features.f16 ? SELF_CHECK_BOUNDS.f16 : SELF_CHECK_BOUNDS[variant];
        const want = await probe(cpu);
        for (const shape of shapes) {
          planner.force = shape;
          const where = shape ? `${name} (${shape} tiles)` : name;
          let e: number,
            failed = '';
          try {
            e = relL2(await probe(ops), want);
          } catch (err) {
            // a variant the driver rejects is refused like a wrong one
            e = Infinity;
            failed = `${where}: ${(err as Error).message}`;
          }
          if (!(e / b <= ratio)) {
            if (failed || Number.isFinite(e) || !worst) worst = failed || where;
            ratio = e / b;
            error = e;
            bound = b;
          }
        }
      }
      verdicts.push({ variant, ok: error <= bound, error, worst, bound });
    }
  } finally {
    planner.force = forced;
  }
  return verdicts;
}

/** The notice for a refused variant, as the page and the CLI show it. */
export function refusalNotice(v: VariantVerdict): string {
  const fallback = v.variant === 'f16' ? 'f32 tiles' : 'plain reductions';
  return `self-check: the ${VARIANT_NAMES[v.variant]} kernels differ from the f32 reference on this device (${v.worst}: relative error ${v.error.toExponential(1)} > ${v.bound}); switched off, running on ${fallback}`;
}
