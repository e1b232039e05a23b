// Training runs from the page's side: settings for the worker, the live curve from its progress
// events, the curve saved across reloads, and the offer to continue a saved run.

import { describeSkipped } from '../../data/examples.ts';
import { controlTextIssues, controlTokens } from '../../data/control-text.ts';
import { formatIssue } from '../../core/errors.ts';
import { stepCount, trainOf, type Recipe } from '../../train/recipe.ts';
import { controlProblem } from '../../train/control-run.ts';
import type { RunOptions, TrainOutcome, TrainProgress, TrainSettings } from '../../worker/api.ts';
import type { TrainExample } from '../../engine/engine.ts';

/** A run that ended with an adapter worth keeping. */
export interface EndedRun {
  outcome: TrainOutcome;
  train: TrainExample[];
  evalRows: number;
}
import type { TrainingContext } from '../app/context.ts';
import { uiError, type AppState } from '../app/state.ts';
import { loadLosses, saveLosses } from '../app/persist.ts';
import { runKeyOf } from './run-key.ts';
import { SpeedMeter, speedRatio } from './estimate.ts';

/** What a run is given: the training settings and, per run like lr, the LoRA alpha and dropout. */
export function runSettings(r: Recipe): TrainSettings & RunOptions {
  return { ...trainOf(r), alpha: r.alpha, dropout: r.dropout };
}

/** The settings of the run Start makes now: a control run (train/control-run.ts) takes its own epochs. */
export function runSettingsNow(s: Pick<AppState, 'train' | 'continuing'>): TrainSettings & RunOptions {
  const control = s.continuing?.control;
  return { ...runSettings(s.train), ...(control ? { epochs: control.epochs } : {}) };
}

/** A control run trains on the rows its parent was trained on: the head of today's examples. */
function controlRows<T>(s: Pick<AppState, 'continuing'>, examples: T[]): T[] {
  const control = s.continuing?.control;
  return control ? examples.slice(0, control.rows) : examples;
}

/** Above this many training rows the page does not tokenize the data just to look for a saved run. */
const MATCH_ROWS = 50_000;

export class TrainingController {
  private lossSaveTimer?: ReturnType<typeof setTimeout>;
  /** The running run's own speed, for the next estimate (estimate.ts). */
  private meter = new SpeedMeter();

  constructor(private readonly c: TrainingContext) {}

  /** Names the run for the saved loss curve: same model, data and settings, same curve. */
  private runKey(): string {
    return runKeyOf(this.c.state);
  }

  private findSeq = 0;

  /**
   * Offers the saved run that Start would continue: the one of this model, data and settings
   * (the worker matches the run's fingerprint), never merely the newest of the model. Looked up
   * again whenever the data or a setting changes, so the offer follows what Start would do.
   */
  async findCheckpoint(): Promise<void> {
    const seq = ++this.findSeq;
    const s = this.c.state;
    const idle = s.training.state === 'idle' || s.training.state === 'error';
    if (!idle) return;
    // The curve and step shown were the offered run's; with the offer they go.
    const clear = () =>
      this.c.patch((st) =>
        st.training.checkpoint
          ? { training: { ...st.training, checkpoint: undefined, progress: undefined, losses: [], evalLosses: [] } }
          : {},
      );
    // Settings the loaded engine cannot run make another run: nothing of the loaded one is offered.
    if (s.model.status !== 'ready' || !this.c.loadedMatches()) return clear();
    // Tokenizing a huge dataset for the offer alone is not worth it: Start still continues a matching
    // run. Decided on the split's sizes: the rows themselves are decoded only below that size.
    const size = this.c.state.splitCounts.train;
    if (size === 0 || size > MATCH_ROWS) return clear();
    const { train, eval: evalRows } = this.c.splitRows();
    if (train.length === 0 || train.length > MATCH_ROWS) return clear();
    try {
      const trainSet = await this.c.exampleSet(train);
      if (!trainSet.examples.length || seq !== this.findSeq) return;
      const examples = controlRows(this.c.state, trainSet.examples);
      await this.c.worker.setDataset(examples, (await this.c.exampleSet(evalRows)).examples);
      const continuing = this.c.state.continuing;
      const found = await this.c.worker.matchCheckpoint({
        ...runSettingsNow(this.c.state),
        resume: true,
        ...(continuing ? { continueFrom: continuing.from } : {}),
      });
      if (seq !== this.findSeq) return;
      const checkpoint = found && found.step < found.totalSteps ? found : undefined;
      if (!checkpoint) return clear();
      // the epoch the saved step is in, so "Step 87 of 636" does not sit beside "Epoch 0" (issue 22, point 8)
      const { stepsPerEpoch } = stepCount(examples.length, runSettingsNow(this.c.state));
      const saved = await loadLosses();
      const losses = saved?.runKey === this.runKey() ? saved : undefined;
      this.c.patch((st) => ({
        training: {
          ...st.training,
          checkpoint,
          runKey: this.runKey(),
          losses: losses?.losses.filter((p) => p.step <= checkpoint.step) ?? [],
          evalLosses: losses?.evalLosses.filter((p) => p.step <= checkpoint.step) ?? [],
          progress: {
            step: checkpoint.step,
            totalSteps: checkpoint.totalSteps,
            epoch: checkpoint.step / Math.max(1, stepsPerEpoch),
            loss: checkpoint.lastLoss ?? NaN,
            lr: 0,
            gradNorm: NaN,
            tokensPerSec: 0,
            etaSec: NaN,
            memoryBytes: 0,
            state: 'paused',
          },
        },
      }));
    } catch {
      // No checkpoint store or no usable data: training simply starts over.
    }
  }

