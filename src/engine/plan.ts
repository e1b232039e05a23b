// The memory plan: what a load will allocate, by part, computed from the config and the settings
// alone. Pure arithmetic over the same size tables the model carves its buffers from, so the page
// can show it (and the engine can refuse a load that will not fit) without loading the model.
// Sizes use numHeads * headDim, not hiddenSize, wherever the attention width is meant, so a
// config whose head_dim is explicit plans the shapes it really has.

import { LORA_TARGETS, paramCount, projShape, type LoraTarget, type Qwen2Config } from '../core/config.ts';
import type { WeightDType } from '../core/dtype.ts';
import { NF4_BLOCK, checkNf4Shape, nf4Bytes, type Quantization } from '../core/nf4.ts';
import type { EngineKind, LoadOptions, LoraSettings } from './engine.ts';
import { alignUp } from './ops.ts';

/**
 * The largest LoRA rank an engine's kernels take. WebGPU: the gradient kernel keeps 32 tokens x R
 * floats of a workgroup in 2048 (R <= 64); the fused q|k|v input kernel's 16 rows x 3 parts x R
 * outputs must fit 4096 (R <= 85), which R <= 64 already meets. The CPU has no such bound. The
 * page and the CLI refuse a rank above it before loading (train/settings-spec.ts).
 */
export function loraRankLimit(kind: EngineKind): number {
  return kind === 'webgpu' ? 64 : Infinity;
}

/** One LoRA pair's place in the flat parameter buffer. */
export interface LoraSlot {
  layer: number;
  target: LoraTarget;
  In: number;
  O: number;
  aOffset: number; // (R, In) at this element offset
  bOffset: number; // (O, R)
}

export function loraLayout(cfg: Qwen2Config, lora: LoraSettings): { slots: LoraSlot[]; size: number } {
  const slots: LoraSlot[] = [];
  let off = 0;
  for (let layer = 0; layer < cfg.numLayers; layer++) {
    for (const target of LORA_TARGETS) {
      if (!lora.targets.includes(target)) continue;
      const [O, In] = projShape(cfg, target);
      const aOffset = off;
      off = alignUp(off + lora.r * In);
      const bOffset = off;
      off = alignUp(off + O * lora.r);
      slots.push({ layer, target, In, O, aOffset, bOffset });
    }
  }
  return { slots, size: off };
}

/**
 * Tensors the fused projection kernels read or write as views of one buffer (so q|k|v and
 * gate|up run as one launch each): group name -> its parts in order, element counts. Each part
 * starts at a multiple of VIEW_ALIGN. Qwen3's q and k go through their norms after the
 * projection, so its group holds the raw projections.
 */
export function activationGroups(
  cfg: Qwen2Config,
  lora: LoraSettings,
  B: number,
  T: number,
): Record<string, Record<string, number>> {
  const N = B * T,
    I = cfg.intermediateSize,
    R = lora.r;
  const QD = cfg.numHeads * cfg.headDim,
    KVD = cfg.numKvHeads * cfg.headDim;
  const qk = cfg.qkNorm;
  return {
    qkv: qk ? { qRaw: N * QD, kRaw: N * KVD, v: N * KVD } : { q: N * QD, k: N * KVD, v: N * KVD },
    dqkv: qk ? { dqRaw: N * QD, dkRaw: N * KVD, dv: N * KVD } : { dq: N * QD, dk: N * KVD, dv: N * KVD },
    gateUp: { gate: N * I, up: N * I },
    dGateUp: { dGate: N * I, dUp: N * I },
    // each projection's rank-R input factor, kept for backward; and three scratch parts for its gradient
    xa: Object.fromEntries(lora.targets.map((t) => [`xa.${t}`, N * R])),
    dxa: { 'dxa.0': N * R, 'dxa.1': N * R, 'dxa.2': N * R },
  };
}

/**
 * What a backend keeps of attention's forward for backward (Ops.attentionForward's `att`): the
 * probabilities (B, NH, T, S) on the CPU; on WebGPU (flash attention) two numbers per query row,
 * its log-sum-exp and the backward's dout . out.
 */
export function attentionState(kind: EngineKind, B: number, NH: number, T: number, S: number): number {
  return kind === 'cpu' ? B * NH * T * S : B * NH * T * 2;
}

/** Scratch of Ops.attentionBackward: the probabilities' gradient on the CPU, none on WebGPU. */
export function attentionScratch(kind: EngineKind, B: number, NH: number, T: number): number {
  return kind === 'cpu' ? B * NH * T * T : 0;
}

/** Elements of a group's buffer: its parts, each starting at a multiple of VIEW_ALIGN. */
export function groupSize(parts: Record<string, number>): number {
  return Object.values(parts).reduce((a, n) => a + alignUp(n), 0);
}

