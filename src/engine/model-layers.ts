// Qwen2 / Qwen3 + LoRA, written once against Ops: the CPU and WebGPU backends run exactly these
// calls in this order, and one decoder block serves training and KV-cache decoding. Memory
// follows llm.c: LoRA parameters, gradients and Adam moments live in four flat buffers carved
// by one size table (plan.ts). Activations: every layer's are kept for micro-batches of up to
// keepTokens tokens; a longer micro-batch runs through one scratch arena and backward recomputes
// each layer from its saved input (gradient checkpointing), keeping across layers only the L+1
// residual-stream inputs (N, C).
//
// This file holds the weights' and batch's types, the memory layout and one decoder block's forward
// and backward (Qwen2LoraLayers); model.ts (Qwen2LoraModel) runs the passes over all blocks, the
// loss, the optimizer step and KV-cache decoding on top. Split so each file reads on its own.

import { LORA_TARGETS, type LoraTarget, type Qwen2Config, projShape } from '../core/config.ts';
import { hash32, type Ops, type Dropout, type Projection } from './ops.ts';
import { peftName, type LoraSettings, loraScale } from './engine.ts';
import { activationArenas, carveArena, loraLayout, type LoraSlot } from './plan.ts';

export interface LayerWeights<T, W> {
  ln1: T; // (C)
  ln2: T; // (C)
  proj: Record<LoraTarget, W>; // (O, In) each
  bias: { q_proj: T; k_proj: T; v_proj: T } | null; // (QD), (KVD), (KVD); Qwen2 only
  qkNorm: { q: T; k: T } | null; // (HD), (HD); Qwen3 only
}

export interface BaseWeights<T, W> {
  wte: W; // (V, C)
  lmHead: W; // (V, C), the same handle as wte when tied
  normF: T; // (C)
  layers: LayerWeights<T, W>[];
}

/**
 * Where a decoder block's attention finds its keys and values: the batch itself (training,
 * positions 0..T-1) or a KV cache the block appends its keys and values to (decoding).
 */
interface AttentionSource<T> {
  pos: number; // position of the first token
  S: number; // keys visible to the last token: pos + T
  SMAX: number; // row stride of k, v and mask
  mask: T; // (B, SMAX) i32
  positions?: Int32Array; // (T) a packed batch's positions (B = 1)
  att: T; // (B, NH, T, S) probabilities
  cache: { k: T; v: T } | null; // (B, SMAX, NKV, HD) each
}

export interface Batch<T> {
  B: number;
  T: number;
  ids: T; // (B*T) i32
  mask: T; // (B*T) i32: 1 real, 0 pad; packed (B = 1): 1 + the token's row start
  /** A packed batch's positions (B*T), restarting at 0 on each row (engine/packing.ts). */
  positions?: Int32Array;
  labelIdx: T; // (M) i32: flat positions b*T+t whose next label is real
  targets: T; // (M) i32: labels[b*T+t+1]
  M: number;
}

/** The memory and one decoder block of Qwen2LoraModel (model.ts); not used on its own. */
export class Qwen2LoraLayers<T, W> {
  readonly C: number;
  readonly I: number;
  readonly L: number;
  readonly NH: number;
  readonly NKV: number;
  readonly HD: number;
  readonly QD: number;
  readonly KVD: number;
  readonly V: number;
  readonly slots: LoraSlot[];
  readonly P: number;
  /** alpha / r (or / sqrt r): set per run by the step's alpha, not fixed at load (setAlpha). */
  scale: number;
  /** The dropout of training steps: per run like lr (the step's), the loaded one until a step says. */
  trainDropout: number;
  readonly params: T; // (P)
  readonly grads: T; // (P)
  readonly adamM: T; // (P)
  readonly adamV: T; // (P)
  readonly normBuf: T; // (1)
  protected readonly acts: Record<string, T>;
  /** Per layer: the scratch arena with that layer's saved activations (when keepTokens > 0). */
  protected readonly layerActs: Record<string, T>[];
  /** A whole layer's tensors for the recompute path and decoding. */
  protected readonly work: Record<string, T>;
  /** Whether the current micro-batch keeps every layer's activations (else backward recomputes). */
  protected keeping = false;
  protected readonly resid: T[]; // L+1 x (N, C)
  private readonly slotOf = new Map<string, { a: T; b: T; da: T; db: T; slot: LoraSlot }>();
  dropout = 0;

