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
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
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
  let g = NF4_BLOCK, c = cols;
  while (c) [g, c] = [c, g % c];
  return NF4_BLOCK / g;
}

export function checkNf4Shape(rows: number, cols: number, label: string): void {
  if ((rows * cols) % NF4_BLOCK)
    throw new EngineError(`${label}: a (${rows}, ${cols}) weight has ${rows * cols} values, not a multiple of the NF4 block of ${NF4_BLOCK}; load it without --quant nf4`);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fr = Math.fround;

/** Index of the code nearest to s (an f32 in [-1, 1]); the distance |s - code| is rounded to f32 as in torch. */
function nearestCode(s: number): number {
  // k: the last code <= s (binary search over the sorted book)
  let lo = 0, hi = 15;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (NF4_CODES[mid] <= s) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 15) return 15;
  // every other code is farther by at least one code gap, which no f32 rounding can close
  const dLo = Math.abs(fr(s - NF4_CODES[lo])), dHi = Math.abs(fr(s - NF4_CODES[lo + 1]));
  return dHi < dLo ? lo + 1 : lo;
}

/** One element of a stored tensor as f32 (f32, bf16 bits or f16 bits). */
function storedValue(src: Float32Array | Uint16Array, dtype: 'f32' | 'bf16' | 'f16', i: number): number {
  if (dtype === 'f32') return src[i];
  if (dtype === 'bf16') {
    u32[0] = src[i] << 16;
    return f32[0];
  }
  return f16ToF32(src[i]);
}

/**
 * Quantizes a row-major tensor to the packed layout above. `out` may be given (nf4Words(n)
 * words). A non-finite value is refused: its block would have no meaningful scale.
 */
export function quantizeNf4(src: Float32Array | Uint16Array, dtype: 'f32' | 'bf16' | 'f16', label = 'weight', out?: Uint32Array): Uint32Array {
  const n = src.length;
  if (n % NF4_BLOCK) throw new EngineError(`${label}: ${n} values are not a multiple of the NF4 block of ${NF4_BLOCK}`);
  const words = out ?? new Uint32Array(nf4Words(n));
  if (words.length !== nf4Words(n)) throw new EngineError(`${label}: NF4 output holds ${words.length} words, ${nf4Words(n)} needed`);
  const x = new Float32Array(NF4_BLOCK);
  for (let b = 0, base = 0; base < n; b++, base += NF4_BLOCK) {
    let absmax = 0;
    for (let e = 0; e < NF4_BLOCK; e++) {
      const v = storedValue(src, dtype, base + e);
      if (!Number.isFinite(v)) throw new EngineError(`${label}: value ${v} at element ${base + e} cannot be quantized to NF4`);
      x[e] = v;
      const a = Math.abs(v);
      if (a > absmax) absmax = a;
    }
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
    const b = i >> 6, w0 = NF4_BLOCK_WORDS * b;
    const absmax = nf4Absmax(words, b);
    const stop = Math.min(end, (b + 1) * NF4_BLOCK);
    for (; i < stop; i++) out[i - start] = fr(NF4_CODES[(words[w0 + ((i & 63) >> 3)] >>> (4 * (i & 7))) & 15] * absmax);
  }
  return out;
}