/** Element counts of the per-layer scratch arena for N = B*T tokens (groups as one entry each). */
export function activationSizes(
  cfg: Qwen2Config,
  lora: LoraSettings,
  B: number,
  T: number,
  kind: EngineKind = 'cpu',
): Record<string, number> {
  const N = B * T,
    C = cfg.hiddenSize,
    I = cfg.intermediateSize;
  const QD = cfg.numHeads * cfg.headDim,
    KVD = cfg.numKvHeads * cfg.headDim;
  const sizes: Record<string, number> = {
    ln1: N * C,
    rstd1: N,
    att: attentionState(kind, B, cfg.numHeads, T, T),
    attOut: N * QD,
    xMid: N * C,
    ln2: N * C,
    rstd2: N,
    act: N * I,
    xOut: N * C,
    lnf: N * C,
    rstdf: N,
    hLab: N * C,
    dhLab: N * C,
    losses: N,
    dResid: N * C,
    dLn: N * C,
    dAttOut: N * QD,
    dAtt: attentionScratch(kind, B, cfg.numHeads, T),
    dAct: N * I,
  };
  // Qwen3: q and k after their per-head norms, the norms' 1/rms per (token, head), the gradients before them
  if (cfg.qkNorm)
    Object.assign(sizes, {
      q: N * QD,
      k: N * KVD,
      rstdQ: N * cfg.numHeads,
      rstdK: N * cfg.numKvHeads,
      dq: N * QD,
      dk: N * KVD,
    });
  for (const [name, parts] of Object.entries(activationGroups(cfg, lora, B, T))) sizes[name] = groupSize(parts);
  return sizes;
}

/**
 * The scratch entries (and groups) backward reads of a layer's forward: what a kept layer holds.
 * The two norms' outputs (ln1, ln2, with their 1/rms) and the SwiGLU product (act) are not kept:
 * backward remakes them from what is (the layer input, xMid, gate, up) with elementwise work
 * only, no matmul, which saves a third of this memory.
 */
function savedKeys(cfg: Qwen2Config): string[] {
  const keep = ['qkv', 'att', 'attOut', 'xMid', 'gateUp', 'xa'];
  if (cfg.qkNorm) keep.push('q', 'k', 'rstdQ', 'rstdK');
  return keep;
}

/** What backward reads of a layer's forward: kept per layer when recompute is off. */
export function savedActivationSizes(
  cfg: Qwen2Config,
  lora: LoraSettings,
  B: number,
  T: number,
  kind: EngineKind = 'cpu',
): Record<string, number> {
  const all = activationSizes(cfg, lora, B, T, kind);
  return Object.fromEntries(savedKeys(cfg).map((k) => [k, all[k]]));
}

/**
 * The activation buffers of a load that keeps every layer's activations for micro-batches of
 * up to `keep` tokens: one scratch arena (a whole layer's tensors for the recompute path and for
 * decoding, or only the rest when every micro-batch fits `keep`) and, when keep > 0, one arena of
 * saved tensors per layer. The model carves exactly these; the plan counts exactly these.
 */
export function activationArenas(
  cfg: Qwen2Config,
  lora: LoraSettings,
  maxB: number,
  maxT: number,
  keep: number,
  kind: EngineKind,
) {
  const all = keep >= maxB * maxT;
  const scratch = activationSizes(cfg, lora, maxB, maxT, kind);
  if (all) for (const k of savedKeys(cfg)) delete scratch[k];
  // a kept layer sized for the tokens it keeps; on the CPU (probabilities grow with T^2) only all-or-nothing
  const [sb, st] = all ? [maxB, maxT] : [1, keep];
  return {
    scratch,
    groups: activationGroups(cfg, lora, maxB, maxT),
    saved: keep > 0 ? savedActivationSizes(cfg, lora, sb, st, kind) : null,
    savedGroups: activationGroups(cfg, lora, sb, st),
  };
}

/**
 * The arena of named tensors the model uses: every entry of `sizes`, with each group entry
 * carved into its parts (views), so callers name q, k, v whether or not they share a buffer.
 */
export function carveArena<T>(
  ops: {
    arena(dtype: 'f32', sizes: Record<string, number>, label: string): Record<string, T>;
    view(t: T, offset: number, n: number): T;
  },
  sizes: Record<string, number>,
  groups: Record<string, Record<string, number>>,
  label: string,
): Record<string, T> {
  const whole = ops.arena('f32', sizes, label);
  const out: Record<string, T> = { ...whole };
  for (const [name, parts] of Object.entries(groups)) {
    if (!(name in whole)) continue;
    let at = 0;
    for (const [part, n] of Object.entries(parts)) {
      out[part] = ops.view(whole[name], at, n);
      at += alignUp(n);
    }
  }
  return out;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0);

/** Bytes by buffer group for a (B, T) batch shape keeping `keep` tokens' activations per layer (0: always recompute). */
export function planParts(
  cfg: Qwen2Config,
  lora: LoraSettings,
  B: number,
  T: number,
  weightBytes: number,
  keep = 0,
  kind: EngineKind = 'cpu',
): Record<string, number> {
  const arenas = activationArenas(cfg, lora, B, T, keep, kind);
  return {
    weights: weightBytes,
    // params, grads and the two Adam moments in f32, plus the gradient-norm scalar
    lora: loraLayout(cfg, lora).size * 4 * 4 + 4,
    activations: sum(arenas.scratch) * 4,
    residuals: (cfg.numLayers + 1) * B * T * cfg.hiddenSize * 4,
    ...(arenas.saved ? { savedActivations: cfg.numLayers * sum(arenas.saved) * 4 } : {}),
  };
}

