// Is the run still sane, and if not, why. A learning rate that is far too high does not always
// give a NaN: the RMS norms rescale whatever the LoRA path adds, so the loss can stay finite
// while the adapter's weights grow to 1e9. So the weights' norm is watched against where the
// run started; and a non-finite loss is explained by when it happened: before any update the
// learning rate cannot be the cause, so it is not blamed.

import { DivergedError, NonFiniteError } from '../core/errors.ts';

/** Growth of the LoRA weights' norm over the run that counts as exploding (legit runs stay within ~10x). */
export const EXPLODED_GROWTH = 100;

/** L2 norm over every tensor; NaN when any element is not finite. */
export function loraNorm(tensors: Record<string, Float32Array>): number {
  let sum = 0;
  for (const t of Object.values(tensors)) for (let i = 0; i < t.length; i++) sum += t[i] * t[i];
  return Math.sqrt(sum);
}

const fmt = (x: number) =>
  Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : String(+x.toPrecision(4));

export class UpdateWatch {
  constructor(
    /** Norm of the adapter when the run (or this session of it) started. */
    readonly startNorm: number,
    /** The optimizer steps done at that point. */
    readonly startStep: number,
    private readonly lr: number,
  ) {}

  /** Throws DivergedError when the adapter at `step` is not finite or has grown EXPLODED_GROWTH-fold. */
  check(tensors: Record<string, Float32Array>, step: number): void {
    const norm = loraNorm(tensors);
    if (!Number.isFinite(norm))
      throw new DivergedError(
        `the LoRA weights hold NaN or infinity at step ${step}: the updates diverged at learning rate ${fmt(this.lr)}; lower the learning rate`,
        step,
        'nonfinite-after-updates',
      );
    if (this.startNorm > 0 && norm > EXPLODED_GROWTH * this.startNorm)
      throw new DivergedError(
        `the updates explode: the LoRA weights' norm grew from ${fmt(this.startNorm)} to ${fmt(norm)} (${fmt(norm / this.startNorm)}-fold) ` +
          `between step ${this.startStep} and step ${step}; the learning rate ${fmt(this.lr)} is far too high for this model: lower it (the recipe uses 1e-4)`,
        step,
        'update-exploded',
      );
  }
}

/**
 * A NonFiniteError from a step, with the advice its timing supports: before any update of this
 * run (`updatesDone` 0, from a fresh adapter) the learning rate played no part.
 */
export function explainNonFinite(
  e: NonFiniteError,
  ctx: { updatesDone: number; lr: number; fromScratch: boolean },
): DivergedError {
  if (ctx.updatesDone === 0 && ctx.fromScratch)
    return new DivergedError(
      `the ${e.what} is not finite at step ${e.step}, before any update: the learning rate is not the cause; the model gives NaN or infinity on this data ` +
        `(its weights passed the load check, so look at the computation: an overflow in 16-bit weights or activations, or an extreme config value such as rms_norm_eps)`,
      e.step,
      'nonfinite-before-update',
    );
  return new DivergedError(
    `the ${e.what} became NaN or infinite at step ${e.step}, after ${ctx.updatesDone} update(s) at learning rate ${fmt(ctx.lr)}: the training diverged; ` +
      `lower the learning rate or clip gradients harder (max grad norm); that step was not applied`,
    e.step,
    'nonfinite-after-updates',
  );
}
