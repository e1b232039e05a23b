// 16-bit float helpers. Weights stay in their stored 16-bit form; these widen one
// value at a time inside kernels and convert whole arrays only for small tensors.

export type DType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';
export type WeightDType = 'f32' | 'bf16' | 'f16';
/** How the kernels hold a frozen weight: its stored dtype, or NF4 blocks (src/core/nf4.ts). */
export type WeightFormat = WeightDType | 'nf4';

export const DTYPE_BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** Round to nearest even, as torch does when casting to bfloat16. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return 0x7fc0; // NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function f32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function widen(src: Uint16Array, dtype: 'bf16' | 'f16', out = new Float32Array(src.length)): Float32Array {
  if (dtype === 'bf16') {
    const o32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < src.length; i++) o32[i] = src[i] << 16;
  } else {
    for (let i = 0; i < src.length; i++) out[i] = f16ToF32(src[i]);
  }
  return out;
}

export function narrow(src: Float32Array, dtype: 'bf16' | 'f16', out = new Uint16Array(src.length)): Uint16Array {
  const conv = dtype === 'bf16' ? f32ToBf16 : f32ToF16;
  for (let i = 0; i < src.length; i++) out[i] = conv(src[i]);
  return out;
}