/**
 * Bytes of the base weights as the engine keeps them: 16-bit stays 16-bit; with NF4 the seven
 * projections take 4.5 bits a value (src/core/nf4.ts), everything else its stored size.
 */
export function weightBytes(cfg: Qwen2Config, dtype: WeightDType, quant: Quantization = 'none'): number {
  const elem = dtype === 'f32' ? 4 : 2;
  if (quant !== 'nf4') return paramCount(cfg) * elem;
  let projections = 0;
  for (const t of LORA_TARGETS) {
    const [o, i] = projShape(cfg, t);
    checkNf4Shape(o, i, `${t} (${o} x ${i})`);
    projections += o * i;
  }
  projections *= cfg.numLayers;
  return (paramCount(cfg) - projections) * elem + nf4Bytes(projections);
}

/** Whether NF4 can hold this model's projections: each must be whole 64-value blocks. */
export function nf4Applies(cfg: Qwen2Config): boolean {
  return LORA_TARGETS.every((t) => {
    const [o, i] = projShape(cfg, t);
    return (o * i) % NF4_BLOCK === 0;
  });
}

/** The CPU keeps every layer's activations when they cost at most this in all (a third fewer matmuls), else never. */
const CPU_KEEP_BUDGET = 2 ** 30;
/**
 * WebGPU keeps every layer's activations for a micro-batch whose tokens (batch x its padded
 * length) fit this budget, and recomputes each layer in backward for a longer one. Not with an
 * NF4 base: QLoRA is chosen to save memory (Qwen2.5-0.5B at batch 4 x 384 within 1 GiB), so its
 * plan stays the checkpointing one.
 */
export const GPU_KEEP_BUDGET = 512 * 2 ** 20;

/** Tokens of a micro-batch whose activations are kept for every layer (longer ones recompute); 0 = always recompute. */
export function keepTokens(kind: EngineKind, cfg: Qwen2Config, opts: LoadOptions): number {
  const maxN = opts.maxBatch * opts.maxSeq;
  if (opts.recompute !== undefined) return opts.recompute ? 0 : maxN;
  const bytes = (B: number, T: number) => cfg.numLayers * sum(savedActivationSizes(cfg, opts.lora, B, T, kind)) * 4;
  if (kind === 'cpu') return bytes(opts.maxBatch, opts.maxSeq) <= CPU_KEEP_BUDGET ? maxN : 0;
  if (opts.quant === 'nf4') return 0;
  // on WebGPU the saved tensors grow linearly with the tokens (flash attention keeps 2 floats a row)
  let keep = Math.min(maxN, Math.floor(GPU_KEEP_BUDGET / (bytes(1, 1024) / 1024)));
  while (keep > 0 && keep < maxN && bytes(1, keep) > GPU_KEEP_BUDGET) keep -= 16;
  return keep >= 16 ? keep : 0;
}

export interface MemoryPlanParts {
  /** Bytes by purpose: weights, lora (params+grads+adam), activations, residuals[, savedActivations]. */
  parts: Record<string, number>;
  total: number;
  /** Whether backward recomputes each layer (gradient checkpointing) for the longest micro-batches. */
  recompute: boolean;
  /** Micro-batches of up to this many tokens (batch x padded length) keep every layer's activations. */
  keepTokens: number;
}

/**
 * The memory a load will take, by part (bytes), before anything is allocated: what the engine
 * checks against the device budget and what the page shows next to the settings.
 */
export function planMemory(
  kind: EngineKind,
  cfg: Qwen2Config,
  opts: LoadOptions,
  weightDType: WeightDType,
): MemoryPlanParts {
  const keep = keepTokens(kind, cfg, opts);
  const parts = planParts(
    cfg,
    opts.lora,
    opts.maxBatch,
    opts.maxSeq,
    weightBytes(cfg, weightDType, opts.quant),
    keep,
    kind,
  );
  return { parts, total: sum(parts), recompute: keep < opts.maxBatch * opts.maxSeq, keepTokens: keep };
}

/** What would fit instead: halve the max length, then the batch, until the smallest plan does. */
export function suggestFit(
  cfg: Qwen2Config,
  opts: LoadOptions,
  weights: number,
  budget: number,
  kind: EngineKind = 'cpu',
): string {
  for (let B = opts.maxBatch; B >= 1; B = Math.floor(B / 2)) {
    for (let T = opts.maxSeq; T >= 16; T = Math.floor(T / 2)) {
      if (sum(planParts(cfg, opts.lora, B, T, weights, 0, kind)) <= budget)
        return `batch ${B} x max length ${T} would fit`;
    }
  }
  return 'even batch 1 x max length 16 does not fit: the weights alone need ' + (weights / 2 ** 20).toFixed(0) + ' MiB';
}