  constructor(
    readonly ops: Ops<T, W>,
    readonly cfg: Qwen2Config,
    readonly weights: BaseWeights<T, W>,
    readonly lora: LoraSettings,
    readonly maxB: number,
    readonly maxT: number,
    /**
     * Micro-batches of up to this many tokens (B x padded T) keep every layer's activations;
     * longer ones use gradient checkpointing: backward recomputes each layer from its saved
     * input, so only one layer's activations exist at a time. 0: always recompute.
     */
    readonly keepTokens = 0,
  ) {
    this.C = cfg.hiddenSize;
    this.I = cfg.intermediateSize;
    this.L = cfg.numLayers;
    this.NH = cfg.numHeads;
    this.NKV = cfg.numKvHeads;
    this.HD = cfg.headDim;
    this.QD = this.NH * this.HD;
    this.KVD = this.NKV * this.HD;
    this.V = cfg.vocabSize;
    const layout = loraLayout(cfg, lora);
    this.slots = layout.slots;
    this.P = layout.size;
    this.scale = loraScale(lora);
    this.trainDropout = lora.dropout;
    this.params = ops.alloc('f32', this.P, 'lora.params');
    this.grads = ops.alloc('f32', this.P, 'lora.grads');
    this.adamM = ops.alloc('f32', this.P, 'adam.m');
    this.adamV = ops.alloc('f32', this.P, 'adam.v');
    this.normBuf = ops.alloc('f32', 1, 'grad.norm');
    for (const s of this.slots) {
      const R = lora.r;
      this.slotOf.set(`${s.layer}.${s.target}`, {
        slot: s,
        a: ops.view(this.params, s.aOffset, R * s.In),
        b: ops.view(this.params, s.bOffset, s.O * R),
        da: ops.view(this.grads, s.aOffset, R * s.In),
        db: ops.view(this.grads, s.bOffset, s.O * R),
      });
    }
    const arenas = activationArenas(cfg, lora, maxB, maxT, keepTokens, ops.kind);
    this.acts = carveArena(ops, arenas.scratch, arenas.groups, 'activations');
    const saved = arenas.saved;
    this.layerActs = saved
      ? Array.from({ length: cfg.numLayers }, (_, l) => ({
          ...this.acts,
          ...carveArena(ops, saved, arenas.savedGroups, `activations.${l}`),
        }))
      : [];
    // when every micro-batch fits keepTokens the scratch holds no per-layer tensors: layer 0's serve
    this.work = keepTokens >= maxB * maxT ? this.layerActs[0] : this.acts;
    const N = maxB * maxT;
    this.resid = Array.from({ length: this.L + 1 }, (_, l) => ops.alloc('f32', N * this.C, `resid.${l}`));
  }

  /** The adapter's alpha from now on (a run's own, or an imported adapter's). */
  setAlpha(alpha: number): void {
    this.scale = loraScale({ ...this.lora, alpha });
  }

  slot(layer: number, target: LoraTarget) {
    return this.slotOf.get(`${layer}.${target}`);
  }

  /** PEFT name -> (offset, length) in the flat parameter buffer. */
  tensorPlaces(): { name: string; offset: number; length: number; shape: [number, number] }[] {
    const R = this.lora.r;
    return this.slots.flatMap((s) => [
      {
        name: peftName(s.layer, s.target, 'A'),
        offset: s.aOffset,
        length: R * s.In,
        shape: [R, s.In] as [number, number],
      },
      {
        name: peftName(s.layer, s.target, 'B'),
        offset: s.bOffset,
        length: s.O * R,
        shape: [s.O, R] as [number, number],
      },
    ]);
  }

  // ---------------------------------------------------------------- layers

  private dropoutFor(seed: number, layer: number, t: number): Dropout {
    return { p: this.dropout, seed: hash32(seed, layer * 16 + t) };
  }

  /** A projection of layer l as the fused kernels take it; `part` picks its dxa scratch. */
  private projection(
    a: Record<string, T>,
    layer: number,
    target: LoraTarget,
    part: number,
    seed: number,
  ): Projection<T, W> {
    const w = this.weights.layers[layer];
    const bias = w.bias && (target === 'q_proj' || target === 'k_proj' || target === 'v_proj') ? w.bias[target] : null;
    const s = this.slot(layer, target);
    const lora = s
      ? {
          a: s.a,
          b: s.b,
          da: s.da,
          db: s.db,
          xa: a[`xa.${target}`],
          dxa: a[`dxa.${part}`],
          dropout: this.dropoutFor(seed, layer, LORA_TARGETS.indexOf(target)),
        }
      : null;
    return { w: w.proj[target], O: projShape(this.cfg, target)[0], bias, lora };
  }

