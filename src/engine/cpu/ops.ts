// Scalar CPU kernels: the readable reference for every WGSL kernel and the base of the fast
// CPU backend (fast/ overrides the hot ones). Activations are f32; base weights stay in their
// stored dtype and are widened one row at a time.

import { f16ToF32, type WeightFormat } from '../../core/dtype.ts';
import { dequantizeNf4 } from '../../core/nf4.ts';
import { EngineError } from '../../core/errors.ts';
import { type AdamWParams, type Dropout, type Ops, type Projection, checkWeightData, dropoutThreshold, hash32 } from '../ops.ts';
import { linearBackwardComposite, linearForwardComposite } from './linear.ts';
import { perPackedRow, ropeInPlace } from './varlen.ts';

export type CpuTensor = Float32Array | Int32Array;

export interface CpuWeight {
  data: Float32Array | Uint16Array | Uint32Array;
  dtype: WeightFormat;
  rows: number;
  cols: number;
}

const f = (t: CpuTensor) => t as Float32Array;
const i32 = (t: CpuTensor) => t as Int32Array;

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
function dropoutScaleFn(d: Dropout): ((e: number) => number) | null {
  if (d.p <= 0) return null;
  const threshold = dropoutThreshold(d.p), keep = 1 / (1 - d.p);
  return (e) => (hash32(d.seed, e) >= threshold ? keep : 0);
}

export class CpuOps implements Ops<CpuTensor, CpuWeight> {
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

