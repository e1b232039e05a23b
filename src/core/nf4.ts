// NF4 (QLoRA's 4-bit NormalFloat), exactly as bitsandbytes Linear4bit(quant_type="nf4") without
// double quantization: the weight's row-major elements are cut into blocks of 64; a block keeps
// absmax = max |x| in f32, and each element the index of the NF4 code nearest to x / absmax
// (f32 division; ties go to the lower index, as torch.argmin over the sorted code book). The
// value the kernels use is code * absmax, one f32 multiplication: bit for bit what PyTorch's
// reference (../shared/golden/make_golden.py nf4_roundtrip) computes.
//
// THE PACKED LAYOUT (every kernel, WGSL, C and TypeScript, reads this and only this):
//   A weight (rows, cols) with rows * cols a multiple of 64 is a Uint32Array of 9 words per
//   block; block b covers flat elements 64b .. 64b+63 (element (r, c) is flat r * cols + c;
//   a block may span rows when cols is not a multiple of 64).
//     word 9b + w (w = 0..7): codes of elements 64b + 8w .. 64b + 8w + 7, element 64b + e
//                             in bits 4 * (e & 7) .. +3 of word 9b + (e >> 3) (low nibble first)
//     word 9b + 8:           absmax of the block, f32 bits
//   So element i dequantizes as NF4_CODES[(words[9*(i>>6) + ((i&63)>>3)] >> (4*(i&7))) & 15]
//   * f32(words[9*(i>>6) + 8]). 36 bytes per 64 values: 4.5 bits a weight.
//   Splitting a weight by rows (GPU bindings, see src/engine/gpu/memory.ts) cuts only between
//   blocks: a chunk starts at a row r0 with r0 * cols a multiple of 64 (nf4RowStep).

import { f16ToF32 } from './dtype.ts';
import { EngineError } from './errors.ts';

/** How the base's projections are held: as stored, or 4-bit NF4 (QLoRA). */
export type Quantization = 'none' | 'nf4';

/** The tensors NF4 applies to: the weights of the seven projections (not embeddings, norms, biases). */
export function isQuantizedTensor(name: string): boolean {
  return /^model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$/.test(name);
}

export const NF4_BLOCK = 64;
/** Names the packed layout below; stored with cached NF4 weights so another layout is never read as this one. */
export const NF4_LAYOUT = 'nf4/b64/9w/low-nibble-first/v1';
/** u32 words per block: 8 of codes, 1 of absmax. */
export const NF4_BLOCK_WORDS = 9;

/** The bitsandbytes NF4 code book (QLoRA paper, Dettmers et al. 2023), ascending, as f32. */
export const NF4_CODES = Float32Array.of(
  -1.0,
  -0.6961928009986877,
  -0.5250730514526367,
  -0.39491748809814453,
  -0.28444138169288635,
  -0.18477343022823334,
  -0.09105003625154495,
  0.0,
  0.07958029955625534,
  0.16093020141124725,
  0.24611230194568634,
  0.33791524171829224,
  0.44070982933044434,
  0.5626170039176941,
  0.7229568362236023,
  1.0,
);

/** Words of a packed weight of n elements. */
export function nf4Words(n: number): number {
  return (n / NF4_BLOCK) * NF4_BLOCK_WORDS;
}

/** Bytes of a packed weight of n elements (n a multiple of 64). */
export function nf4Bytes(n: number): number {
  return nf4Words(n) * 4;
}

/** The smallest number of rows of a (rows, cols) weight that holds whole blocks. */
export function nf4RowStep(cols: number): number {
  let g = NF4_BLOCK,
    c = cols;
  while (c) [g, c] = [c, g % c];
  return NF4_BLOCK / g;
}

