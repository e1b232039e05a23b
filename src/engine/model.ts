// Qwen2 / Qwen3 + LoRA, written once against Ops: the CPU and WebGPU backends run exactly these
// calls in this order, and one decoder block serves training and KV-cache decoding. Memory
// follows llm.c: LoRA parameters, gradients and Adam moments live in four flat buffers carved
// by one size table (plan.ts). Activations: every layer's are kept for micro-batches of up to
// keepTokens tokens; a longer micro-batch runs through one scratch arena and backward recomputes
// each layer from its saved input (gradient checkpointing), keeping across layers only the L+1
// residual-stream inputs (N, C).
//
// The types, the memory layout and one decoder block (forward and backward) are in model-layers.ts
// (Qwen2LoraLayers), which this extends with the passes over all blocks and decoding.

import { EngineError } from '../core/errors.ts';
import { alignUp, type AdamWParams } from './ops.ts';
import { attentionState } from './plan.ts';
import { Qwen2LoraLayers, type Batch } from './model-layers.ts';

export type { BaseWeights, Batch, LayerWeights } from './model-layers.ts';

export class Qwen2LoraModel<T, W> extends Qwen2LoraLayers<T, W> {
  // ---------------------------------------------------------------- passes

  private checkBatch(b: Batch<T>): void {
    // a packed batch is one row of up to maxB rows' real tokens, each row within maxT
    if (b.B > this.maxB || (b.T > this.maxT && !b.positions) || b.B * b.T > this.maxB * this.maxT)
      throw new EngineError(`batch (${b.B}, ${b.T}) exceeds the planned (${this.maxB}, ${this.maxT})`);
  }

  /** Whether backward recomputes each layer for the last micro-batch run through forwardHidden. */
  get recomputing(): boolean {
    return !this.keeping;
  }

  /** Embedding, all layers (saving each layer's input), final norm. Leaves lnf (N,C). */
  forwardHidden(b: Batch<T>, seed: number): void {
    this.checkBatch(b);
    const N = b.B * b.T;
    this.keeping = N <= this.keepTokens;
    this.ops.embeddingForward(this.resid[0], b.ids, this.weights.wte, N, this.C);
    for (let l = 0; l < this.L; l++) {
      const a = this.actsOf(l);
      this.layerForward(a, l, this.resid[l], this.resid[l + 1], b.B, b.T, this.batchAttention(a, b), seed);
    }
    this.ops.rmsnormForward(
      this.acts.lnf,
      this.acts.rstdf,
      this.resid[this.L],
      this.weights.normF,
      N,
      this.C,
      this.cfg.rmsNormEps,
    );
  }

  /** Per-label-token losses into acts.losses (M) and dL/dh at label rows (scaled by gradScale). */
  lossAndHeadGrad(b: Batch<T>, gradScale: number): void {
    const { ops, acts: a, C, V } = this;
    if (b.M === 0) return;
    ops.gatherRows(a.hLab, a.lnf, b.labelIdx, b.M, C);
    ops.crossEntropyForwardBackward(a.losses, a.dhLab, a.hLab, this.weights.lmHead, b.targets, b.M, C, V, gradScale);
  }

  /** Backward from dhLab through every layer (recomputed unless kept), accumulating LoRA grads. */
  backward(b: Batch<T>, seed: number): void {
    const { ops, acts: a, C } = this;
    const N = b.B * b.T;
    if (b.M === 0) return;
    ops.zero(a.dLn, N * C);
    ops.scatterAddRows(a.dLn, a.dhLab, b.labelIdx, b.M, C);
    ops.zero(a.dResid, N * C);
    ops.rmsnormBackward(a.dResid, a.dLn, this.resid[this.L], this.weights.normF, a.rstdf, N, C);
    for (let l = this.L - 1; l >= 0; l--) {
      const la = this.actsOf(l);
      if (!this.keeping) this.layerForward(la, l, this.resid[l], la.xOut, b.B, b.T, this.batchAttention(la, b), seed);
      this.layerBackward(l, this.resid[l], b, seed);
    }
  }

  /** Full logits (N, V) of the last forwardHidden, into a caller-owned buffer. */
  logits(out: T, b: Batch<T>): void {
    this.ops.matmulForward(out, this.acts.lnf, this.weights.lmHead, null, b.B * b.T, this.C, this.V);
  }

  get lossBuffer(): T {
    return this.acts.losses;
  }

