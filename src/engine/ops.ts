// The kernel interface. The Qwen2 + LoRA model (model.ts) is written once against it; the CPU
// backend runs each call at once on typed arrays, the WebGPU backend encodes a compute pass.
// So both backends make the same calls in the same order, and each CPU kernel is the test
// oracle of its WGSL twin.
//
// Shape letters: N tokens (= B*T), B batch, T query length, S key length (cache), C hidden,
// I intermediate, V vocab, NH query heads, NKV key/value heads, HD head dim, R LoRA rank,
// M label positions, P LoRA parameter count.
// Comments give each tensor's shape; "+=" marks an output that is accumulated into.

import type { WeightFormat } from '../core/dtype.ts';

/** The two engines: the one type every layer names them by (engine.ts re-exports it). */
export type EngineKind = 'cpu' | 'webgpu';
import { EngineError } from '../core/errors.ts';
import { checkNf4Shape, nf4Words } from '../core/nf4.ts';

/** Dropout on the LoRA input: keep element e (flat index into inp) iff hash32(seed, e) >= dropoutThreshold(p); kept values scale by 1/(1-p). */
export interface Dropout {
  p: number;
  seed: number;
}

/** AdamW's hyperparameters besides the learning rate: the recipe's TrainSettings extends this. */
export interface OptimizerSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global norm clip; 0 disables. The norm is read from `norm` on the device. */
  maxGradNorm: number;
}

export interface AdamWParams extends OptimizerSettings {
  lr: number;
  /** 1-based step number for bias correction. */
  step: number;
}

/** A projection's LoRA adapter as the fused kernels see it: views into the flat buffers. */
export interface LoraPart<T> {
  a: T; // (R, In)
  b: T; // (O, R)
  da: T; // (R, In) +=
  db: T; // (O, R) +=
  xa: T; // (N, R): written by linearForward, read by linearBackward
  dxa: T; // (N, R): scratch of linearBackward
  dropout: Dropout;
}

/** One frozen projection (with its bias and LoRA) of a group that shares an input: q|k|v, gate|up. */
export interface Projection<T, W> {
  w: W; // (O, In)
  O: number;
  bias: T | null; // (O)
  lora: LoraPart<T> | null;
}

/** Elements (f32/i32) between view offsets: 64 * 4 bytes = 256 bytes. */
export const VIEW_ALIGN = 64;

export function alignUp(n: number, a = VIEW_ALIGN): number {
  return Math.ceil(n / a) * a;
}

export interface Ops<T, W> {
  readonly kind: EngineKind;

  // ---- memory
  /** A zeroed f32 or i32 buffer of n elements. */
  alloc(dtype: 'f32' | 'i32', n: number, label: string): T;
  /**
   * A view of n elements of t starting at element `offset`. The model carves its big buffers
   * (LoRA params, grads, Adam moments) with views; offsets are always multiples of VIEW_ALIGN
   * so GPU bindings meet minStorageBufferOffsetAlignment (256 bytes).
   */
  view(t: T, offset: number, n: number): T;
  /** Carve one allocation into named tensors by a size table (elements). */
  arena(dtype: 'f32' | 'i32', sizes: Record<string, number>, label: string): Record<string, T>;
  /**
   * A frozen base weight (O, In) or (V, C) kept in its stored dtype (f32 values, 16-bit bits),
   * or as NF4 blocks (Uint32Array, layout in src/core/nf4.ts) that the kernels dequantize.
   */
  weight(
    data: Float32Array | Uint16Array | Uint32Array,
    dtype: WeightFormat,
    rows: number,
    cols: number,
    label: string,
  ): W;
  /**
   * Memory a weight's data can be written into (n values, or NF4 words) so that weight() takes it
   * without a copy; undefined (or absent) where weight() copies what it is given anyway.
   */
  weightStorage?(format: WeightFormat, n: number, label: string): Float32Array | Uint16Array | Uint32Array | undefined;
  /**
   * Readies the kernels for weights of a format before the first one arrives: WebGPU compiles
   * its NF4 pipelines here (at load, only for models loaded as NF4). Optional: CPU kernels read
   * every format as they are.
   */
  prepareWeights?(format: WeightFormat): Promise<void>;
  upload(dst: T, src: Float32Array | Int32Array, dstOffset?: number): void;
  read(src: T, n?: number, offset?: number): Promise<Float32Array>;
  readInt(src: T, n?: number, offset?: number): Promise<Int32Array>;
  zero(t: T, n: number): void;
  /** Gives back a buffer from alloc (not a view or arena part); GPU memory is not garbage collected. */
  free?(t: T): void;
  copy(dst: T, dstOffset: number, src: T, srcOffset: number, n: number): void;
  /** Wait for queued work (no-op on CPU). */
  flush(): Promise<void>;
  dispose(): void;

  // ---- layers, forward/backward pairs
  embeddingForward(out: T /* (N,C) */, ids: T /* (N) i32 */, wte: W /* (V,C) */, N: number, C: number): void;

