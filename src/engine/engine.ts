// The one engine interface. CPU and WebGPU engines implement it (both are LoraEngine over a
// different Ops backend), so the worker session, the CLI and the tests cannot tell which they
// drive. All tensors cross it as plain typed arrays (structured-clone friendly).

import { moduleOf, type Qwen2Config, type LoraTarget } from '../core/config.ts';
import type { WeightDType } from '../core/dtype.ts';
import type { OptimizerSettings } from './ops.ts';
import type { Quantization } from '../core/nf4.ts';

import type { EngineKind } from './ops.ts';
export type { EngineKind } from './ops.ts';

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  targets: LoraTarget[];
  /** rsLoRA: scale = alpha / sqrt(r) instead of alpha / r. */
  rslora: boolean;
}

export function loraScale(s: LoraSettings): number {
  return s.rslora ? s.alpha / Math.sqrt(s.r) : s.alpha / s.r;
}

/** One micro-batch, right padded: (B, T) row-major. Labels are -100 on prompt and padding. */
export interface MicroBatch {
  B: number;
  T: number;
  inputIds: Int32Array; // (B,T)
  attentionMask: Int32Array; // (B,T) 1 real, 0 pad
  labels: Int32Array; // (B,T), unshifted: logits at t predict labels[t+1]
  /**
   * false: compute on the padded (B, T) layout. Otherwise the engine packs the rows' real tokens
   * end to end (engine/packing.ts) where that is exact: right-padded rows with some padding.
   */
  pack?: boolean;
}

/** One tokenized training row. */
export interface TrainExample {
  ids: Int32Array;
  labels: Int32Array; // -100 on the prompt
  truncated: number; // tokens cut by max length
}

export interface StepOptions extends OptimizerSettings {
  lr: number;
  /**
   * The run's LoRA alpha and dropout: per run, like lr, not fixed when the model loads. The
   * alpha stays in force after the step (generation and export use the adapter as trained).
   * Absent: what the engine was loaded with, or the last step or setLora set.
   */
  alpha?: number;
  dropout?: number;
  /** Seeds the LoRA dropout masks of this step (ignored when dropout is 0). */
  dropoutSeed: number;
}

export interface StepResult {
  /** Mean token loss over all micro-batches of the step (the objective, before the update). */
  loss: number;
  /** Global L2 norm of the accumulated gradient, before clipping. */
  gradNorm: number;
  /** Label tokens in the step. */
  tokens: number;
  /** Tokens processed (real, unpadded). */
  inputTokens: number;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topK: number; // 0 = off
  topP: number; // 1 = off
  stopTokens: number[];
  seed: number;
}

/**
 * Restricts which ids may come next while decoding (a grammar compiled above the engine, which
 * never sees what it encodes). It lives where the engine runs: across the worker boundary a
 * serializable description travels and the worker builds the constraint from it.
 */
export interface TokenConstraint {
  /** A cursor for one row (its index in the batch), at the start of its answer. */
  start(row?: number): TokenCursor;
}

export interface TokenCursor {
  /**
   * Ids allowed next, `left` tokens being left to generate including this one; null allows any
   * id. Never empty: a constraint that can end in time always offers some id.
   */
  allowed(left: number): Int32Array | null;
  /** Moves past the id that was chosen. */
  advance(id: number): void;
}

/** GenerateOptions plus what only the engine's own process can hold. */
export interface DecodeOptions extends GenerateOptions {
  constraint?: TokenConstraint;
}

export const GREEDY: GenerateOptions = {
  maxNewTokens: 128,
  temperature: 0,
  topK: 0,
  topP: 1,
  stopTokens: [151645, 151643],
  seed: 0,
};

export interface EngineInfo {
  kind: EngineKind;
  /** Adapter or CPU description shown to the user. */
  device: string;
  features: string[];
  /** Largest single buffer / binding the device allows (bytes); Infinity on CPU. */
  maxBufferSize: number;
  maxBindingSize: number;
  threads: number;
  /** Which kernel path runs, in words (WebGPU: f16 or f32 matmul tiles, subgroup reductions or not). */
  kernels?: string;
  /** What the device's self-check switched off, one sentence each (shown in the page and the CLI). */
  notices?: string[];
}