  /** outs[p] (N,O_p) = inp @ W_pᵀ + b_p + s·dropout_p(inp)A_pᵀ B_pᵀ (+ resid), the projections of one input together. */
  private linearForward(
    a: Record<string, T>,
    outs: T[],
    inp: T,
    layer: number,
    targets: LoraTarget[],
    N: number,
    seed: number,
    resid: T | null = null,
  ): void {
    const In = projShape(this.cfg, targets[0])[1];
    this.ops.linearForward(
      outs,
      inp,
      targets.map((t, i) => this.projection(a, layer, t, i, seed)),
      resid,
      N,
      In,
      this.lora.r,
      this.scale,
    );
  }

  /** dinp (N,In) = sum_p douts[p] @ W_p (+ LoRA paths), overwritten; LoRA grads accumulate. */
  private linearBackward(
    a: Record<string, T>,
    dinp: T,
    douts: T[],
    inp: T,
    layer: number,
    targets: LoraTarget[],
    N: number,
    seed: number,
  ): void {
    const In = projShape(this.cfg, targets[0])[1];
    this.ops.linearBackward(
      dinp,
      douts,
      inp,
      targets.map((t, i) => this.projection(a, layer, t, i, seed)),
      N,
      In,
      this.lora.r,
      this.scale,
    );
  }

  /** RoPE of q and k (sign 1) or its transpose on their gradients (-1): one call where the backend fuses them. */
  private rope(q: T, k: T, B: number, T: number, pos: number, positions: Int32Array | undefined, sign: 1 | -1): void {
    const { ops, NH, NKV, HD } = this,
      theta = this.cfg.ropeTheta;
    if (ops.ropeQK) return ops.ropeQK(q, k, B, T, NH, NKV, HD, theta, pos, positions, sign);
    const one = sign > 0 ? ops.ropeForward.bind(ops) : ops.ropeBackward.bind(ops);
    one(q, B, T, NH, HD, theta, pos, positions);
    one(k, B, T, NKV, HD, theta, pos, positions);
  }

  /**
   * One decoder layer on (B, T) tokens: xOut = block(xIn), xOut may be xIn. Leaves its
   * activations in the arena `a`. Training and decoding both run it; they differ only in
   * where attention reads keys and values (`src`).
   */
  protected layerForward(
    a: Record<string, T>,
    l: number,
    xIn: T,
    xOut: T,
    B: number,
    T: number,
    src: AttentionSource<T>,
    seed: number,
  ): void {
    const { ops, C, I, NH, NKV, HD, KVD } = this;
    const N = B * T,
      w = this.weights.layers[l],
      eps = this.cfg.rmsNormEps;
    const qk = w.qkNorm;
    ops.rmsnormForward(a.ln1, a.rstd1, xIn, w.ln1, N, C, eps);
    // (N, QD), (N, KVD), (N, KVD)
    this.linearForward(
      a,
      [qk ? a.qRaw : a.q, qk ? a.kRaw : a.k, a.v],
      a.ln1,
      l,
      ['q_proj', 'k_proj', 'v_proj'],
      N,
      seed,
    );
    if (qk) {
      // Qwen3: every head of q and k is one RMSNorm row of HD values
      ops.rmsnormForward(a.q, a.rstdQ, a.qRaw, qk.q, N * NH, HD, eps);
      ops.rmsnormForward(a.k, a.rstdK, a.kRaw, qk.k, N * NKV, HD, eps);
    }
    this.rope(a.q, a.k, B, T, src.pos, src.positions, 1);
    let k = a.k,
      v = a.v;
    if (src.cache) {
      ({ k, v } = src.cache);
      for (let b = 0; b < B; b++) {
        ops.copy(k, (b * src.SMAX + src.pos) * KVD, a.k, b * T * KVD, T * KVD);
        ops.copy(v, (b * src.SMAX + src.pos) * KVD, a.v, b * T * KVD, T * KVD);
      }
    }
    ops.attentionForward(a.attOut, src.att, a.q, k, v, src.mask, B, T, src.S, src.SMAX, NH, NKV, HD);
    this.linearForward(a, [a.xMid], a.attOut, l, ['o_proj'], N, seed, xIn); // xMid = xIn + o(attOut)
    ops.rmsnormForward(a.ln2, a.rstd2, a.xMid, w.ln2, N, C, eps);
    this.linearForward(a, [a.gate, a.up], a.ln2, l, ['gate_proj', 'up_proj'], N, seed); // (N, I) each
    ops.swigluForward(a.act, a.gate, a.up, N * I);
    this.linearForward(a, [xOut], a.act, l, ['down_proj'], N, seed, a.xMid); // xOut = xMid + down(act)
  }

