// NaN and infinity in stored weights. A NaN in a base q/k projection silently zeroes attention
// and training goes on; one in an adapter is copied into every merged model. So every tensor is
// checked as it is read, and the first bad element is named by tensor, index and coordinates.
// 16-bit weights are checked on their bits (all-ones exponent), without widening them.

import { NonFiniteWeightError } from './errors.ts';
import type { TensorArray, TensorSource } from './safetensors.ts';

export type FloatBits = 'f32' | 'bf16' | 'f16';

/** Index of the first NaN or ±Infinity, or -1 when every element is finite. */
export function firstNonFinite(data: Float32Array | Float64Array | Uint16Array, dtype: FloatBits = 'f32'): number {
  if (dtype === 'f32' || !(data instanceof Uint16Array)) {
    const f = data as Float32Array;
    for (let i = 0; i < f.length; i++) {
      const v = f[i];
      // v - v is NaN exactly for NaN and ±Infinity; one compare per element.
      if (v - v !== 0) return i;
    }
    return -1;
  }
  const mask = dtype === 'bf16' ? 0x7f80 : 0x7c00;
  for (let i = 0; i < data.length; i++) if ((data[i] & mask) === mask) return i;
  return -1;
}

function describeValue(data: Float32Array | Float64Array | Uint16Array, dtype: FloatBits, i: number): string {
  if (dtype === 'f32' || !(data instanceof Uint16Array)) return String(data[i]);
  const bits = data[i];
  const frac = dtype === 'bf16' ? bits & 0x7f : bits & 0x3ff;
  return frac ? 'NaN' : bits & 0x8000 ? '-Infinity' : 'Infinity';
}

/** Row-major coordinates of a flat index, e.g. [12, 3]. */
export function coordinates(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(0);
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
  }
  return out;
}

/** Throws NonFiniteWeightError for the first non-finite element of a tensor. */
export function assertFinite(
  file: string,
  tensor: string,
  data: Float32Array | Float64Array | Uint16Array,
  dtype: FloatBits,
  shape?: readonly number[],
): void {
  const i = firstNonFinite(data, dtype);
  if (i < 0) return;
  throw new NonFiniteWeightError(
    file,
    tensor,
    i,
    describeValue(data, dtype, i),
    shape && shape.length > 1 ? coordinates(i, shape) : undefined,
  );
}

/** The 16-bit kind of a safetensors dtype name, or undefined for dtypes that hold no floats. */
export function floatBitsOf(dtype: string): FloatBits | undefined {
  return dtype === 'F32' ? 'f32' : dtype === 'BF16' ? 'bf16' : dtype === 'F16' ? 'f16' : undefined;
}

/** `read` of a tensor source that refuses a tensor holding NaN or infinity, naming its file and element. */
export function checkedRead(source: TensorSource): (name: string) => Promise<TensorArray> {
  return async (name) => {
    const data = await source.read(name);
    const info = source.tensors.get(name);
    const bits = info && floatBitsOf(info.dtype);
    if (bits) assertFinite(info.file, name, data as Float32Array | Uint16Array, bits, info.shape);
    return data;
  };
}

/** readInto of a tensor source (into a typed array of the tensor's values), refusing NaN and infinity like checkedRead. */
export function checkedReadInto(
  source: TensorSource,
): ((name: string, dst: Float32Array | Uint16Array) => Promise<void>) | undefined {
  const into = source.readInto?.bind(source);
  if (!into) return undefined;
  return async (name, dst) => {
    await into(name, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
    const info = source.tensors.get(name);
    const bits = info && floatBitsOf(info.dtype);
    if (bits) assertFinite(info.file, name, dst, bits, info.shape);
  };
}