export interface MemoryPlan {
  /** Bytes by purpose: weights, lora (params+grads+adam), activations, scratch. */
  parts: Record<string, number>;
  total: number;
  /** Bytes actually allocated once loaded (GPU buffers or typed arrays). */
  allocated: number;
}

export interface LoadOptions {
  /** Largest micro-batch the engine must hold: batch size x max length. */
  maxBatch: number;
  maxSeq: number;
  lora: LoraSettings;
  /**
   * Gradient checkpointing. Default: on for WebGPU (GPU memory is the limit); on the CPU, off
   * while keeping every layer's activations costs under 1 GiB (a third fewer matmuls).
   */
  recompute?: boolean;
  /** 'nf4' quantizes the seven projections on load (QLoRA); default 'none'. */
  quant?: Quantization;
}

/** Base weights: names as in model.safetensors, raw arrays (16-bit kept as Uint16Array bits). */
export interface WeightReader {
  dtype: WeightDType;
  read(name: string): Promise<Float32Array | Uint16Array>;
  /**
   * The tensor into dst (its values: f32, or 16-bit bits), when the source can read it in slices:
   * the engine then loads a large tensor into its own memory without a whole transient copy.
   */
  readInto?(name: string, dst: Float32Array | Uint16Array): Promise<void>;
  /**
   * A projection already in NF4 blocks (src/core/nf4.ts), e.g. from the model cache; without
   * it, a load with quant 'nf4' quantizes what read() gives, one tensor at a time.
   */
  readNf4?(name: string): Promise<Uint32Array>;
}

export interface OptimizerState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export interface Engine {
  info(): Promise<EngineInfo>;
  /** Plans memory, refuses with OutOfMemoryError when it cannot fit, uploads weights. */
  load(config: Qwen2Config, weights: WeightReader, opts: LoadOptions): Promise<MemoryPlan>;
  /** PEFT init: A kaiming-uniform(a=sqrt 5), B zeros, from a seed. Resets the optimizer. */
  initLora(seed: number): Promise<void>;
  /**
   * PEFT tensor names (base_model.model.model.layers.N....lora_A.weight). Resets the optimizer.
   * alpha: the adapter's own (an imported one's lora_alpha); absent keeps the one in force.
   */
  setLora(tensors: Record<string, Float32Array>, alpha?: number): Promise<void>;
  getLora(): Promise<Record<string, Float32Array>>;
  getOptimizerState(): Promise<OptimizerState>;
  setOptimizerState(s: OptimizerState): Promise<void>;
  /** Loss of one micro-batch (mean over its label tokens), optionally the full logits (B,T,V). */
  forward(batch: MicroBatch, wantLogits: boolean): Promise<{ loss: number; tokens: number; logits?: Float32Array }>;
  /** Gradient of the mean loss of one batch, by PEFT name (no update). */
  gradients(batch: MicroBatch): Promise<{ loss: number; grads: Record<string, Float32Array> }>;
  /** One optimizer step over its micro-batches (gradient accumulation), clip, AdamW. */
  step(micros: MicroBatch[], opts: StepOptions): Promise<StepResult>;
  /** Generates with a KV cache; onToken is called for each new id (for streaming). */
  generate(
    prompt: Int32Array,
    opts: DecodeOptions,
    onToken?: (id: number) => void,
  ): Promise<{ tokens: Int32Array; margins: Float32Array }>;
  /**
   * Decodes several prompts together (left padded, pads masked; each row stops at its own stop
   * token). Row b's result equals generate(prompts[b]) up to float rounding.
   */
  generateBatch(
    prompts: Int32Array[],
    opts: DecodeOptions,
    onToken?: (row: number, id: number) => void,
  ): Promise<{ tokens: Int32Array; margins: Float32Array }[]>;
  /** W + scale * B @ A for one projection, e.g. "model.layers.0.self_attn.q_proj.weight". */
  merged(name: string): Promise<Float32Array>;
  /** W of one projection as the kernels use it: widened, or dequantized when loaded as NF4. */
  baseWeight(name: string): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export function peftName(layer: number, target: LoraTarget, ab: 'A' | 'B'): string {
  return `base_model.model.model.layers.${layer}.${moduleOf(target)}.${target}.lora_${ab}.weight`;
}