  /** Training attends within the batch: positions 0..T-1, the batch's padding mask. */
  protected batchAttention(a: Record<string, T>, b: Batch<T>): AttentionSource<T> {
    return { pos: 0, S: b.T, SMAX: b.T, mask: b.mask, positions: b.positions, att: a.att, cache: null };
  }

  /** dResid (N,C) holds dL/dxOut on entry and dL/dxIn on exit. Needs layerForward(l)'s activations. */
  protected layerBackward(l: number, xIn: T, b: Batch<T>, seed: number): void {
    const { ops, C, I, NH, NKV, HD, QD, KVD } = this;
    const a = this.actsOf(l);
    const N = b.B * b.T,
      w = this.weights.layers[l];
    const qk = w.qkNorm;
    // Kept activations leave out ln2, act and ln1 with their 1/rms (plan.ts savedKeys): remade
    // here into the shared scratch arena, bit for bit what the forward computed.
    if (this.keeping) {
      ops.rmsnormForward(a.ln2, a.rstd2, a.xMid, w.ln2, N, C, this.cfg.rmsNormEps);
      ops.swigluForward(a.act, a.gate, a.up, N * I);
    }
    // MLP: xOut = xMid + down(swiglu(gate(ln2), up(ln2)))
    this.linearBackward(a, a.dAct, [a.dResid], a.act, l, ['down_proj'], N, seed);
    ops.swigluBackward(a.dGate, a.dUp, a.dAct, a.gate, a.up, N * I);
    this.linearBackward(a, a.dLn, [a.dGate, a.dUp], a.ln2, l, ['gate_proj', 'up_proj'], N, seed);
    ops.rmsnormBackward(a.dResid, a.dLn, a.xMid, w.ln2, a.rstd2, N, C);
    // attention: xMid = xIn + o(attn(rope(norm(q(ln1))), rope(norm(k(ln1))), v(ln1))), norm only in Qwen3
    this.linearBackward(a, a.dAttOut, [a.dResid], a.attOut, l, ['o_proj'], N, seed);
    ops.attentionBackward(
      a.dq,
      a.dk,
      a.dv,
      a.dAtt,
      a.dAttOut,
      a.q,
      a.k,
      a.v,
      a.attOut,
      a.att,
      b.mask,
      b.B,
      b.T,
      NH,
      NKV,
      HD,
    );
    this.rope(a.dq, a.dk, b.B, b.T, 0, b.positions, -1);
    let dq = a.dq,
      dk = a.dk;
    if (qk) {
      ops.zero(a.dqRaw, N * QD);
      ops.rmsnormBackward(a.dqRaw, a.dq, a.qRaw, qk.q, a.rstdQ, N * NH, HD);
      ops.zero(a.dkRaw, N * KVD);
      ops.rmsnormBackward(a.dkRaw, a.dk, a.kRaw, qk.k, a.rstdK, N * NKV, HD);
      dq = a.dqRaw;
      dk = a.dkRaw;
    }
    if (this.keeping) ops.rmsnormForward(a.ln1, a.rstd1, xIn, w.ln1, N, C, this.cfg.rmsNormEps);
    this.linearBackward(a, a.dLn, [dq, dk, a.dv], a.ln1, l, ['q_proj', 'k_proj', 'v_proj'], N, seed);
    ops.rmsnormBackward(a.dResid, a.dLn, xIn, w.ln1, a.rstd1, N, C);
  }

  /** Layer l's activations for the current micro-batch: its own when they are kept, else the one scratch layer. */
  protected actsOf(l: number): Record<string, T> {
    return this.keeping ? this.layerActs[l] : this.work;
  }
}
