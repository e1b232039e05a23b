// The memory plan: what a load will allocate, by part, computed from the config and the settings
// alone. Pure arithmetic over the same size tables the model carves its buffers from, so the page
// can show it (and the engine can refuse a load that will not fit) without loading the model.
// Sizes use numHeads * headDim, not hiddenSize, wherever the attention width is meant, so a
// config whose head_dim is explicit plans the shapes it really has.

import { LORA_TARGETS, paramCount, projShape, type LoraTarget, type Qwen2Config } from '../core/config.ts';
import type { WeightDType } from '../core/dtype.ts';
import { NF4_BLOCK, checkNf4Shape, nf4Bytes, type Quantization } from '../core/nf4.ts';
import type { LoadOptions, LoraSettings } from './engine.ts';
import { alignUp } from './ops.ts';

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

/** Element counts of the per-layer scratch arena for N = B*T tokens. */
export function activationSizes(cfg: Qwen2Config, lora: LoraSettings, B: number, T: number): Record<string, number> {
  const N = B * T, C = cfg.hiddenSize, I = cfg.intermediateSize;
  const QD = cfg.numHeads * cfg.headDim, KVD = cfg.numKvHeads * cfg.headDim;
  const att = B * cfg.numHeads * T * T;
  const sizes: Record<string, number> = {
    ln1: N * C, rstd1: N, q: N * QD, k: N * KVD, v: N * KVD, att, attOut: N * QD, xMid: N * C,
    ln2: N * C, rstd2: N, gate: N * I, up: N * I, act: N * I, proj: N * C, xOut: N * C,
    lnf: N * C, rstdf: N, hLab: N * C, dhLab: N * C, losses: N,
    dResid: N * C, dLn: N * C, dAttOut: N * QD, dq: N * QD, dk: N * KVD, dv: N * KVD, dAtt: att,
    dAct: N * I, dGate: N * I, dUp: N * I, dxa: N * lora.r,
  };
  // Qwen3: q and k before their per-head norms, the norms' 1/rms per (token, head), their gradients
  if (cfg.qkNorm) Object.assign(sizes, { qRaw: N * QD, kRaw: N * KVD, rstdQ: N * cfg.numHeads, rstdK: N * cfg.numKvHeads, dqRaw: N * QD, dkRaw: N * KVD });
  for (const t of lora.targets) sizes[`xa.${t}`] = N * lora.r;
  return sizes;
}

/**
 * What backward reads of a layer's forward, kept per layer when recompute is off. The two norms'
 * outputs (ln1, ln2, with their 1/rms) and the SwiGLU product (act) are not kept: backward remakes
 * them from what is (the layer input, xMid, gate, up) with elementwise work only, no matmul,
 * which saves a third of this memory (Qwen2.5-0.5B at batch 4 x 64: 319 MiB instead of 475).
 */
export function savedActivationSizes(cfg: Qwen2Config, lora: LoraSettings, B: number, T: number): Record<string, number> {
  const all = activationSizes(cfg, lora, B, T);
  const keep = ['q', 'k', 'v', 'att', 'attOut', 'xMid', 'gate', 'up', ...lora.targets.map((t) => `xa.${t}`)];
  if (cfg.qkNorm) keep.push('qRaw', 'kRaw', 'rstdQ', 'rstdK');
  return Object.fromEntries(keep.map((k) => [k, all[k]]));
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0);

/** Bytes by buffer group for a (B, T) batch shape; savedActivations only when recompute is off. */
export function planParts(cfg: Qwen2Config, lora: LoraSettings, B: number, T: number, weightBytes: number, recompute = true): Record<string, number> {
  return {
    weights: weightBytes,
    // params, grads and the two Adam moments in f32, plus the gradient-norm scalar
    lora: loraLayout(cfg, lora).size * 4 * 4 + 4,
    activations: sum(activationSizes(cfg, lora, B, T)) * 4,
    residuals: (cfg.numLayers + 1) * B * T * cfg.hiddenSize * 4,
    ...(recompute ? {} : { savedActivations: cfg.numLayers * sum(savedActivationSizes(cfg, lora, B, T)) * 4 }),
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

/** Below this, the CPU keeps every layer's activations instead of recomputing them (a third fewer matmuls). */
const KEEP_ACTIVATIONS_BUDGET = 2 ** 30;

function chooseRecompute(kind: 'cpu' | 'webgpu', cfg: Qwen2Config, opts: LoadOptions): boolean {
  if (opts.recompute !== undefined) return opts.recompute;
  if (kind !== 'cpu') return true;
  return planParts(cfg, opts.lora, opts.maxBatch, opts.maxSeq, 0, false).savedActivations > KEEP_ACTIVATIONS_BUDGET;
}

export interface MemoryPlanParts {
  /** Bytes by purpose: weights, lora (params+grads+adam), activations, residuals[, savedActivations]. */
  parts: Record<string, number>;
  total: number;
  /** Whether backward recomputes each layer (gradient checkpointing). */
  recompute: boolean;
}

/**
 * The memory a load will take, by part (bytes), before anything is allocated: what the engine
 * checks against the device budget and what the page shows next to the settings.
 */
export function planMemory(kind: 'cpu' | 'webgpu', cfg: Qwen2Config, opts: LoadOptions, weightDType: WeightDType): MemoryPlanParts {
  const recompute = chooseRecompute(kind, cfg, opts);
  const parts = planParts(cfg, opts.lora, opts.maxBatch, opts.maxSeq, weightBytes(cfg, weightDType, opts.quant), recompute);
  return { parts, total: sum(parts), recompute };
}

/** What would fit instead: halve the max length, then the batch, until the smallest plan does. */
export function suggestFit(cfg: Qwen2Config, opts: LoadOptions, weights: number, budget: number): string {
  for (let B = opts.maxBatch; B >= 1; B = Math.floor(B / 2)) {
    for (let T = opts.maxSeq; T >= 16; T = Math.floor(T / 2)) {
      if (sum(planParts(cfg, opts.lora, B, T, weights)) <= budget) return `batch ${B} x max length ${T} would fit`;
    }
  }
  return 'even batch 1 x max length 16 does not fit: the weights alone need ' + (weights / 2 ** 20).toFixed(0) + ' MiB';
}
