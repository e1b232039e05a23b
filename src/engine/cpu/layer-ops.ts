// Scalar CPU kernels, part one: memory and the layers that work a row or an element at a time
// (embedding, RMSNorm, matmul, RoPE, SwiGLU, gathers, the LoRA merge). CpuOps in ops.ts adds
// the kernels that loop over whole sequences or the whole vocabulary (LoRA with dropout,
// attention, cross-entropy, the optimizer); the split keeps each file short enough to read.
// Activations are f32; base weights stay in their stored dtype and are widened one row at a time.

import { f16ToF32, type WeightFormat } from '../../core/dtype.ts';
import { dequantizeNf4 } from '../../core/nf4.ts';
import { EngineError } from '../../core/errors.ts';
import { type Dropout, checkWeightData, dropoutThreshold, hash32 } from '../ops.ts';
import { ropeInPlace } from './varlen.ts';

export type CpuTensor = Float32Array | Int32Array;

export interface CpuWeight {
  data: Float32Array | Uint16Array | Uint32Array;
  dtype: WeightFormat;
  rows: number;
  cols: number;
}

export const f = (t: CpuTensor) => t as Float32Array;
export const i32 = (t: CpuTensor) => t as Int32Array;

/** Widens (or dequantizes) row r of a weight into out (cols). */
export function weightRow(w: CpuWeight, r: number, out: Float32Array): Float32Array {
  const base = r * w.cols;
  if (w.dtype === 'nf4') dequantizeNf4(w.data as Uint32Array, base, w.cols, out);
  else if (w.dtype === 'f32') {
    out.set((w.data as Float32Array).subarray(base, base + w.cols));
  } else if (w.dtype === 'bf16') {
    const bits = new Uint32Array(out.buffer, out.byteOffset, w.cols);
    const src = w.data as Uint16Array;
    for (let c = 0; c < w.cols; c++) bits[c] = src[base + c] << 16;
  } else {
    const src = w.data as Uint16Array;
    for (let c = 0; c < w.cols; c++) out[c] = f16ToF32(src[base + c]);
  }
  return out;
}

/** Multiplier of element e of a dropout call: 0 when dropped, 1/(1-p) when kept. */
export function dropoutScaleFn(d: Dropout): ((e: number) => number) | null {
  if (d.p <= 0) return null;
  const threshold = dropoutThreshold(d.p),
    keep = 1 / (1 - d.p);
  return (e) => (hash32(d.seed, e) >= threshold ? keep : 0);
}

/** Memory and the per-row layers; CpuOps (ops.ts) completes the Ops interface. */
export class CpuLayerOps {
  readonly kind = 'cpu' as const;
  protected allocated = 0;

  // ---- memory
  alloc(dtype: 'f32' | 'i32', n: number): CpuTensor {
    this.allocated += n * 4;
    return dtype === 'f32' ? new Float32Array(n) : new Int32Array(n);
  }

  view(t: CpuTensor, offset: number, n: number): CpuTensor {
    return t.subarray(offset, offset + n);
  }

  arena(dtype: 'f32' | 'i32', sizes: Record<string, number>): Record<string, CpuTensor> {
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    const buf = new ArrayBuffer(total * 4);
    this.allocated += total * 4;
    const out: Record<string, CpuTensor> = {};
    let off = 0;
    for (const [name, n] of Object.entries(sizes)) {
      out[name] = dtype === 'f32' ? new Float32Array(buf, off * 4, n) : new Int32Array(buf, off * 4, n);
      off += n;
    }
    return out;
  }

  weight(
    data: Float32Array | Uint16Array | Uint32Array,
    dtype: WeightFormat,
    rows: number,
    cols: number,
    label: string,
  ): CpuWeight {
    checkWeightData(data, dtype, rows, cols, label);
    this.allocated += data.byteLength;
    return { data, dtype, rows, cols };
  }

  allocatedBytes(): number {
    return this.allocated;
  }

  upload(dst: CpuTensor, src: Float32Array | Int32Array, dstOffset = 0): void {
    dst.set(src, dstOffset);
  }
  async read(src: CpuTensor, n = src.length, offset = 0): Promise<Float32Array> {
    return Float32Array.from(src.subarray(offset, offset + n));
  }
  async readInt(src: CpuTensor, n = src.length, offset = 0): Promise<Int32Array> {
    return Int32Array.from(src.subarray(offset, offset + n));
  }
  zero(t: CpuTensor, n: number): void {
    t.fill(0, 0, n);
  }
  copy(dst: CpuTensor, dstOffset: number, src: CpuTensor, srcOffset: number, n: number): void {
    dst.set(src.subarray(srcOffset, srcOffset + n), dstOffset);
  }
  async flush(): Promise<void> {}
  dispose(): void {}

  // ---- layers
  embeddingForward(out: CpuTensor, ids: CpuTensor, wte: CpuWeight, N: number, C: number): void {
    for (let n = 0; n < N; n++) {
      const id = i32(ids)[n];
      if (id < 0 || id >= wte.rows)
        throw new EngineError(`token id ${id} at position ${n} is outside the vocabulary (${wte.rows})`);
      weightRow(wte, id, f(out).subarray(n * C, (n + 1) * C));
    }
  }

