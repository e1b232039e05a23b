// The CPU side of padding-free batches (engine/packing.ts): RoPE at given positions, and packed
// attention run row by row through the ordinary kernels, so each row's (T, S) probabilities take
// L^2 values per head (the sum over rows stays within the padded batch's B * T^2).

import { packedRows } from '../packing.ts';

/** ops.ts's CpuTensor (not imported: ops.ts imports this file). */
type CpuTensor = Float32Array | Int32Array;

/** Rotate-half RoPE in place: token (b, t) at positions[t] (one row) or t + posOffset; sign -1 is the transpose. */
export function ropeInPlace(
  x: Float32Array,
  B: number,
  T: number,
  H: number,
  HD: number,
  theta: number,
  posOffset: number,
  sign: 1 | -1,
  positions?: Int32Array,
): void {
  const half = HD / 2;
  const invFreq = new Float64Array(half);
  for (let j = 0; j < half; j++) invFreq[j] = 1 / Math.pow(theta, (2 * j) / HD);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const pos = positions ? positions[t] : t + posOffset;
      for (let j = 0; j < half; j++) {
        const cos = Math.cos(pos * invFreq[j]),
          sin = sign * Math.sin(pos * invFreq[j]);
        for (let h = 0; h < H; h++) {
          const o = ((b * T + t) * H + h) * HD;
          const x1 = x[o + j],
            x2 = x[o + j + half];
          x[o + j] = x1 * cos - x2 * sin;
          x[o + j + half] = x2 * cos + x1 * sin;
        }
      }
    }
  }
}

/** One attention call's tensors (training layout: q, k, v, out and their gradients (T, heads, HD)). */
type Parts = Record<string, CpuTensor>;

/**
 * Runs `call` once per packed row on views of the tensors (rows of `perToken` values per token for
 * each name in `widths`, the state names `state` NH * L * L values per row, back to back), or once
 * on the whole batch when the mask is not packed. Returns false for the whole-batch case.
 */
export function perPackedRow(
  mask: CpuTensor,
  B: number,
  T: number,
  S: number,
  SMAX: number,
  NH: number,
  t: Parts,
  widths: Record<string, number>,
  state: string[],
  call: (p: Parts, L: number) => void,
): boolean {
  const rows = packedRows(mask as Int32Array, B, T, S, SMAX);
  if (!rows) return false;
  let stateAt = 0;
  for (const [start, L] of rows) {
    const p: Parts = {};
    for (const [name, w] of Object.entries(widths)) p[name] = t[name].subarray(start * w, (start + L) * w);
    for (const name of state) p[name] = t[name].subarray(stateAt, stateAt + NH * L * L);
    p.mask = (mask as Int32Array).subarray(start, start + L);
    stateAt += NH * L * L;
    call(p, L);
  }
  return true;
}
