// How long a run will take, said before Start: one micro-batch of the user's own rows, timed on
// the loaded engine (forward and backward, no update), times the run's micro-batches. Measured
// again when the model, engine, data or settings change, only while the Train step is open and
// nothing else uses the engine; whoever needs the engine next waits for the timing to end.

import { stepCount } from '../../train/recipe.ts';
import type { PageContext } from '../app/context.ts';
import { runKeyOf } from './run-key.ts';
import type { AppState, MeasuredSpeed, StepEstimate } from '../app/state.ts';

const BUSY = ['running', 'paused', 'pausing', 'starting'];

/** `n` rows spread evenly over `rows` (the same ones for the same data). */
export function spread<T>(rows: readonly T[], n: number): T[] {
  const k = Math.min(n, rows.length);
  return Array.from({ length: k }, (_, i) => rows[Math.floor(((i + 0.5) * rows.length) / k)]);
}

export class EstimateController {
  private timer?: ReturnType<typeof setTimeout>;
  private pending: Promise<void> = Promise.resolve();
  private asked?: string;

  constructor(private readonly c: PageContext) {}

  /** What the estimate depends on; undefined when none should be made now. */
  private keyOf(s: AppState): string | undefined {
    const w = s.model.loadedWith;
    if (s.screen !== 'train' || s.model.status !== 'ready' || !w || !s.dataset || !this.c.tokenizer) return undefined;
    if (BUSY.includes(s.training.state) || s.evaluation.busy || Object.keys(s.trainErrors).length) return undefined;
    return JSON.stringify([runKeyOf(s), w, s.splitCounts.train]);
  }

  /** Called on every state change: schedules a timing when what it depends on changed. */
  onState(): void {
    const key = this.keyOf(this.c.state);
    if (key === undefined || key === this.asked) return;
    this.asked = key;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.pending = this.pending.then(() => this.measure(key));
    }, 250);
  }

  /** Resolves once no timing is running in the worker (the engine is free). */
  quiet(): Promise<void> {
    clearTimeout(this.timer);
    return this.pending;
  }

  private async measure(key: string): Promise<void> {
    const s = this.c.state;
    if (this.keyOf(s) !== key) {
      this.asked = undefined;
      return;
    }
    const w = s.model.loadedWith!;
    const batch = Math.min(s.train.batchSize, w.batch);
    // Only the batch's rows are decoded from the store: a million rows decoded was a 3-8 s task.
    const train = this.c.trainSpread(batch);
    if (!train.count) return;
    const set = await this.c.exampleSet(train.rows);
    if (!set.examples.length) return;
    const { microPerEpoch, totalSteps } = stepCount(train.count, s.train);
    const base = {
      key,
      engine: s.model.summary!.engine.kind,
      batch: set.examples.length,
      tokens: set.examples.reduce((m, e) => Math.max(m, e.ids.length), 0),
      steps: totalSteps,
      micros: Math.ceil(microPerEpoch * s.train.epochs),
      evalMicros: evalMicros(totalSteps, s.train.evalEvery, s.splitCounts.eval, batch),
    };
    this.c.patch(() => ({ estimate: { ...base, status: 'measuring' } }));
    try {
      const microMs = await this.c.worker.measureStep(set.examples);
      this.c.patch((st) => (st.estimate?.key === key ? { estimate: { ...base, status: 'done', microMs } } : {}));
    } catch {
      // No estimate is better than a wrong one; the run itself still reports its ETA.
      this.c.patch((st) => (st.estimate?.key === key ? { estimate: { ...base, status: 'error' } } : {}));
    }
  }
}

/**
 * A run's own speed in ms per optimizer step, from its progress events: the time between one
 * step's event and the next running one, so the start (loading, tokenizing, the first step's
 * shader or JIT warm-up) and pauses are left out; evaluations and checkpoints inside the run are in.
 */
export class SpeedMeter {
  /** The last running step seen; `fresh` while it is the first after a start or resume. */
  private last?: { step: number; at: number; fresh: boolean };
  private ms = 0;
  private steps = 0;

  record(p: { step: number; state: string }, at: number): void {
    if (p.state !== 'running') {
      this.last = undefined;
      return;
    }
    if (!this.last) {
      this.last = { step: p.step, at, fresh: true };
      return;
    }
    if (p.step <= this.last.step) return; // a checkpoint or evaluation event at the same step
    // the step right after a (re)start carries the warm-up: left out
    if (!this.last.fresh) {
      this.ms += at - this.last.at;
      this.steps += p.step - this.last.step;
    }
    this.last = { step: p.step, at, fresh: false };
  }

  /** Undefined until two steps were timed (one is mostly noise). */
  msPerStep(): number | undefined {
    return this.steps >= 2 ? this.ms / this.steps : undefined;
  }
}

/**
 * The run's own speed against the timed micro-batch that estimated it: the factor by which the
 * timing was off (padding, the optimizer update and evaluations are not in one micro-batch;
 * warm-up is). Undefined when the run was not estimated or too short to say.
 */
export function speedRatio(msPerStep: number | undefined, e: StepEstimate | undefined): number | undefined {
  if (msPerStep === undefined || !e || e.status !== 'done' || !e.microMs || !e.steps || !e.micros) return undefined;
  const ratio = msPerStep / (timedMs(e) / e.steps);
  // Runs on a busy machine measured 40x the timed micro-batch (evaluations and checkpoints every
  // few steps are in the run): only a factor past 100x either way is taken for a disturbed run.
  return ratio > 0.01 && ratio < 100 ? ratio : undefined;
}

/**
 * Forward-only micro-batches of the run's evaluations: one pass over the evaluation rows every
 * `evalEvery` steps and one at the end (train/loop.ts), in micro-batches of the run's batch.
 */
export function evalMicros(steps: number, evalEvery: number, evalRows: number, batch: number): number {
  if (evalEvery <= 0 || evalRows <= 0 || batch <= 0) return 0;
  const passes = Math.floor(steps / evalEvery) + (steps % evalEvery ? 1 : 0);
  return passes * Math.ceil(evalRows / batch);
}

/** A forward pass is about a third of forward and backward (the backward pass does twice the matmuls). */
const FORWARD_SHARE = 1 / 3;

/** The run's milliseconds as timed: its training micro-batches and its evaluations' forward passes. */
function timedMs(e: StepEstimate): number {
  return (e.microMs ?? NaN) * (e.micros + (e.evalMicros ?? 0) * FORWARD_SHARE);
}

/** Seconds the estimate says, corrected by the last run measured on the same model and engine. */
export function estimatedSeconds(
  e: StepEstimate,
  model: string | undefined,
  speed: MeasuredSpeed | undefined,
): { seconds: number; corrected: boolean } {
  const timed = timedMs(e) / 1000;
  if (!speed || speed.engine !== e.engine || speed.model !== model) return { seconds: timed, corrected: false };
  return { seconds: timed * speed.ratio, corrected: true };
}