  rmsnormForward(
    out: T /* (N,C) */,
    rstd: T /* (N) */,
    inp: T /* (N,C) */,
    weight: T /* (C) */,
    N: number,
    C: number,
    eps: number,
  ): void;
  rmsnormBackward(
    dinp: T /* (N,C) += */,
    dout: T /* (N,C) */,
    inp: T /* (N,C) */,
    weight: T /* (C) */,
    rstd: T /* (N) */,
    N: number,
    C: number,
  ): void;

  /** out = inp @ wᵀ + bias */
  matmulForward(
    out: T /* (N,O) */,
    inp: T /* (N,In) */,
    w: W /* (O,In) */,
    bias: T | null /* (O) */,
    N: number,
    In: number,
    O: number,
  ): void;
  /** dinp += dout @ w (w frozen: no weight gradient) */
  matmulBackward(
    dinp: T /* (N,In) += */,
    dout: T /* (N,O) */,
    w: W /* (O,In) */,
    N: number,
    In: number,
    O: number,
  ): void;

  /**
   * The projections of one input, each with its bias and LoRA, as one call: outs[p] = inp @ w_pᵀ
   * + bias_p + scale * dropout_p(inp) @ a_pᵀ @ b_pᵀ, plus resid (single projection only), and
   * each xa_p = dropout_p(inp) @ a_pᵀ kept for backward. The GPU fuses the group when the outs are
   * views of one buffer (likewise the xa, a and b views), else runs them one by one.
   */
  linearForward(
    outs: T[] /* (N,O_p) each */,
    inp: T /* (N,In) */,
    projs: Projection<T, W>[],
    resid: T | null /* (N,O) */,
    N: number,
    In: number,
    R: number,
    scale: number,
  ): void;
  /**
   * Backward of linearForward: dinp = sum_p douts[p] @ w_p + dropout_p'(dxa_p @ a_p) with
   * dxa_p = scale * douts[p] @ b_p (dinp overwritten, not accumulated); da_p += dxa_pᵀ @
   * dropout_p(inp); db_p += scale * douts[p]ᵀ @ xa_p.
   */
  linearBackward(
    dinp: T /* (N,In) */,
    douts: T[] /* (N,O_p) each */,
    inp: T /* (N,In) */,
    projs: Projection<T, W>[],
    N: number,
    In: number,
    R: number,
    scale: number,
  ): void;

  /** xa = dropout(inp) @ aᵀ; out += scale * xa @ bᵀ */
  loraForward(
    out: T /* (N,O) += */,
    xa: T /* (N,R) */,
    inp: T /* (N,In) */,
    a: T /* (R,In) */,
    b: T /* (O,R) */,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
    dropout: Dropout,
  ): void;
  /** dxa = scale * dout @ b; db += scale * doutᵀ @ xa; da += dxaᵀ @ dropout(inp); dinp += dropout'(dxa @ a) */
  loraBackward(
    dinp: T /* (N,In) += */,
    da: T /* (R,In) += */,
    db: T /* (O,R) += */,
    dxa: T /* (N,R) scratch */,
    dout: T /* (N,O) */,
    inp: T /* (N,In) */,
    xa: T /* (N,R) */,
    a: T /* (R,In) */,
    b: T /* (O,R) */,
    N: number,
    In: number,
    O: number,
    R: number,
    scale: number,
    dropout: Dropout,
  ): void;

  /**
   * Rotate-half RoPE in place; token (b, t) has position t + posOffset, or positions[t] when given
   * (a packed batch, B = 1: positions restart at each row, engine/packing.ts).
   */
  ropeForward(
    x: T /* (B,T,H,HD) */,
    B: number,
    T: number,
    H: number,
    HD: number,
    theta: number,
    posOffset: number,
    positions?: Int32Array /* (T) */,
  ): void;
  ropeBackward(
    dx: T /* (B,T,H,HD) */,
    B: number,
    T: number,
    H: number,
    HD: number,
    theta: number,
    posOffset: number,
    positions?: Int32Array /* (T) */,
  ): void;
  /**
   * Optional: ropeForward (sign 1) or ropeBackward (-1) of q (H = NH) and k (H = NKV) together,
   * one launch on WebGPU; the model makes the two calls where a backend lacks it.
   */
  ropeQK?(
    q: T /* (B,T,NH,HD) */,
    k: T /* (B,T,NKV,HD) */,
    B: number,
    T: number,
    NH: number,
    NKV: number,
    HD: number,
    theta: number,
    posOffset: number,
    positions: Int32Array | undefined,
    sign: 1 | -1,
  ): void;