  /**
   * continueFrom: start from the adapter the engine holds (named by the run it came from) on the
   * current, possibly grown, rows instead of a new init. Resolves with the run once it has ended
   * (done or stopped), for the page to keep.
   */
  async start(fresh: boolean, continueFrom?: string): Promise<EndedRun | undefined> {
    const s = this.c.state;
    if (['running', 'starting', 'paused', 'pausing'].includes(s.training.state) || Object.keys(s.trainErrors).length)
      return;
    await this.c.quiet();
    let ended: EndedRun | undefined;
    // The curve so far stays only for the run Start continues: same settings and data as now.
    const same = s.training.runKey === undefined || s.training.runKey === this.runKey();
    const keep =
      !fresh && !continueFrom && same && s.training.checkpoint
        ? { losses: s.training.losses, evalLosses: s.training.evalLosses }
        : { losses: [], evalLosses: [], progress: undefined };
    this.c.patch((st) => ({
      training: {
        ...st.training,
        state: 'starting',
        error: undefined,
        resumedFrom: undefined,
        runKey: this.runKey(),
        ...keep,
      },
    }));
    try {
      if (!this.c.loadedMatches() && !(await this.c.loadModel())) {
        this.c.patch((st) => ({
          training: {
            ...st.training,
            state: 'error',
            error: st.model.error ?? { where: 'train', key: 'train.needModel', detail: '' },
          },
        }));
        return;
      }
      const { train, eval: evalRows } = this.c.splitRows();
      if (train.length === 0) {
        this.c.patch((st) => ({
          training: { ...st.training, state: 'error', error: { where: 'train', key: 'train.needData', detail: '' } },
        }));
        return;
      }
      // A row spelling a control token would be read as that token: refused, with where, unless allowed.
      const tok = this.c.tokenizer;
      const control =
        tok && !this.c.state.allowControlText
          ? controlTextIssues(train, controlTokens(tok), 'the "allow control tokens" option', 5)
          : undefined;
      if (control?.count) {
        this.c.patch((st) => ({
          training: {
            ...st.training,
            state: 'error',
            error: { where: 'train', key: 'train.controlText', detail: control.issues.map(formatIssue).join('; ') },
          },
        }));
        return;
      }
      // Rows whose prompt fills the max length keep no answer token: they are left out and
      // counted, and a run with none left stops here instead of "finishing" at loss 0.
      const trainSet = await this.c.exampleSet(train);
      const skipped = trainSet.skipped.answerCutOff?.count ?? 0;
      const examples = controlRows(this.c.state, trainSet.examples);
      if (examples.length === 0) {
        const max = this.c.state.train.maxLength;
        this.c.patch((st) => ({
          training: {
            ...st.training,
            state: 'error',
            error: { where: 'train', key: 'train.noLabels', detail: describeSkipped(trainSet, max).join('; ') },
            skipped,
          },
        }));
        return;
      }
      // A pending control (a reload, a Resume) is checked, not trusted: its rows must still be
      // the head of today's and its epochs must still make the steps of the run it controls.
      const plan = this.c.state.continuing?.control;
      const stale = plan ? await controlProblem(plan, trainSet.examples, runSettingsNow(this.c.state)) : undefined;
      if (stale) {
        this.c.patch((st) => ({
          training: {
            ...st.training,
            state: 'error',
            error: { where: 'train', key: stale === 'rows' ? 'train.controlRows' : 'train.controlSteps', detail: '' },
          },
        }));
        return;
      }
      this.c.patch((st) => ({ training: { ...st.training, skipped } }));
      await this.c.worker.setDataset(examples, (await this.c.exampleSet(evalRows)).examples);
      if (fresh && s.training.checkpoint)
        await this.c.worker.deleteCheckpoint(s.training.checkpoint.runId).catch(() => undefined);
      // A load on the way (settings the engine could not run) reset the training state: the run is named again.
      this.c.patch((st) => ({
        training: { ...st.training, state: 'running', checkpoint: undefined, runKey: this.runKey() },
      }));
      const continued = continueFrom !== undefined ? { continueFrom } : {};
      // The estimate on show, to learn how far off it was: timed on this engine as loaded now (the
      // same micro-batch shape; a change of epochs alone is not re-timed before a quick Start).
      const shown = this.c.state.estimate;
      const summary = this.c.state.model.summary;
      const sameLoad =
        shown && JSON.stringify(JSON.parse(shown.key)[1]) === JSON.stringify(this.c.state.model.loadedWith);
      const estimated = shown && summary && shown.engine === summary.engine.kind && sameLoad ? shown : undefined;
      this.meter = new SpeedMeter();
      const outcome = await this.c.worker.startTraining(
        { ...runSettingsNow(this.c.state), resume: !fresh, ...continued },
        (p) => this.onProgress(p),
      );
      if (outcome.state !== 'error') ended = { outcome, train: examples, evalRows: evalRows.length };
      const ratio = speedRatio(this.meter.msPerStep(), estimated);
      if (ratio !== undefined && summary)
        this.c.patch(() => ({
          measuredSpeed: { model: summary.sourceKey || summary.name, engine: summary.engine.kind, ratio },
        }));
      this.c.patch((st) => ({
        training: {
          ...st.training,
          state: outcome.state,
          error:
            outcome.state === 'error'
              ? { where: 'train', key: 'train.failed', detail: outcome.error ?? '' }
              : undefined,
        },
      }));
    } catch (e) {
      this.c.patch((st) => ({
        training: { ...st.training, state: 'error', error: uiError('train', 'train.failed', e) },
      }));
    }
    this.saveLossesSoon(0);
    return ended;
  }

