// Readable scalar twins of the WebAssembly kernels in kernels.c: the same arguments on plain
// arrays, one output element at a time. Tests compare the SIMD/threaded kernels to these.

import { bf16ToF32, f16ToF32, type WeightDType } from '../../../core/dtype.ts';
import { dropoutKeep } from '../../ops.ts';

export interface ScalarGemm {
  M: number;
  J: number;
  K: number;
  A: Float32Array;
  sAm: number;
  sAk: number;
  B: Float32Array | Uint16Array;
  bdtype: WeightDType;
  sBk: number;
  sBj: number;
  C: Float32Array;
  ldc: number;
  alpha: number;
  accumulate: boolean;
  bias: Float32Array | null;
}

function bValue(B: Float32Array | Uint16Array, dtype: WeightDType, idx: number): number {
  if (dtype === 'f32') return B[idx];
  return dtype === 'bf16' ? bf16ToF32(B[idx]) : f16ToF32(B[idx]);
}

/** C[m, j] = (accumulate ? C[m, j] : bias[j] or 0) + alpha * sum_k A[m*sAm + k*sAk] * B[k*sBk + j*sBj] */
export function gemmScalar(g: ScalarGemm): void {
  const B = Float64Array.from(g.B, (_, idx) => bValue(g.B, g.bdtype, idx));
  for (let m = 0; m < g.M; m++) {
    for (let j = 0; j < g.J; j++) {
      let s = 0;
      for (let k = 0; k < g.K; k++) s += g.A[m * g.sAm + k * g.sAk] * B[k * g.sBk + j * g.sBj];
      const base = g.accumulate ? g.C[m * g.ldc + j] : g.bias ? g.bias[j] : 0;
      g.C[m * g.ldc + j] = base + g.alpha * s;
    }
  }
}

/** dst[e] (+)= src[e] * (dropoutKeep(seed, e0 + e) ? 1/(1-p) : 0) */
export function dropoutScalar(dst: Float32Array, src: Float32Array, n: number, seed: number, e0: number, p: number, add: boolean): void {
  const keep = 1 / (1 - p);
  for (let e = 0; e < n; e++) {
    const v = dropoutKeep({ p, seed }, e0 + e) ? src[e] * keep : 0;
    dst[e] = add ? dst[e] + v : v;
  }
}
