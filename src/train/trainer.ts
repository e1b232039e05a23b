// The optimizer steps of a run with the HF Trainer's semantics: a seeded shuffle per epoch, micro-batches
// padded to their longest row, gradient accumulation where one optimizer step minimizes the mean
// token loss over all its micro-batches, a partial last group at the end of an epoch, warmup
// then linear (or cosine/constant) decay, clipping and AdamW inside Engine.step.
// The whole position is three counters, so a checkpoint resumes to the identical next loss.
// loop.ts runs these steps with checkpoints, evaluation, progress and pause.

import { EngineError } from '../core/errors.ts';
import { hash32 } from '../engine/ops.ts';
import type { Engine, MicroBatch, TrainExample } from '../engine/engine.ts';
import { stepCount, type TrainSettings } from './recipe.ts';

/** Where the run stands; with the LoRA weights and optimizer state it is a full checkpoint. */
export interface TrainerPosition {
  /** Optimizer steps done. */
  step: number;
  /** Epoch of the next micro-batch, and its index in that epoch's order. */
  epoch: number;
  microInEpoch: number;
}

export interface StepReport {
  step: number; // 1-based, after this step
  totalSteps: number;
  epoch: number; // fractional progress in epochs
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number; // label tokens
  inputTokens: number;
  ms: number;
}

/** Fisher-Yates with a counter hash, so the order of epoch e depends only on (seed, e). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const key = hash32(seed, epoch);
  for (let i = n - 1; i > 0; i--) {
    const j = hash32(key, i) % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** HF's schedules: lr_lambda(step) for step = 0, 1, ... (the value used by that step). */
export function lrAt(step: number, total: number, s: Pick<TrainSettings, 'lr' | 'schedule' | 'warmupSteps'>): number {
  if (step < s.warmupSteps) return (s.lr * step) / Math.max(1, s.warmupSteps);
  const progress = (step - s.warmupSteps) / Math.max(1, total - s.warmupSteps);
  if (s.schedule === 'constant') return s.lr;
  if (s.schedule === 'cosine') return s.lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
  return s.lr * Math.max(0, 1 - progress);
}

/** Right-pads rows to the longest one; labels -100 and mask 0 on padding. */
export function makeMicroBatch(rows: readonly TrainExample[], padId: number): MicroBatch {
  const B = rows.length;
  const T = rows.reduce((m, r) => Math.max(m, r.ids.length), 0);
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  rows.forEach((r, b) => {
    inputIds.set(r.ids, b * T);
    attentionMask.fill(1, b * T, b * T + r.ids.length);
    labels.set(r.labels, b * T);
  });
  return { B, T, inputIds, attentionMask, labels };
}

/** Where each optimizer step's micro-batches come from. */
export interface BatchSource {
  /** Rows in one epoch. */
  readonly rows: number;
  /** Micro-batch `index` of `epoch`: rows index*batchSize.. of that epoch's order. */
  micro(epoch: number, index: number, s: Pick<TrainSettings, 'batchSize' | 'seed'>): MicroBatch;
}

/** Tokenized examples in a seeded order per epoch, each micro-batch padded to its longest row. */
export function exampleBatches(data: readonly TrainExample[], padId: number): BatchSource {
  // Without one label token every step is 0/0: refuse rather than "train" to a loss of 0.
  if (data.length && !data.some((ex) => ex.labels.some((l, t) => t > 0 && l !== -100)))
    throw new EngineError(
      'no training example has an answer token to learn: every answer was cut away by the max length',
    );
  let cached: { epoch: number; seed: number; order: number[] } | undefined;
  return {
    rows: data.length,
    micro(epoch, index, s) {
      if (cached?.epoch !== epoch || cached.seed !== s.seed)
        cached = { epoch, seed: s.seed, order: epochOrder(data.length, s.seed, epoch) };
      return makeMicroBatch(
        cached.order.slice(index * s.batchSize, (index + 1) * s.batchSize).map((i) => data[i]),
        padId,
      );
    },
  };
}

/** The same micro-batches, in order, every epoch (the golden cases give them ready-made). */
export function fixedBatches(micros: readonly MicroBatch[]): BatchSource {
  return { rows: micros.reduce((n, m) => n + m.B, 0), micro: (_epoch, index) => micros[index] };
}

export class Trainer {
  readonly microPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private pos: TrainerPosition;

  constructor(
    private readonly engine: Engine,
    private readonly batches: BatchSource,
    readonly settings: TrainSettings,
    resume?: TrainerPosition,
    /** The run's LoRA alpha and dropout, given to every step (they are per run, not per load). */
    private readonly adapter?: { alpha: number; dropout: number },
  ) {
    if (!batches.rows) throw new EngineError('no training examples');
    if (settings.batchSize < 1 || settings.gradAccum < 1 || settings.epochs <= 0)
      throw new EngineError('batch size, accumulation and epochs must be positive');
    ({
      microPerEpoch: this.microPerEpoch,
      stepsPerEpoch: this.stepsPerEpoch,
      totalSteps: this.totalSteps,
    } = stepCount(batches.rows, settings));
    this.pos = resume ? { ...resume } : { step: 0, epoch: 0, microInEpoch: 0 };
  }

  position(): TrainerPosition {
    return { ...this.pos };
  }

  get done(): boolean {
    return this.pos.step >= this.totalSteps;
  }

  /** The micro-batches of the next optimizer step, and where the run stands after them. */
  private nextGroup(): { micros: MicroBatch[]; after: TrainerPosition } {
    let { epoch, microInEpoch } = this.pos;
    const micros: MicroBatch[] = [];
    while (micros.length < this.settings.gradAccum && microInEpoch < this.microPerEpoch)
      micros.push(this.batches.micro(epoch, microInEpoch++, this.settings));
    if (microInEpoch >= this.microPerEpoch) {
      epoch++;
      microInEpoch = 0;
    }
    return { micros, after: { step: this.pos.step + 1, epoch, microInEpoch } };
  }

  async step(): Promise<StepReport> {
    if (this.done) throw new EngineError('training is finished');
    const t0 = performance.now();
    const { micros, after } = this.nextGroup();
    const s = this.settings;
    const lr = lrAt(this.pos.step, this.totalSteps, s);
    const r = await this.engine.step(micros, {
      beta1: s.beta1,
      beta2: s.beta2,
      eps: s.eps,
      weightDecay: s.weightDecay,
      maxGradNorm: s.maxGradNorm,
      lr,
      dropoutSeed: hash32(s.seed ^ 0x5eed, this.pos.step),
      ...(this.adapter ? { alpha: this.adapter.alpha, dropout: this.adapter.dropout } : {}),
    });
    this.pos = after;
    return {
      step: after.step,
      totalSteps: this.totalSteps,
      epoch: after.step / this.stepsPerEpoch,
      loss: r.loss,
      lr,
      gradNorm: r.gradNorm,
      tokens: r.tokens,
      inputTokens: r.inputTokens,
      ms: performance.now() - t0,
    };
  }
}

/** Mean token loss over examples (no dropout, no update), in micro-batches of batchSize. */
export async function evaluateLoss(
  engine: Engine,
  data: readonly TrainExample[],
  batchSize: number,
  padId: number,
): Promise<{ loss: number; tokens: number }> {
  let sum = 0,
    tokens = 0;
  for (let i = 0; i < data.length; i += batchSize) {
    const r = await engine.forward(makeMicroBatch(data.slice(i, i + batchSize), padId), false);
    if (r.tokens > 0) {
      sum += r.loss * r.tokens;
      tokens += r.tokens;
    }
  }
  return { loss: tokens ? sum / tokens : NaN, tokens };
}
