// Readable scalar twins of the WebAssembly kernels in kernels.c: the same arguments on plain
// arrays, one output element at a time. Tests compare the SIMD/threaded kernels to these.

import { bf16ToF32, f16ToF32, type WeightFormat } from '../../../core/dtype.ts';
import { dequantizeNf4 } from '../../../core/nf4.ts';
import { dropoutKeep } from '../../ops.ts';

export interface ScalarGemm {
  M: number;
  J: number;
  K: number;
  A: Float32Array;
  sAm: number;
  sAk: number;
  B: Float32Array | Uint16Array | Uint32Array;
  bdtype: WeightFormat;
  /** Elements of B (NF4 only: its words do not say how many values they hold). */
  Bn?: number;
  sBk: number;
  sBj: number;
  C: Float32Array;
  ldc: number;
  alpha: number;
  accumulate: boolean;
  bias: Float32Array | null;
}

function widenAll(B: Float32Array | Uint16Array | Uint32Array, dtype: WeightFormat, n = B.length): Float64Array {
  if (dtype === 'nf4') return Float64Array.from(dequantizeNf4(B as Uint32Array, 0, n, new Float32Array(n)));
  if (dtype === 'f32') return Float64Array.from(B);
  return Float64Array.from(B, (h) => (dtype === 'bf16' ? bf16ToF32(h) : f16ToF32(h)));
}

/** C[m, j] = (accumulate ? C[m, j] : bias[j] or 0) + alpha * sum_k A[m*sAm + k*sAk] * B[k*sBk + j*sBj] */
export function gemmScalar(g: ScalarGemm): void {
  const B = widenAll(g.B, g.bdtype, g.Bn);
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
export function dropoutScalar(
  dst: Float32Array,
  src: Float32Array,
  n: number,
  seed: number,
  e0: number,
  p: number,
  add: boolean,
): void {
  const keep = 1 / (1 - p);
  for (let e = 0; e < n; e++) {
    const v = dropoutKeep({ p, seed }, e0 + e) ? src[e] * keep : 0;
    dst[e] = add ? dst[e] + v : v;
  }
}
