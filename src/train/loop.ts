// A training run around the Trainer: resume from a matching checkpoint, evaluation and
// checkpoint cadence, throughput and ETA, pause/stop between optimizer steps, and every failure
// turned into an outcome. The worker session and the CLI `train` both run one of these, so a
// run behaves the same in the page and in a terminal.

import { CheckpointSpaceError, NonFiniteError, WebtuneError } from '../core/errors.ts';
import type { Engine, LoraSettings, TrainExample } from '../engine/engine.ts';
import type { Checkpoint, CheckpointInfo, StepRecord } from './checkpoint.ts';
import { identityFingerprint, runIdentity, shortFingerprint, type RunIdentity } from './fingerprint.ts';
import { explainNonFinite, loraNorm, UpdateWatch } from './health.ts';
import type { TrainSettings } from './recipe.ts';
import { evaluateLoss, exampleBatches, Trainer } from './trainer.ts';

export type TrainState = 'running' | 'paused' | 'stopped' | 'done' | 'error';

export interface TrainProgress {
  step: number; // optimizer steps completed
  totalSteps: number;
  epoch: number; // fractional: 1.5 = half way through the second epoch
  loss: number; // of the last step
  evalLoss?: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  etaSec: number;
  memoryBytes: number;
  state: TrainState;
  /** Set on the progress event that reports a checkpoint write. */
  checkpointedAt?: number;
  /** The step the run resumed from, when it did. */
  resumedFrom?: number;
  /** Set when a checkpoint could not be saved for want of space: what it needed. Training goes on. */
  checkpointFailed?: { step: number; bytes: number; message: string };
  message?: string;
}

export interface TrainOutcome {
  state: Exclude<TrainState, 'running' | 'paused'>;
  steps: number;
  totalSteps: number;
  /** Every step of this session (and, when resumed, of the sessions before it). */
  history: StepRecord[];
  finalLoss?: number;
  evalLoss?: number;
  resumedFrom?: number;
  /** Error message when state is 'error'. */
  error?: string;
  errorName?: string;
  /** The run's identity (runFingerprint) and id, which stored runs and checkpoints share. */
  fingerprint?: string;
  runId?: string;
  /** The last checkpoint could not be saved (no space): the adapter lives only in the engine until exported or saved. */
  checkpointFailed?: { step: number; bytes: number; message: string };
}

/** Where checkpoints go: IndexedDB in the worker (CheckpointStore); anything with these three in the CLI. */
export interface CheckpointSink {
  load(runId: string): Promise<Checkpoint | undefined>;
  save(c: Checkpoint): Promise<CheckpointInfo | void>;
  delete(runId: string): Promise<void>;
}

/** Pause, resume and stop from outside a run; they take effect between optimizer steps. */
export class RunControl {
  private state: 'running' | 'paused' | 'stopping' = 'running';
  private wake: (() => void) | null = null;

  get paused(): boolean {
    return this.state === 'paused';
  }

  get stopping(): boolean {
    return this.state === 'stopping';
  }

  pause(): void {
    if (this.state === 'running') this.state = 'paused';
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'running';
    this.wake?.();
  }

  stop(): void {
    this.state = 'stopping';
    this.wake?.();
  }

  /** Resolves once resumed or stopped. */
  waitWhilePaused(): Promise<void> {
    if (!this.paused) return Promise.resolve();
    return new Promise<void>((resolve) => (this.wake = resolve)).finally(() => (this.wake = null));
  }
}

export interface RunTrainingOptions {
  engine: Engine;
  train: readonly TrainExample[];
  eval: readonly TrainExample[];
  settings: TrainSettings;
  /** Id written into padding (masked out). */
  padId: number;
  /** The adapter's shape as loaded, with the run's own alpha and dropout (part of the run's identity; given to each step). */
  lora: LoraSettings;
  /** The base weights' identity: a cache source key, or a name + config. */
  modelKey: string;
  /** Names the run and its checkpoint; default the short fingerprint. */
  runId?: string;
  /** Continue a matching checkpoint (default); false deletes it and starts over. */
  resume?: boolean;
  /**
   * Start from this adapter (with a fresh optimizer) instead of a new init: `from` names where it
   * came from and joins the run's identity, so a from-scratch checkpoint is never resumed in its place.
   */
  start?: { from: string; tensors: Record<string, Float32Array> };
  /** Without one, nothing is saved and nothing resumes. */
  checkpoints?: CheckpointSink;
  /** Shown in progress events: what the loaded engine holds. */
  memoryBytes?: number;
  /** Stop (state 'stopped', checkpoint saved) after this many optimizer steps in all. */
  stopAfter?: number;
  control?: RunControl;
  onProgress?: (p: TrainProgress) => void;
  /** Errors the caller recovers from itself: returned as an outcome without an 'error' event. */
  recoverable?: (e: Error) => boolean;
  /** Rethrow a failure instead of returning it as an outcome (the CLI's exit code depends on its class). */
  throwErrors?: boolean;
}