  rmsnormForward(
    out: CpuTensor,
    rstd: CpuTensor,
    inp: CpuTensor,
    weight: CpuTensor,
    N: number,
    C: number,
    eps: number,
  ): void {
    const x = f(inp),
      y = f(out),
      w = f(weight);
    for (let n = 0; n < N; n++) {
      let ss = 0;
      for (let c = 0; c < C; c++) ss += x[n * C + c] * x[n * C + c];
      const r = 1 / Math.sqrt(ss / C + eps);
      f(rstd)[n] = r;
      for (let c = 0; c < C; c++) y[n * C + c] = w[c] * (x[n * C + c] * r);
    }
  }

  rmsnormBackward(
    dinp: CpuTensor,
    dout: CpuTensor,
    inp: CpuTensor,
    weight: CpuTensor,
    rstd: CpuTensor,
    N: number,
    C: number,
  ): void {
    const x = f(inp),
      dy = f(dout),
      dx = f(dinp),
      w = f(weight);
    for (let n = 0; n < N; n++) {
      const r = f(rstd)[n];
      let dot = 0;
      for (let c = 0; c < C; c++) dot += w[c] * dy[n * C + c] * x[n * C + c];
      const k = (dot * r * r * r) / C;
      for (let c = 0; c < C; c++) dx[n * C + c] += r * w[c] * dy[n * C + c] - k * x[n * C + c];
    }
  }

  matmulForward(
    out: CpuTensor,
    inp: CpuTensor,
    w: CpuWeight,
    bias: CpuTensor | null,
    N: number,
    In: number,
    O: number,
  ): void {
    const x = f(inp),
      y = f(out),
      row = new Float32Array(In);
    for (let o = 0; o < O; o++) {
      weightRow(w, o, row);
      const b = bias ? f(bias)[o] : 0;
      for (let n = 0; n < N; n++) {
        let s = 0;
        const xo = n * In;
        for (let i = 0; i < In; i++) s += x[xo + i] * row[i];
        y[n * O + o] = s + b;
      }
    }
  }

  matmulBackward(dinp: CpuTensor, dout: CpuTensor, w: CpuWeight, N: number, In: number, O: number): void {
    const dx = f(dinp),
      dy = f(dout),
      row = new Float32Array(In);
    for (let o = 0; o < O; o++) {
      weightRow(w, o, row);
      for (let n = 0; n < N; n++) {
        const d = dy[n * O + o];
        if (d === 0) continue;
        const xo = n * In;
        for (let i = 0; i < In; i++) dx[xo + i] += d * row[i];
      }
    }
  }

  ropeForward(
    x: CpuTensor,
    B: number,
    T: number,
    H: number,
    HD: number,
    theta: number,
    posOffset: number,
    positions?: Int32Array,
  ): void {
    ropeInPlace(f(x), B, T, H, HD, theta, posOffset, 1, positions);
  }

  /** The rotation is orthogonal, so its backward is the rotation by the opposite angle. */
  ropeBackward(
    dx: CpuTensor,
    B: number,
    T: number,
    H: number,
    HD: number,
    theta: number,
    posOffset: number,
    positions?: Int32Array,
  ): void {
    ropeInPlace(f(dx), B, T, H, HD, theta, posOffset, -1, positions);
  }

  swigluForward(out: CpuTensor, gate: CpuTensor, up: CpuTensor, n: number): void {
    const g = f(gate),
      u = f(up),
      y = f(out);
    for (let i = 0; i < n; i++) y[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
  }

  swigluBackward(dgate: CpuTensor, dup: CpuTensor, dout: CpuTensor, gate: CpuTensor, up: CpuTensor, n: number): void {
    const g = f(gate),
      u = f(up),
      dy = f(dout),
      dg = f(dgate),
      du = f(dup);
    for (let i = 0; i < n; i++) {
      const sig = 1 / (1 + Math.exp(-g[i]));
      du[i] = dy[i] * g[i] * sig;
      dg[i] = dy[i] * u[i] * sig * (1 + g[i] * (1 - sig));
    }
  }

  addInPlace(x: CpuTensor, y: CpuTensor, n: number): void {
    const a = f(x),
      b = f(y);
    for (let i = 0; i < n; i++) a[i] += b[i];
  }

  gatherRows(out: CpuTensor, inp: CpuTensor, idx: CpuTensor, M: number, C: number): void {
    for (let m = 0; m < M; m++) {
      const r = i32(idx)[m];
      f(out).set(f(inp).subarray(r * C, (r + 1) * C), m * C);
    }
  }

  scatterAddRows(dinp: CpuTensor, dout: CpuTensor, idx: CpuTensor, M: number, C: number): void {
    const dx = f(dinp),
      dy = f(dout);
    for (let m = 0; m < M; m++) {
      const r = i32(idx)[m];
      for (let c = 0; c < C; c++) dx[r * C + c] += dy[m * C + c];
    }
  }

  mergeLora(
    out: CpuTensor,
    w: CpuWeight,
    a: CpuTensor,
    b: CpuTensor,
    O: number,
    In: number,
    R: number,
    scale: number,
  ): void {
    const A = f(a),
      B = f(b),
      y = f(out);
    for (let o = 0; o < O; o++) {
      weightRow(w, o, y.subarray(o * In, (o + 1) * In));
      for (let r = 0; r < R; r++) {
        const s = scale * B[o * R + r];
        for (let i = 0; i < In; i++) y[o * In + i] += s * A[r * In + i];
      }
    }
  }
}
