// Scalar CPU kernels: the readable reference for every WGSL kernel and the base of the fast
// CPU backend (fast/ overrides the hot ones). Activations are f32; base weights stay in their
// stored dtype and are widened one row at a time.
// This file holds the kernels that loop over whole sequences or the whole vocabulary; memory and
// the per-row layers are in layer-ops.ts (CpuLayerOps), split off to keep each file readable.

import { EngineError } from '../../core/errors.ts';
import { type AdamWParams, type Dropout, type Ops, type Projection } from '../ops.ts';
import { linearBackwardComposite, linearForwardComposite } from './linear.ts';
import { perPackedRow } from './varlen.ts';
import { CpuLayerOps, type CpuTensor, type CpuWeight, dropoutScaleFn, f, i32, weightRow } from './layer-ops.ts';

export { type CpuTensor, type CpuWeight, weightRow } from './layer-ops.ts';

export class CpuOps extends CpuLayerOps implements Ops<CpuTensor, CpuWeight> {
  linearForward(
    outs: CpuTensor[],
    inp: CpuTensor,
    projs: Projection<CpuTensor, CpuWeight>[],
    resid: CpuTensor | null,
    N: number,
    In: number,
    R: number,
    scale: number,
  ): void {
    linearForwardComposite(this, outs, inp, projs, resid, N, In, R, scale);
  }

  linearBackward(
    dinp: CpuTensor,
    douts: CpuTensor[],
    inp: CpuTensor,
    projs: Projection<CpuTensor, CpuWeight>[],
    N: number,
    In: number,
    R: number,
    scale: number,
  ): void {
    linearBackwardComposite(this, dinp, douts, inp, projs, N, In, R, scale);
  }