/** Steps averaged for tokens/s and the ETA: recent enough to follow a change, long enough to be steady. */
const THROUGHPUT_WINDOW = 20;

/**
 * The run's identity, fingerprint and id: what a checkpoint must match to be continued. The
 * cadences change no step, so they are not part of it; where the adapter started is.
 */
export async function runIdentityOf(
  o: Pick<RunTrainingOptions, 'modelKey' | 'settings' | 'padId' | 'lora' | 'train' | 'start' | 'runId'>,
): Promise<{ identity: RunIdentity; fingerprint: string; runId: string }> {
  const { evalEvery: _e, checkpointEvery: _c, ...steps } = o.settings;
  const identity = await runIdentity({
    modelKey: o.modelKey,
    settings: { ...steps, padId: o.padId, continueFrom: o.start?.from },
    lora: o.lora,
    data: o.train,
  });
  const fingerprint = await identityFingerprint(identity);
  return { identity, fingerprint, runId: o.runId ?? shortFingerprint(fingerprint) };
}

export async function runTraining(o: RunTrainingOptions): Promise<TrainOutcome> {
  const { engine, settings } = o;
  const control = o.control ?? new RunControl();
  const { evalEvery, checkpointEvery } = settings;
  const { identity, fingerprint, runId } = await runIdentityOf(o);

  let ck: Checkpoint | undefined;
  if (o.resume !== false) {
    ck = await o.checkpoints?.load(runId).catch(() => undefined);
    if (ck && ck.meta.fingerprint !== fingerprint) ck = undefined;
  } else await o.checkpoints?.delete(runId);
  if (ck) {
    await engine.setLora(ck.lora, o.lora.alpha);
    await engine.setOptimizerState(ck.optimizer);
  } else if (o.start) await engine.setLora(o.start.tensors, o.lora.alpha);
  else await engine.initLora(settings.seed);

  const trainer = new Trainer(engine, exampleBatches(o.train, o.padId), settings, ck?.meta.position, {
    alpha: o.lora.alpha,
    dropout: o.lora.dropout,
  });
  // The adapter's norm now, to tell a run whose updates explode (health.ts) from one that learns.
  const watch = new UpdateWatch(loraNorm(await engine.getLora()), trainer.position().step, settings.lr);
  const snapshot = async () => {
    const lora = await engine.getLora();
    watch.check(lora, trainer.position().step);
    return lora;
  };
  const evalLoss = async () => (await evaluateLoss(engine, o.eval, settings.batchSize, o.padId)).loss;
  const history: StepRecord[] = ck ? [...ck.meta.history] : [];
  const resumedFrom = ck?.meta.position.step;
  const stopAt = Math.min(trainer.totalSteps, o.stopAfter ?? Infinity);
  const recent: { ms: number; tokens: number }[] = [];
  let last: TrainProgress = {
    step: trainer.position().step,
    totalSteps: trainer.totalSteps,
    epoch: trainer.position().step / trainer.stepsPerEpoch,
    loss: history.at(-1)?.loss ?? NaN,
    lr: 0,
    gradNorm: 0,
    tokensPerSec: 0,
    etaSec: 0,
    memoryBytes: o.memoryBytes ?? 0,
    state: 'running',
    resumedFrom,
  };
  const emit = (patch: Partial<TrainProgress>) => {
    last = { ...last, checkpointedAt: undefined, message: undefined, ...patch };
    o.onProgress?.(last);
  };
  // A checkpoint is only written after the adapter passed the watch: the last one saved is good.
  // One that does not fit (quota, full disk) is said, with its size, and the run goes on: the
  // adapter is in the engine, and the caller can export it now.
  let unsaved: TrainProgress['checkpointFailed'];
  const save = async (): Promise<number | undefined> => {
    if (!o.checkpoints) return undefined;
    const position = trainer.position();
    const lora = await snapshot();
    try {
      await o.checkpoints.save({
        meta: {
          runId,
          fingerprint,
          identity,
          modelKey: o.modelKey,
          position,
          totalSteps: trainer.totalSteps,
          lora: o.lora,
          history,
          savedAt: Date.now(),
        },
        lora,
        optimizer: await engine.getOptimizerState(),
      });
    } catch (e) {
      if (!(e instanceof CheckpointSpaceError)) throw e;
      unsaved = { step: position.step, bytes: e.bytes, message: e.message };
      o.onProgress?.({ ...last, checkpointFailed: unsaved, message: e.message });
      return undefined;
    }
    unsaved = undefined;
    return position.step;
  };

  emit({ state: 'running', message: ck ? `resumed from the checkpoint at step ${resumedFrom}` : undefined });
  let lastEval: number | undefined;
  try {
    while (trainer.position().step < stopAt) {
      // Let pause/stop messages queued during the step run before the next one starts.
      await yieldToEvents();
      if (control.paused) {
        emit({ state: 'paused', checkpointedAt: await save() });
        await control.waitWhilePaused();
        if (!control.stopping) emit({ state: 'running' });
      }
      if (control.stopping) break;
      const r = await trainer.step();
      recent.push({ ms: r.ms, tokens: r.inputTokens });
      if (recent.length > THROUGHPUT_WINDOW) recent.shift();
      const ms = recent.reduce((a, x) => a + x.ms, 0);
      const rec: StepRecord = { step: r.step, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr };
      if (evalEvery > 0 && o.eval.length && r.step % evalEvery === 0) rec.evalLoss = lastEval = await evalLoss();
      history.push(rec);
      const due = checkpointEvery > 0 && r.step % checkpointEvery === 0 && r.step < stopAt;
      // The first update of a session is looked at even between checkpoints: an absurd learning rate shows at once.
      if (!due && r.step === watch.startStep + 1) await snapshot();
      emit({
        step: r.step,
        totalSteps: r.totalSteps,
        epoch: r.epoch,
        loss: r.loss,
        lr: r.lr,
        gradNorm: r.gradNorm,
        evalLoss: rec.evalLoss ?? lastEval,
        tokensPerSec: (recent.reduce((a, x) => a + x.tokens, 0) * 1000) / ms,
        etaSec: ((stopAt - r.step) * ms) / recent.length / 1000,
        state: 'running',
        checkpointedAt: due ? await save() : undefined,
      });
    }
    const done = trainer.done;
    if (done && o.eval.length && history.at(-1)?.evalLoss === undefined) {
      lastEval = await evalLoss();
      if (history.length) history[history.length - 1].evalLoss = lastEval;
    }
    // Kept on stop too: the adapter so far survives a reload, and a later start continues it.
    const at = await save();
    if (!o.checkpoints) await snapshot();
    const state = done ? 'done' : 'stopped';
    emit({ state, evalLoss: lastEval, checkpointedAt: at });
    return {
      state,
      steps: trainer.position().step,
      totalSteps: trainer.totalSteps,
      history,
      finalLoss: history.at(-1)?.loss,
      evalLoss: lastEval,
      resumedFrom,
      fingerprint,
      runId,
      ...(unsaved ? { checkpointFailed: unsaved } : {}),
    };
  } catch (e) {
    // Said with the cause its timing supports: before any update of a fresh adapter, not the learning rate.
    const err =
      e instanceof NonFiniteError
        ? explainNonFinite(e, { updatesDone: trainer.position().step, lr: settings.lr, fromScratch: !ck && !o.start })
        : (e as Error);
    if (o.throwErrors) throw err;
    if (!o.recoverable?.(err)) emit({ state: 'error', message: err.message });
    return {
      state: 'error',
      steps: trainer.position().step,
      totalSteps: trainer.totalSteps,
      history,
      finalLoss: history.at(-1)?.loss,
      resumedFrom,
      error: err.message,
      errorName: err instanceof WebtuneError ? err.name : err.name || 'Error',
      fingerprint,
      runId,
    };
  }
}

function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