  adamStep(h: AdamWParams): void {
    this.ops.adamw(this.params, this.grads, this.adamM, this.adamV, this.normBuf, this.P, h);
  }

  gradNorm(): void {
    this.ops.globalNorm(this.normBuf, this.grads, this.P);
  }

  // ---------------------------------------------------------------- generation (KV cache)
  //
  // B prompts decode together: they are left padded to one length and the pads are masked keys.
  // RoPE makes attention depend only on q_pos - k_pos, so shifting a whole row by its pad count
  // leaves its scores unchanged; the pad queries see no unmasked key and produce zeros.

  private kv: { k: T[]; v: T[]; mask: T; B: number; SMAX: number; att: T; chunk: number } | null = null;

  private ensureCache(B: number, SMAX: number): NonNullable<typeof this.kv> {
    const rows = this.maxB * this.maxT;
    if (B > rows) throw new EngineError(`cannot decode ${B} prompts at once: the engine holds ${rows} tokens`);
    if (this.kv && this.kv.B === B && this.kv.SMAX >= SMAX) return this.kv;
    const cap = alignUp(SMAX, 64);
    const chunk = Math.max(1, Math.min(64, Math.floor(rows / B)));
    const { ops, L, KVD, NH } = this;
    if (this.kv) for (const t of [...this.kv.k, ...this.kv.v, this.kv.mask, this.kv.att]) ops.free?.(t);
    const mk = (n: string) => Array.from({ length: L }, (_, l) => ops.alloc('f32', B * cap * KVD, `kv.${n}.${l}`));
    this.kv = {
      k: mk('k'),
      v: mk('v'),
      mask: ops.alloc('i32', B * cap, 'kv.mask'),
      B,
      SMAX: cap,
      att: ops.alloc('f32', attentionState(ops.kind, B, NH, chunk, cap), 'kv.att'),
      chunk,
    };
    return this.kv;
  }

  /** Starts a decode of B rows with room for SMAX positions; mask (B, T0) marks real prompt tokens. */
  startDecode(B: number, SMAX: number, mask: Int32Array, T0: number): void {
    const kv = this.ensureCache(B, SMAX);
    const full = new Int32Array(B * kv.SMAX);
    for (let b = 0; b < B; b++) full.set(mask.subarray(b * T0, (b + 1) * T0), b * kv.SMAX);
    this.ops.upload(kv.mask, full);
  }

  /** Marks position pos real in every row (a decoded token). */
  extendMask(pos: number): void {
    const kv = this.kv!;
    const one = Int32Array.of(1);
    for (let b = 0; b < kv.B; b++) this.ops.upload(kv.mask, one, b * kv.SMAX + pos);
  }

  /**
   * Feeds `count` tokens per row at positions pos0.. into the cache in chunks (ids (B, count) at
   * idsOffset rows of stride `count`); leaves each row's last hidden state, after the final norm,
   * in lnf (B, C). Base + LoRA, no dropout.
   */
  prefill(ids: T, count: number, pos0: number, scratchIds: T): void {
    const kv = this.kv!;
    const { ops, work: a, C, L } = this;
    const B = kv.B;
    let done = 0;
    while (done < count) {
      const T = Math.min(kv.chunk, count - done),
        pos = pos0 + done,
        N = B * T;
      for (let b = 0; b < B; b++) ops.copy(scratchIds, b * T, ids, b * count + done, T);
      ops.embeddingForward(a.xOut, scratchIds, this.weights.wte, N, C);
      for (let l = 0; l < L; l++) {
        const src = { pos, S: pos + T, SMAX: kv.SMAX, mask: kv.mask, att: kv.att, cache: { k: kv.k[l], v: kv.v[l] } };
        this.layerForward(a, l, a.xOut, a.xOut, B, T, src, 0);
      }
      done += T;
      if (done === count) {
        for (let b = 0; b < B; b++) ops.copy(a.xMid, b * C, a.xOut, (b * T + T - 1) * C, C);
        ops.rmsnormForward(a.lnf, a.rstdf, a.xMid, this.weights.normF, B, C, this.cfg.rmsNormEps);
      }
    }
  }

  /** Logits (B, V) of the hidden states prefill left in lnf. */
  lastLogits(out: T, B: number): void {
    this.ops.matmulForward(out, this.acts.lnf, this.weights.lmHead, null, B, this.C, this.V);
  }
}
