// Starting runs for the page: a fresh one, Start resuming a saved or continued one, "Continue
// training" from the adapter in use, and the control of the error loop (evaluate/loop-control.ts).
// Each run is kept in Runs when it ends, and a continued run stays pending (saved with the page)
// until it finishes, so a reload resumes it as the same run.

import type { ControlPlan } from '../../train/control-run.ts';
import type { DataController } from '../data/datasets.ts';
import type { LoopControlContext } from '../evaluate/loop-control.ts';
import type { ResultsController } from '../evaluate/results.ts';
import type { RunsController } from '../evaluate/run-history.ts';
import type { TrainingController } from '../train/training.ts';
import type { AppState } from './state.ts';

/** What starting runs needs of the page: the store, its saving, and the screens' controllers. */
export interface LaunchContext {
  readonly state: AppState;
  patch(fn: (s: AppState) => Partial<AppState>): void;
  persist(): Promise<void>;
  readonly training: TrainingController;
  readonly runs: RunsController;
  readonly data: DataController;
  readonly results: ResultsController;
}

export class RunLauncher {
  constructor(private readonly c: LaunchContext) {}

  /**
   * A run, kept with its adapter once it ends; continueFrom starts it from the engine's adapter.
   * A continued run is remembered until it finishes, so after a reload Start resumes it as the
   * same run (same identity, same checkpoint) and it is kept with its parent (issue 22, point 2).
   */
  async train(fresh: boolean, continueFrom?: string, control?: ControlPlan): Promise<boolean> {
    // A run under way keeps its own identity: nothing here may relabel it (a control, a parent).
    if (['running', 'starting', 'paused', 'pausing'].includes(this.c.state.training.state)) return false;
    const pending = !fresh && continueFrom === undefined ? this.c.state.continuing : undefined;
    const from = continueFrom ?? pending?.from;
    const parent = continueFrom !== undefined ? this.c.state.runs.current : pending?.parent;
    const plan = continueFrom !== undefined ? control : pending?.control;
    this.c.patch(() => ({
      continuing: from !== undefined ? { from, parent, ...(plan ? { control: plan } : {}) } : undefined,
    }));
    await this.c.persist();
    const ended = await this.c.training.start(fresh, from);
    if (ended) await this.c.runs.record({ ...ended, parent });
    // A finished continued run is no longer pending; nor is a control that can no longer be one
    // (training.ts said why), so the next Start is a plain one.
    const stale = ['train.controlRows', 'train.controlSteps'].includes(this.c.state.training.error?.key ?? '');
    if ((ended?.outcome.state === 'done' && from !== undefined) || stale) {
      this.c.patch(() => ({ continuing: undefined }));
      await this.c.persist();
    }
    return ended?.outcome.state === 'done';
  }

  /** The steps "Continue training" with a control takes, in the order loop-control.ts runs them. */
  loopControl(): LoopControlContext {
    const c = this.c;
    return {
      get state() {
        return c.state;
      },
      patch: (fn) => this.c.patch(fn),
      splitRows: () => this.c.data.splitRows(),
      exampleSet: (rows) => this.c.data.exampleSet(rows),
      continueFrom: (from, control) => this.train(false, from, control),
      evaluate: async () => {
        await this.c.results.evaluate();
        // Only a report of the adapter in use, measured now, is filed (and lets the sequence go on).
        const ev = this.c.state.evaluation;
        if (ev.error || !ev.report || ev.busy || ev.storedAt !== undefined || ev.ofRun !== this.c.state.runs.current)
          return false;
        await this.c.runs.fileEvaluation();
        return true;
      },
      dropPendingControl: async () => {
        if (!this.c.state.continuing?.control) return;
        this.c.patch(() => ({ continuing: undefined }));
        await this.c.persist();
      },
      loadRun: (id) => this.c.runs.load(id),
      compareRuns: (ids) => this.c.patch((s) => ({ runs: { ...s.runs, selected: ids } })),
    };
  }
}