export function checkNf4Shape(rows: number, cols: number, label: string): void {
  if ((rows * cols) % NF4_BLOCK)
    throw new EngineError(
      `${label}: a (${rows}, ${cols}) weight has ${rows * cols} values, not a multiple of the NF4 block of ${NF4_BLOCK}; load it without --quant nf4`,
    );
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fr = Math.fround;

/** The rule itself: the code nearest to s (an f32 in [-1, 1]), |s - code| rounded to f32 as in torch. */
function nearestCodeExact(s: number, lo: number): number {
  // lo is the last code <= s; every other code is farther by at least one code gap, which no f32
  // rounding can close, so only lo and lo + 1 compete; a tie goes to lo (torch.argmin's first index)
  if (lo === 15) return 15;
  const dLo = Math.abs(fr(s - NF4_CODES[lo])),
    dHi = Math.abs(fr(s - NF4_CODES[lo + 1]));
  return dHi < dLo ? lo + 1 : lo;
}

/**
 * [-1, 1] cut into BUCKETS equal buckets (their edges are exact: s + 1 and the scaling are exact
 * in f64). A bucket away from every midpoint between two codes has one answer, stored as 0..15;
 * one that holds a midpoint (code gaps are 160 buckets wide, so at most one) stores 16 + the
 * lower code, and its values take the exact rule. Same answers, about ten times faster.
 */
const BUCKETS = 4096;
const BUCKET_CODE = (() => {
  const t = new Uint8Array(BUCKETS + 1);
  const width = 2 / BUCKETS,
    margin = 1e-6;
  for (let b = 0; b <= BUCKETS; b++) {
    const lo = -1 + b * width,
      hi = lo + width;
    let k = 0;
    while (k < 15 && NF4_CODES[k + 1] <= lo) k++;
    const mid = k < 15 ? (NF4_CODES[k] + NF4_CODES[k + 1]) / 2 : Infinity;
    if (mid >= lo - margin && mid <= hi + margin) t[b] = 16 + k;
    else t[b] = mid < lo ? k + 1 : k;
  }
  return t;
})();

function nearestCode(s: number): number {
  const t = BUCKET_CODE[Math.floor((s + 1) * (BUCKETS / 2))];
  if (t < 16) return t;
  const k = t - 16;
  return nearestCodeExact(s, s >= NF4_CODES[k + 1] ? k + 1 : k);
}

/**
 * Quantizes a row-major tensor to the packed layout above. `out` may be given (nf4Words(n)
 * words). A non-finite value is refused: its block would have no meaningful scale.
 */
export function quantizeNf4(
  src: Float32Array | Uint16Array,
  dtype: 'f32' | 'bf16' | 'f16',
  label = 'weight',
  out?: Uint32Array,
): Uint32Array {
  const n = src.length;
  if (n % NF4_BLOCK) throw new EngineError(`${label}: ${n} values are not a multiple of the NF4 block of ${NF4_BLOCK}`);
  const words = out ?? new Uint32Array(nf4Words(n));
  if (words.length !== nf4Words(n))
    throw new EngineError(`${label}: NF4 output holds ${words.length} words, ${nf4Words(n)} needed`);
  const x = new Float32Array(NF4_BLOCK),
    xb = new Uint32Array(x.buffer);
  for (let b = 0, base = 0; base < n; b++, base += NF4_BLOCK) {
    // the block as f32 (bf16 and f16 widen exactly)
    if (dtype === 'f32') x.set((src as Float32Array).subarray(base, base + NF4_BLOCK));
    else if (dtype === 'bf16') for (let e = 0; e < NF4_BLOCK; e++) xb[e] = src[base + e] << 16;
    else for (let e = 0; e < NF4_BLOCK; e++) x[e] = f16ToF32(src[base + e]);
    let absmax = 0;
    for (let e = 0; e < NF4_BLOCK; e++) {
      const a = Math.abs(x[e]);
      if (a > absmax) absmax = a;
      else if (!(a <= absmax))
        throw new EngineError(`${label}: value ${x[e]} at element ${base + e} cannot be quantized to NF4`);
    }
    if (absmax === Infinity)
      throw new EngineError(
        `${label}: value ${x[x.findIndex((v) => !Number.isFinite(v))]} at element ${base + x.findIndex((v) => !Number.isFinite(v))} cannot be quantized to NF4`,
      );
    const w0 = b * NF4_BLOCK_WORDS;
    for (let w = 0; w < 8; w++) {
      let word = 0;
      for (let k = 0; k < 8; k++) {
        const s = absmax > 0 ? fr(x[w * 8 + k] / absmax) : 0;
        word |= nearestCode(s) << (4 * k);
      }
      words[w0 + w] = word >>> 0;
    }
    f32[0] = absmax;
    words[w0 + 8] = u32[0];
  }
  return words;
}

/** Code index (0..15) of element i. */
export function nf4Code(words: Uint32Array, i: number): number {
  return (words[NF4_BLOCK_WORDS * (i >> 6) + ((i & 63) >> 3)] >>> (4 * (i & 7))) & 15;
}

/** absmax of block b. */
export function nf4Absmax(words: Uint32Array, b: number): number {
  u32[0] = words[NF4_BLOCK_WORDS * b + 8];
  return f32[0];
}

/** Elements start .. start+n-1 dequantized into out (f32 code * absmax). */
export function dequantizeNf4(words: Uint32Array, start: number, n: number, out: Float32Array): Float32Array {
  let i = start;
  const end = start + n;
  while (i < end) {
    const b = i >> 6,
      w0 = NF4_BLOCK_WORDS * b;
    const absmax = nf4Absmax(words, b);
    const stop = Math.min(end, (b + 1) * NF4_BLOCK);
    for (; i < stop; i++) out[i - start] = fr(NF4_CODES[(words[w0 + ((i & 63) >> 3)] >>> (4 * (i & 7))) & 15] * absmax);
  }
  return out;
}
