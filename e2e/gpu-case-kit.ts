// What the kernel parity cases (gpu-cases.ts, gpu-cases-matmul.ts) are made of: seeded inputs,
// tensors uploaded into shared arenas, weights in each stored format, and the case and result
// types. Split out so the case lists stay short and share one set of helpers.

import { narrow, type WeightDType, type WeightFormat } from '../src/core/dtype.ts';
import { quantizeNf4 } from '../src/core/nf4.ts';
import type { Ops } from '../src/engine/ops.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOps = Ops<any, any>;
export type Outputs = Record<string, Float32Array>;

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
export function uniform(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Uploads inputs into one arena per dtype, so kernels also see tensors sharing a buffer. */
export function tensors(ops: AnyOps, spec: Record<string, Float32Array | Int32Array | number>, label: string) {
  const f32: Record<string, number> = {},
    i32: Record<string, number> = {};
  for (const [k, v] of Object.entries(spec))
    (v instanceof Int32Array ? i32 : f32)[k] = typeof v === 'number' ? v : v.length;
  const out = {
    ...ops.arena('f32', f32, `${label}.f32`),
    ...(Object.keys(i32).length ? ops.arena('i32', i32, `${label}.i32`) : {}),
  };
  for (const [k, v] of Object.entries(spec)) if (typeof v !== 'number') ops.upload(out[k], v);
  return out;
}

export function weight(ops: AnyOps, dtype: WeightFormat, rows: number, cols: number, seed: number, scale = 1) {
  const data = uniform(rows * cols, seed, scale);
  const stored = dtype === 'f32' ? data : dtype === 'nf4' ? quantizeNf4(data, 'f32') : narrow(data, dtype);
  return ops.weight(stored, dtype, rows, cols, `w.${dtype}`);
}

export async function readAll(ops: AnyOps, t: Record<string, unknown>, names: string[]): Promise<Outputs> {
  const out: Outputs = {};
  for (const n of names) out[n] = await ops.read(t[n]);
  return out;
}

/** How a case list adds a case (parityCases in gpu-cases.ts). */
export type AddCase = (name: string, tol: number, run: (ops: AnyOps) => Promise<Outputs>) => void;

export const DTYPES: WeightDType[] = ['bf16', 'f16', 'f32'];