  /**
   * Causal GQA attention with a key padding mask. Query t sits at position S - T + t and sees
   * keys 0..S-T+t whose mask is nonzero and, when its own mask is nonzero, equal to its own (a
   * packed batch's rows, engine/packing.ts: mask = 1 + row start); query head h reads KV head h / (NH/NKV). k, v and mask rows
   * have stride SMAX (the KV-cache capacity; SMAX = S = T in training). Fully masked rows give 0.
   * `att` is what the backend keeps for backward, attentionState(kind, ...) elements in plan.ts:
   * the probabilities (B,NH,T,S) on the CPU, the log-sum-exp per row on WebGPU (flash attention).
   */
  attentionForward(
    out: T /* (B,T,NH*HD) */,
    att: T /* backend state */,
    q: T /* (B,T,NH,HD) */,
    k: T /* (B,SMAX,NKV,HD) */,
    v: T /* (B,SMAX,NKV,HD) */,
    mask: T /* (B,SMAX) i32 */,
    B: number,
    T: number,
    S: number,
    SMAX: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void;
  /** Training only (S = SMAX = T). dq, dk, dv are overwritten; datt is scratch (attentionScratch elements). */
  attentionBackward(
    dq: T /* (B,T,NH,HD) */,
    dk: T /* (B,T,NKV,HD) */,
    dv: T /* (B,T,NKV,HD) */,
    datt: T /* scratch */,
    dout: T /* (B,T,NH*HD) */,
    q: T,
    k: T,
    v: T,
    out: T /* (B,T,NH*HD) forward's */,
    att: T /* forward's state */,
    mask: T /* (B,T) i32 */,
    B: number,
    T: number,
    NH: number,
    NKV: number,
    HD: number,
  ): void;

  /** out = silu(gate) * up */
  swigluForward(out: T /* (N,I) */, gate: T /* (N,I) */, up: T /* (N,I) */, n: number): void;
  swigluBackward(dgate: T /* (N,I) */, dup: T /* (N,I) */, dout: T /* (N,I) */, gate: T, up: T, n: number): void;

  /** x += y */
  addInPlace(x: T /* (n) */, y: T /* (n) */, n: number): void;

  /** out[m] = inp[idx[m]] */
  gatherRows(out: T /* (M,C) */, inp: T /* (N,C) */, idx: T /* (M) i32 */, M: number, C: number): void;
  /** dinp[idx[m]] += dout[m] (idx distinct) */
  scatterAddRows(dinp: T /* (N,C) += */, dout: T /* (M,C) */, idx: T /* (M) i32 */, M: number, C: number): void;

  /**
   * Cross-entropy of logits h @ wᵀ against targets, over the vocabulary in chunks (never an
   * (M,V) buffer): losses[m] = logsumexp - logit[target]; dh = gradScale * (softmax - onehot) @ w.
   */
  crossEntropyForwardBackward(
    losses: T /* (M) */,
    dh: T /* (M,C) */,
    h: T /* (M,C) */,
    w: W /* (V,C) */,
    targets: T /* (M) i32 */,
    M: number,
    C: number,
    V: number,
    gradScale: number,
  ): void;

  /**
   * Optional: greedy decoding's pick on the device (WebGPU: shaders/argmax.wgsl), so a token reads
   * back 2 numbers per row, not V logits: out[b] = (arg max of row b, first on ties, as f32;
   * top-1 minus the largest other logit), what sampling.ts's sampleToken gives at temperature 0.
   */
  argmaxRows?(out: T /* (B,2) */, logits: T /* (B,V) */, B: number, V: number): void;

  // ---- optimizer
  /** out[0] = sqrt(sum(x^2)) */
  globalNorm(out: T /* (1) */, x: T /* (P) */, P: number): void;
  /** Torch AdamW with grads scaled by min(1, maxGradNorm / (norm + 1e-6)). */
  adamw(
    param: T /* (P) */,
    grad: T /* (P) */,
    m: T /* (P) */,
    v: T /* (P) */,
    norm: T /* (1) */,
    P: number,
    h: AdamWParams,
  ): void;
  /** w (O,In) 16-bit or f32 + scale * b @ a, written as f32 for export. */
  mergeLora(
    out: T /* (O,In) */,
    w: W /* (O,In) */,
    a: T /* (R,In) */,
    b: T /* (O,R) */,
    O: number,
    In: number,
    R: number,
    scale: number,
  ): void;
}

/** Counter-based hash shared by CPU and WGSL (shaders/common.wgsl) so dropout masks agree. */
export function hash32(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Elements whose hash is below this are dropped; an integer so WGSL compares the same u32. */
export function dropoutThreshold(p: number): number {
  return Math.min(4294967295, Math.floor(p * 4294967296));
}

export function dropoutKeep(d: Dropout, e: number): boolean {
  return hash32(d.seed, e) >= dropoutThreshold(d.p);
}

/** Refuses weight data whose length or array type does not match its format and shape. */
export function checkWeightData(
  data: Float32Array | Uint16Array | Uint32Array,
  dtype: WeightFormat,
  rows: number,
  cols: number,
  label: string,
): void {
  const want = dtype === 'f32' ? Float32Array : dtype === 'nf4' ? Uint32Array : Uint16Array;
  if (!(data instanceof want)) throw new EngineError(`${label}: ${dtype} weight given as ${data.constructor.name}`);
  if (dtype === 'nf4') {
    checkNf4Shape(rows, cols, label);
    if (data.length !== nf4Words(rows * cols))
      throw new EngineError(
        `${label}: ${data.length} NF4 words for a (${rows}, ${cols}) weight, ${nf4Words(rows * cols)} expected`,
      );
  } else if (data.length !== rows * cols)
    throw new EngineError(`${label}: ${data.length} values for a (${rows}, ${cols}) weight`);
}