  weight(data: Float32Array | Uint16Array | Uint32Array, dtype: WeightFormat, rows: number, cols: number, label: string): CpuWeight {
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
      if (id < 0 || id >= wte.rows) throw new EngineError(`token id ${id} at position ${n} is outside the vocabulary (${wte.rows})`);
      weightRow(wte, id, f(out).subarray(n * C, (n + 1) * C));
    }
  }

  rmsnormForward(out: CpuTensor, rstd: CpuTensor, inp: CpuTensor, weight: CpuTensor, N: number, C: number, eps: number): void {
    const x = f(inp), y = f(out), w = f(weight);
    for (let n = 0; n < N; n++) {
      let ss = 0;
      for (let c = 0; c < C; c++) ss += x[n * C + c] * x[n * C + c];
      const r = 1 / Math.sqrt(ss / C + eps);
      f(rstd)[n] = r;
      for (let c = 0; c < C; c++) y[n * C + c] = w[c] * (x[n * C + c] * r);
    }
  }

  rmsnormBackward(dinp: CpuTensor, dout: CpuTensor, inp: CpuTensor, weight: CpuTensor, rstd: CpuTensor, N: number, C: number): void {
    const x = f(inp), dy = f(dout), dx = f(dinp), w = f(weight);
    for (let n = 0; n < N; n++) {
      const r = f(rstd)[n];
      let dot = 0;
      for (let c = 0; c < C; c++) dot += w[c] * dy[n * C + c] * x[n * C + c];
      const k = (dot * r * r * r) / C;
      for (let c = 0; c < C; c++) dx[n * C + c] += r * w[c] * dy[n * C + c] - k * x[n * C + c];
    }
  }

  matmulForward(out: CpuTensor, inp: CpuTensor, w: CpuWeight, bias: CpuTensor | null, N: number, In: number, O: number): void {
    const x = f(inp), y = f(out), row = new Float32Array(In);
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
    const dx = f(dinp), dy = f(dout), row = new Float32Array(In);
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

  linearForward(outs: CpuTensor[], inp: CpuTensor, projs: Projection<CpuTensor, CpuWeight>[], resid: CpuTensor | null, N: number, In: number, R: number, scale: number): void {
    linearForwardComposite(this, outs, inp, projs, resid, N, In, R, scale);
  }

  linearBackward(dinp: CpuTensor, douts: CpuTensor[], inp: CpuTensor, projs: Projection<CpuTensor, CpuWeight>[], N: number, In: number, R: number, scale: number): void {
    linearBackwardComposite(this, dinp, douts, inp, projs, N, In, R, scale);
  }

  loraForward(out: CpuTensor, xa: CpuTensor, inp: CpuTensor, a: CpuTensor, b: CpuTensor,
    N: number, In: number, O: number, R: number, scale: number, dropout: Dropout): void {
    const x = f(inp), A = f(a), B = f(b), y = f(out), h = f(xa);
    const drop = dropoutScaleFn(dropout);
    for (let n = 0; n < N; n++) {
      for (let r = 0; r < R; r++) {
        let s = 0;
        for (let i = 0; i < In; i++) {
          const e = n * In + i;
          s += (drop ? x[e] * drop(e) : x[e]) * A[r * In + i];
        }
        h[n * R + r] = s;
      }
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let r = 0; r < R; r++) s += h[n * R + r] * B[o * R + r];
        y[n * O + o] += scale * s;
      }
    }
  }

  loraBackward(dinp: CpuTensor, da: CpuTensor, db: CpuTensor, dxa: CpuTensor, dout: CpuTensor, inp: CpuTensor, xa: CpuTensor,
    a: CpuTensor, b: CpuTensor, N: number, In: number, O: number, R: number, scale: number, dropout: Dropout): void {
    const x = f(inp), A = f(a), B = f(b), dy = f(dout), h = f(xa), dh = f(dxa), dA = f(da), dB = f(db), dx = f(dinp);
    const drop = dropoutScaleFn(dropout);
    for (let n = 0; n < N; n++) {
      for (let r = 0; r < R; r++) {
        let s = 0;
        for (let o = 0; o < O; o++) s += dy[n * O + o] * B[o * R + r];
        dh[n * R + r] = scale * s;
      }
      for (let o = 0; o < O; o++) {
        const d = scale * dy[n * O + o];
        for (let r = 0; r < R; r++) dB[o * R + r] += d * h[n * R + r];
      }
      for (let i = 0; i < In; i++) {
        const e = n * In + i;
        const m = drop ? drop(e) : 1;
        let s = 0;
        for (let r = 0; r < R; r++) {
          dA[r * In + i] += dh[n * R + r] * x[e] * m;
          s += dh[n * R + r] * A[r * In + i];
        }
        dx[e] += s * m;
      }
    }
  }

  ropeForward(x: CpuTensor, B: number, T: number, H: number, HD: number, theta: number, posOffset: number, positions?: Int32Array): void {
    ropeInPlace(f(x), B, T, H, HD, theta, posOffset, 1, positions);
  }

  /** The rotation is orthogonal, so its backward is the rotation by the opposite angle. */
  ropeBackward(dx: CpuTensor, B: number, T: number, H: number, HD: number, theta: number, posOffset: number, positions?: Int32Array): void {
    ropeInPlace(f(dx), B, T, H, HD, theta, posOffset, -1, positions);
  }

  attentionForward(out: CpuTensor, att: CpuTensor, q: CpuTensor, k: CpuTensor, v: CpuTensor, mask: CpuTensor,
    B: number, T: number, S: number, SMAX: number, NH: number, NKV: number, HD: number): void {
    const w = { out: NH * HD, q: NH * HD, k: NKV * HD, v: NKV * HD };
    if (!perPackedRow(mask, B, T, S, SMAX, NH, { out, att, q, k, v }, w, ['att'], (p, L) =>
      this.attendForward(p.out, p.att, p.q, p.k, p.v, p.mask, 1, L, L, L, NH, NKV, HD)))
      this.attendForward(out, att, q, k, v, mask, B, T, S, SMAX, NH, NKV, HD);
  }

  /** attentionForward on one ordinary (unpacked) mask. */
  protected attendForward(out: CpuTensor, att: CpuTensor, q: CpuTensor, k: CpuTensor, v: CpuTensor, mask: CpuTensor,
    B: number, T: number, S: number, SMAX: number, NH: number, NKV: number, HD: number): void {
    const Q = f(q), K = f(k), Vv = f(v), P = f(att), Y = f(out), M = i32(mask);
    const group = NH / NKV, scale = 1 / Math.sqrt(HD);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        const kvh = Math.floor(h / group);
        for (let t = 0; t < T; t++) {
          const qo = ((b * T + t) * NH + h) * HD;
          const po = ((b * NH + h) * T + t) * S;
          const last = S - T + t;
          let max = -Infinity;
          for (let s = 0; s < S; s++) {
            if (s > last || !M[b * SMAX + s]) { P[po + s] = -Infinity; continue; }
            const ko = ((b * SMAX + s) * NKV + kvh) * HD;
            let dot = 0;
            for (let d = 0; d < HD; d++) dot += Q[qo + d] * K[ko + d];
            P[po + s] = dot * scale;
            if (P[po + s] > max) max = P[po + s];
          }
          let sum = 0;
          for (let s = 0; s < S; s++) {
            const e = max === -Infinity ? 0 : Math.exp(P[po + s] - max);
            P[po + s] = e;
            sum += e;
          }
          for (let s = 0; s < S; s++) P[po + s] = sum > 0 ? P[po + s] / sum : 0;
          const yo = (b * T + t) * NH * HD + h * HD;
          for (let d = 0; d < HD; d++) Y[yo + d] = 0;
          for (let s = 0; s <= Math.min(last, S - 1); s++) {
            const p = P[po + s];
            if (p === 0) continue;
            const vo = ((b * SMAX + s) * NKV + kvh) * HD;
            for (let d = 0; d < HD; d++) Y[yo + d] += p * Vv[vo + d];
          }
        }
      }
    }
  }

  /** The probabilities in att already hold the mask, so out and mask go unread here. */
  attentionBackward(dq: CpuTensor, dk: CpuTensor, dv: CpuTensor, datt: CpuTensor, dout: CpuTensor, q: CpuTensor, k: CpuTensor,
    v: CpuTensor, out: CpuTensor, att: CpuTensor, mask: CpuTensor, B: number, T: number, NH: number, NKV: number, HD: number): void {
    const w = { dq: NH * HD, dk: NKV * HD, dv: NKV * HD, dout: NH * HD, q: NH * HD, k: NKV * HD, v: NKV * HD, out: NH * HD };
    if (!perPackedRow(mask, B, T, T, T, NH, { dq, dk, dv, datt, dout, q, k, v, out, att }, w, ['att', 'datt'], (p, L) =>
      this.attendBackward(p.dq, p.dk, p.dv, p.datt, p.dout, p.q, p.k, p.v, p.out, p.att, p.mask, 1, L, NH, NKV, HD)))
      this.attendBackward(dq, dk, dv, datt, dout, q, k, v, out, att, mask, B, T, NH, NKV, HD);
  }

  /** attentionBackward on one ordinary (unpacked) mask. */
  protected attendBackward(dq: CpuTensor, dk: CpuTensor, dv: CpuTensor, datt: CpuTensor, dout: CpuTensor, q: CpuTensor, k: CpuTensor,
    v: CpuTensor, _out: CpuTensor, att: CpuTensor, _mask: CpuTensor, B: number, T: number, NH: number, NKV: number, HD: number): void {
    const Q = f(q), K = f(k), Vv = f(v), P = f(att), dY = f(dout), dQ = f(dq), dK = f(dk), dV = f(dv), dP = f(datt);
    const group = NH / NKV, scale = 1 / Math.sqrt(HD);
    dQ.fill(0, 0, B * T * NH * HD);
    dK.fill(0, 0, B * T * NKV * HD);
    dV.fill(0, 0, B * T * NKV * HD);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        const kvh = Math.floor(h / group);
        for (let t = 0; t < T; t++) {
          const po = ((b * NH + h) * T + t) * T;
          const yo = (b * T + t) * NH * HD + h * HD;
          const qo = ((b * T + t) * NH + h) * HD;
          let dot = 0;
          for (let s = 0; s <= t; s++) {
            const vo = ((b * T + s) * NKV + kvh) * HD;
            let g = 0;
            for (let d = 0; d < HD; d++) {
              g += dY[yo + d] * Vv[vo + d];
              dV[vo + d] += P[po + s] * dY[yo + d];
            }
            dP[po + s] = g;
            dot += g * P[po + s];
          }
          for (let s = 0; s <= t; s++) {
            const ds = P[po + s] * (dP[po + s] - dot) * scale;
            if (ds === 0) continue;
            const ko = ((b * T + s) * NKV + kvh) * HD;
            for (let d = 0; d < HD; d++) {
              dQ[qo + d] += ds * K[ko + d];
              dK[ko + d] += ds * Q[qo + d];
            }
          }
        }
      }
    }
  }

  swigluForward(out: CpuTensor, gate: CpuTensor, up: CpuTensor, n: number): void {
    const g = f(gate), u = f(up), y = f(out);
    for (let i = 0; i < n; i++) y[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
  }

  swigluBackward(dgate: CpuTensor, dup: CpuTensor, dout: CpuTensor, gate: CpuTensor, up: CpuTensor, n: number): void {
    const g = f(gate), u = f(up), dy = f(dout), dg = f(dgate), du = f(dup);
    for (let i = 0; i < n; i++) {
      const sig = 1 / (1 + Math.exp(-g[i]));
      du[i] = dy[i] * g[i] * sig;
      dg[i] = dy[i] * u[i] * sig * (1 + g[i] * (1 - sig));
    }
  }

  addInPlace(x: CpuTensor, y: CpuTensor, n: number): void {
    const a = f(x), b = f(y);
    for (let i = 0; i < n; i++) a[i] += b[i];
  }

  gatherRows(out: CpuTensor, inp: CpuTensor, idx: CpuTensor, M: number, C: number): void {
    for (let m = 0; m < M; m++) {
      const r = i32(idx)[m];
      f(out).set(f(inp).subarray(r * C, (r + 1) * C), m * C);
    }
  }

  scatterAddRows(dinp: CpuTensor, dout: CpuTensor, idx: CpuTensor, M: number, C: number): void {
    const dx = f(dinp), dy = f(dout);
    for (let m = 0; m < M; m++) {
      const r = i32(idx)[m];
      for (let c = 0; c < C; c++) dx[r * C + c] += dy[m * C + c];
    }
  }

  /** Vocabulary chunk of the cross-entropy: bounded scratch whatever V is. */
  protected ceChunk = 4096;

  crossEntropyForwardBackward(losses: CpuTensor, dh: CpuTensor, h: CpuTensor, w: CpuWeight, targets: CpuTensor,
    M: number, C: number, V: number, gradScale: number): void {
    const H = f(h), dH = f(dh), tg = i32(targets), L = f(losses);
    const chunk = Math.min(this.ceChunk, V);
    const logits = new Float32Array(M * chunk);
    const row = new Float32Array(C);
    const max = new Float64Array(M).fill(-Infinity), sum = new Float64Array(M), target = new Float64Array(M);
    const chunkLogits = (v0: number, nv: number, visit?: (v: number) => void) => {
      for (let j = 0; j < nv; j++) {
        weightRow(w, v0 + j, row);
        for (let m = 0; m < M; m++) {
          let s = 0;
          for (let c = 0; c < C; c++) s += H[m * C + c] * row[c];
          logits[m * chunk + j] = s;
        }
        visit?.(v0 + j);
      }
    };
    // pass 1: online logsumexp over chunks
    for (let v0 = 0; v0 < V; v0 += chunk) {
      const nv = Math.min(chunk, V - v0);
      chunkLogits(v0, nv);
      for (let m = 0; m < M; m++) {
        let cmax = -Infinity;
        for (let j = 0; j < nv; j++) cmax = Math.max(cmax, logits[m * chunk + j]);
        const nmax = Math.max(max[m], cmax);
        let s = sum[m] * Math.exp(max[m] - nmax);
        for (let j = 0; j < nv; j++) s += Math.exp(logits[m * chunk + j] - nmax);
        max[m] = nmax;
        sum[m] = s;
        const t = tg[m];
        if (t >= v0 && t < v0 + nv) target[m] = logits[m * chunk + t - v0];
      }
    }
    const lse = new Float64Array(M);
    for (let m = 0; m < M; m++) {
      if (tg[m] < 0 || tg[m] >= V) throw new EngineError(`label ${tg[m]} is outside the vocabulary (${V})`);
      lse[m] = max[m] + Math.log(sum[m]);
      L[m] = lse[m] - target[m];
    }
    // pass 2: dh = gradScale * (softmax - onehot) @ w, recomputing the chunk's logits
    dH.fill(0, 0, M * C);
    for (let v0 = 0; v0 < V; v0 += chunk) {
      const nv = Math.min(chunk, V - v0);
      chunkLogits(v0, nv);
      for (let j = 0; j < nv; j++) {
        weightRow(w, v0 + j, row);
        for (let m = 0; m < M; m++) {
          let g = Math.exp(logits[m * chunk + j] - lse[m]);
          if (tg[m] === v0 + j) g -= 1;
          g *= gradScale;
          for (let c = 0; c < C; c++) dH[m * C + c] += g * row[c];
        }
      }
    }
  }

  globalNorm(out: CpuTensor, x: CpuTensor, P: number): void {
    const a = f(x);
    let s = 0;
    for (let i = 0; i < P; i++) s += a[i] * a[i];
    f(out)[0] = Math.sqrt(s);
  }

  adamw(param: CpuTensor, grad: CpuTensor, m: CpuTensor, v: CpuTensor, norm: CpuTensor, P: number, h: AdamWParams): void {
    const p = f(param), g = f(grad), M = f(m), Vv = f(v);
    const total = f(norm)[0];
    const clip = h.maxGradNorm > 0 ? Math.min(1, h.maxGradNorm / (total + 1e-6)) : 1;
    const bc1 = 1 - Math.pow(h.beta1, h.step), bc2 = 1 - Math.pow(h.beta2, h.step);
    for (let i = 0; i < P; i++) {
      const gi = g[i] * clip;
      p[i] *= 1 - h.lr * h.weightDecay;
      M[i] = h.beta1 * M[i] + (1 - h.beta1) * gi;
      Vv[i] = h.beta2 * Vv[i] + (1 - h.beta2) * gi * gi;
      p[i] -= (h.lr * (M[i] / bc1)) / (Math.sqrt(Vv[i] / bc2) + h.eps);
    }
  }

  mergeLora(out: CpuTensor, w: CpuWeight, a: CpuTensor, b: CpuTensor, O: number, In: number, R: number, scale: number): void {
    const A = f(a), B = f(b), y = f(out);
    for (let o = 0; o < O; o++) {
      weightRow(w, o, y.subarray(o * In, (o + 1) * In));
      for (let r = 0; r < R; r++) {
        const s = scale * B[o * R + r];
        for (let i = 0; i < In; i++) y[o * In + i] += s * A[r * In + i];
      }
    }
  }
}