  loraForward(
    out: CpuTensor,
    xa: CpuTensor,
    inp: CpuTensor,
    a: CpuTensor,
    b: CpuTensor,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
    dropout: Dropout,
  ): void {
    const x = f(inp),
      A = f(a),
      B = f(b),
      y = f(out),
      h = f(xa);
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

  loraBackward(
    dinp: CpuTensor,
    da: CpuTensor,
    db: CpuTensor,
    dxa: CpuTensor,
    dout: CpuTensor,
    inp: CpuTensor,
    xa: CpuTensor,
    a: CpuTensor,
    b: CpuTensor,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
    dropout: Dropout,
  ): void {
    const x = f(inp),
      A = f(a),
      B = f(b),
      dy = f(dout),
      h = f(xa),
      dh = f(dxa),
      dA = f(da),
      dB = f(db),
      dx = f(dinp);
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

  attentionForward(
    out: CpuTensor,
    att: CpuTensor,
    q: CpuTensor,
    k: CpuTensor,
    v: CpuTensor,
    mask: CpuTensor,
    B: number,
    T: number,
    S: number,
    SMAX: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    const w = { out: NH * HD, q: NH * HD, k: NKV * HD, v: NKV * HD };
    if (
      !perPackedRow(mask, B, T, S, SMAX, NH, { out, att, q, k, v }, w, ['att'], (p, L) =>
        this.attendForward(p.out, p.att, p.q, p.k, p.v, p.mask, 1, L, L, L, NH, NKV, HD),
      )
    )
      this.attendForward(out, att, q, k, v, mask, B, T, S, SMAX, NH, NKV, HD);
  }

  /** attentionForward on one ordinary (unpacked) mask. */
  protected attendForward(
    out: CpuTensor,
    att: CpuTensor,
    q: CpuTensor,
    k: CpuTensor,
    v: CpuTensor,
    mask: CpuTensor,
    B: number,
    T: number,
    S: number,
    SMAX: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    const Q = f(q),
      K = f(k),
      Vv = f(v),
      P = f(att),
      Y = f(out),
      M = i32(mask);
    const group = NH / NKV,
      scale = 1 / Math.sqrt(HD);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        const kvh = Math.floor(h / group);
        for (let t = 0; t < T; t++) {
          const qo = ((b * T + t) * NH + h) * HD;
          const po = ((b * NH + h) * T + t) * S;
          const last = S - T + t;
          let max = -Infinity;
          for (let s = 0; s < S; s++) {
            if (s > last || !M[b * SMAX + s]) {
              P[po + s] = -Infinity;
              continue;
            }
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
  attentionBackward(
    dq: CpuTensor,
    dk: CpuTensor,
    dv: CpuTensor,
    datt: CpuTensor,
    dout: CpuTensor,
    q: CpuTensor,
    k: CpuTensor,
    v: CpuTensor,
    out: CpuTensor,
    att: CpuTensor,
    mask: CpuTensor,
    B: number,
    T: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    const w = {
      dq: NH * HD,
      dk: NKV * HD,
      dv: NKV * HD,
      dout: NH * HD,
      q: NH * HD,
      k: NKV * HD,
      v: NKV * HD,
      out: NH * HD,
    };
    if (
      !perPackedRow(mask, B, T, T, T, NH, { dq, dk, dv, datt, dout, q, k, v, out, att }, w, ['att', 'datt'], (p, L) =>
        this.attendBackward(p.dq, p.dk, p.dv, p.datt, p.dout, p.q, p.k, p.v, p.out, p.att, p.mask, 1, L, NH, NKV, HD),
      )
    )
      this.attendBackward(dq, dk, dv, datt, dout, q, k, v, out, att, mask, B, T, NH, NKV, HD);
  }

  /** attentionBackward on one ordinary (unpacked) mask. */
  protected attendBackward(
    dq: CpuTensor,
    dk: CpuTensor,
    dv: CpuTensor,
    datt: CpuTensor,
    dout: CpuTensor,
    q: CpuTensor,
    k: CpuTensor,
    v: CpuTensor,
    _out: CpuTensor,
    att: CpuTensor,
    _mask: CpuTensor,
    B: number,
    T: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void {
    const Q = f(q),
      K = f(k),
      Vv = f(v),
      P = f(att),
      dY = f(dout),
      dQ = f(dq),
      dK = f(dk),
      dV = f(dv),
      dP = f(datt);
    const group = NH / NKV,
      scale = 1 / Math.sqrt(HD);
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
  /** Vocabulary chunk of the cross-entropy: bounded scratch whatever V is. */
  protected ceChunk = 4096;

  crossEntropyForwardBackward(
    losses: CpuTensor,
    dh: CpuTensor,
    h: CpuTensor,
    w: CpuWeight,
    targets: CpuTensor,
    M: number,
    C: number,
    V: number,
    gradScale: number,
  ): void {
    const H = f(h),
      dH = f(dh),
      tg = i32(targets),
      L = f(losses);
    const chunk = Math.min(this.ceChunk, V);
    const logits = new Float32Array(M * chunk);
    const row = new Float32Array(C);
    const max = new Float64Array(M).fill(-Infinity),
      sum = new Float64Array(M),
      target = new Float64Array(M);
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

  adamw(
    param: CpuTensor,
    grad: CpuTensor,
    m: CpuTensor,
    v: CpuTensor,
    norm: CpuTensor,
    P: number,
    h: AdamWParams,
  ): void {
    const p = f(param),
      g = f(grad),
      M = f(m),
      Vv = f(v);
    const total = f(norm)[0];
    const clip = h.maxGradNorm > 0 ? Math.min(1, h.maxGradNorm / (total + 1e-6)) : 1;
    const bc1 = 1 - Math.pow(h.beta1, h.step),
      bc2 = 1 - Math.pow(h.beta2, h.step);
    for (let i = 0; i < P; i++) {
      const gi = g[i] * clip;
      p[i] *= 1 - h.lr * h.weightDecay;
      M[i] = h.beta1 * M[i] + (1 - h.beta1) * gi;
      Vv[i] = h.beta2 * Vv[i] + (1 - h.beta2) * gi * gi;
      p[i] -= (h.lr * (M[i] / bc1)) / (Math.sqrt(Vv[i] / bc2) + h.eps);
    }
  }
}