  private onProgress(p: TrainProgress): void {
    this.meter.record(p, performance.now());
    this.c.patch((s) => {
      const tr = s.training;
      let losses = tr.losses;
      let evalLosses = tr.evalLosses;
      if (p.resumedFrom !== undefined && tr.resumedFrom === undefined) {
        losses = losses.filter((x) => x.step <= p.resumedFrom!);
        evalLosses = evalLosses.filter((x) => x.step <= p.resumedFrom!);
      }
      // Progress also arrives for pauses and checkpoints; plot each step once.
      if (p.step > 0 && Number.isFinite(p.loss) && losses.at(-1)?.step !== p.step)
        losses = [...losses, { step: p.step, loss: p.loss }];
      if (p.evalLoss !== undefined && evalLosses.at(-1)?.step !== p.step)
        evalLosses = [...evalLosses, { step: p.step, loss: p.evalLoss }];
      return {
        training: {
          ...tr,
          // A pause asked for stays "pausing" until the worker says it holds.
          state: tr.state === 'pausing' && p.state === 'running' ? 'pausing' : p.state,
          progress: p,
          losses,
          evalLosses,
          resumedFrom: p.resumedFrom ?? tr.resumedFrom,
          checkpointSavedAt: p.checkpointedAt !== undefined ? p.step : tr.checkpointSavedAt,
          // A quota-full save is said (with its size) until a later one succeeds.
          checkpointFailed: p.checkpointFailed
            ? { step: p.checkpointFailed.step, bytes: p.checkpointFailed.bytes }
            : p.checkpointedAt !== undefined
              ? undefined
              : tr.checkpointFailed,
          trained: tr.trained || p.step > 0,
        },
      };
    });
    this.saveLossesSoon(1000);
  }

  /** Throttled, not debounced: progress arrives every step, and a reload mid-run must find a recent curve. */
  private saveLossesSoon(delayMs: number): void {
    if (this.lossSaveTimer !== undefined && delayMs > 0) return;
    clearTimeout(this.lossSaveTimer);
    this.lossSaveTimer = setTimeout(() => {
      this.lossSaveTimer = undefined;
      const t = this.c.state.training;
      void saveLosses({ runKey: this.runKey(), losses: t.losses, evalLosses: t.evalLosses });
    }, delayMs);
  }
}
