// Runs from the page's side: every finished or stopped training run is kept in IndexedDB with
// its adapter (src/train/runs.ts), evaluations are filed under the run whose adapter made
// them, and any run's adapter can be put back into the engine, exported or deleted. Two runs
// can be picked to compare their loss curves and their reports per intent.

import type { DatasetRow } from '../../data/dataset.ts';
import { evalSetFingerprint } from '../../data/sibling.ts';
import type { TrainExample } from '../../engine/engine.ts';
import type { EvalReport } from '../../eval/metrics.ts';
import { idbStore, memoryStore } from '../../io/store.ts';
import { dataFingerprint } from '../../train/fingerprint.ts';
import { defaultRecipe, loraOf, stepCount, type Recipe } from '../../train/recipe.ts';
import { RUNS_DB, RUNS_STORE, RunStore, newRunId, type RunRecord } from '../../train/runs.ts';
import type { TrainingWorker } from '../../worker/client.ts';
import type { TrainOutcome } from '../../worker/api.ts';
import { uiError, type AppState, type RunsState, type RunView } from '../app/state.ts';
import { saveBlob, zipFiles } from '../shared/save-files.ts';
import type { LoopAction } from '../app/actions.ts';
import { defaultRunName } from './run-name.ts';

/** What the runs need of the page: the store, the worker, and a model loaded for an adapter's shape. */
export interface RunsContext {
  readonly state: AppState;
  patch(fn: (s: AppState) => Partial<AppState>): void;
  readonly worker: Pick<TrainingWorker, 'getAdapter' | 'setAdapter' | 'exportFiles'>;
  /** Loads the model again when the engine was built for another LoRA shape. */
  ensureLora(lora: RunView['lora']): Promise<boolean>;
  /** The evaluation rows now, to show a stored report's inputs when it was measured on them. */
  splitRows(): { eval: DatasetRow[] };
}

export interface FinishedRun {
  outcome: TrainOutcome;
  train: TrainExample[];
  evalRows: number;
  parent?: string;
}

/** Reports already filed, so one evaluation is kept once. */
const filed = new WeakSet<EvalReport>();

export class RunsController {
  private readonly runs: RunStore<EvalReport>;
  /** Adapters of runs the browser would not store (quota): kept for this page's life. */
  private readonly unsaved = new Map<string, Record<string, Float32Array>>();

  constructor(
    private readonly c: RunsContext,
    store = typeof indexedDB === 'undefined' ? memoryStore() : idbStore(RUNS_DB, RUNS_STORE),
  ) {
    this.runs = new RunStore<EvalReport>(store);
  }

  async handle(a: Extract<LoopAction, { type: 'selectRun' | 'loadRun' | 'exportRun' | 'deleteRun' }>): Promise<void> {
    if (a.type === 'selectRun') return this.select(a.id);
    if (a.type === 'loadRun') return void (await this.load(a.id));
    if (a.type === 'exportRun') return this.export(a.id);
    return this.delete(a.id);
  }

  private set(patch: Partial<RunsState>): void {
    this.c.patch((s) => ({ runs: { ...s.runs, ...patch } }));
  }

  async refresh(): Promise<void> {
    try {
      await this.runs.sweep();
      const list = await this.runs.list();
      const ids = new Set(list.map((r) => r.id));
      this.c.patch((s) => ({
        runs: {
          ...s.runs,
          list,
          selected: s.runs.selected.filter((id) => ids.has(id)),
          current: s.runs.current && ids.has(s.runs.current) ? s.runs.current : undefined,
        },
      }));
    } catch {
      // No IndexedDB: runs live as long as the page.
    }
  }

  /** The engine's adapter came from elsewhere (a fresh load, an imported folder). */
  forget(): void {
    this.set({ current: undefined });
  }

  /** Keeps a run that ended (done or stopped) with the adapter the engine holds now. */
  async record(f: FinishedRun): Promise<void> {
    const s = this.c.state;
    const summary = s.model.summary;
    if (!summary || f.outcome.state === 'error' || !f.outcome.fingerprint) return;
    try {
      const now = Date.now();
      const control = s.continuing?.control;
      const adapter = (await this.c.worker.getAdapter()).tensors;
      const rec: Omit<RunRecord<EvalReport>, 'adapterBytes'> = {
        id: newRunId(f.outcome.fingerprint, now),
        name: defaultRunName(s.runs.list.length + 1),
        createdAt: now,
        fingerprint: f.outcome.fingerprint,
        dataFingerprint: await dataFingerprint(f.train),
        modelKey: summary.sourceKey || summary.name,
        modelName: summary.name,
        // A control run's own epochs: its steps are counted from them and its rows.
        settings: control ? { ...s.train, epochs: control.epochs } : s.train,
        lora: loraOf(s.train),
        ...(f.parent ? { parent: f.parent } : {}),
        ...(control ? { control: true } : {}),
        trainRows: f.train.length,
        evalRows: f.evalRows,
        state: f.outcome.state,
        history: f.outcome.history.map((h) => ({
          step: h.step,
          loss: h.loss,
          ...(h.evalLoss !== undefined ? { evalLoss: h.evalLoss } : {}),
        })),
        evals: [],
      };
      let saved: RunView;
      try {
        saved = await this.runs.save(rec, adapter);
      } catch (e) {
        // A finished run always reaches Runs: kept in this page (adapter in memory) when it cannot be stored.
        this.unsaved.set(rec.id, adapter);
        saved = { ...rec, adapterBytes: 0, unsaved: true };
        this.c.patch((st) => ({
          runs: {
            ...st.runs,
            list: [saved, ...st.runs.list],
            current: saved.id,
            error: uiError('eval', 'runs.unsaved', e),
          },
        }));
        return;
      }
      this.c.patch((st) => ({
        runs: { ...st.runs, list: [saved, ...st.runs.list], current: saved.id, error: undefined },
      }));
    } catch (e) {
      this.set({ error: uiError('eval', 'runs.failed', e) });
    }
  }

  /** Files the page's latest evaluation (free, and constrained when there is one) under the current run. */
  async fileEvaluation(): Promise<void> {
    const { report, constrained, evalSet, storedAt, ofRun } = this.c.state.evaluation;
    // A stored report (a loaded run's) or one of another adapter is never filed again, under this run.
    if (storedAt !== undefined || ofRun !== this.c.state.runs.current) return;
    for (const [decoding, r] of [
      ['free', report],
      ['constrained', constrained],
    ] as const) {
      if (!r || filed.has(r)) continue;
      filed.add(r);
      await this.addEval(decoding, r, evalSet);
    }
  }

  /** Files an evaluation under the run whose adapter made it. */
  async addEval(decoding: 'free' | 'constrained', report: EvalReport, evalSet?: string): Promise<void> {
    const id = this.c.state.runs.current;
    if (!id) return;
    try {
      const rec = await this.runs.addEval(id, { decoding, at: Date.now(), report, ...(evalSet ? { evalSet } : {}) });
      this.c.patch((s) => ({ runs: { ...s.runs, list: s.runs.list.map((r) => (r.id === id ? rec : r)) } }));
    } catch (e) {
      this.set({ error: uiError('eval', 'runs.failed', e) });
    }
  }

  select(id: string): void {
    const sel = this.c.state.runs.selected;
    this.set({ selected: sel.includes(id) ? sel.filter((x) => x !== id) : [...sel, id].slice(-2) });
  }

  /** Puts a run's adapter into the engine: later evaluations and continued training start from it. */
  async load(id: string): Promise<boolean> {
    const rec = this.c.state.runs.list.find((r) => r.id === id);
    if (!rec) return false;
    this.set({ busy: true, error: undefined });
    try {
      if (!(await this.c.ensureLora(rec.lora)))
        throw new Error(this.c.state.model.error?.detail || 'the model is not loaded');
      await this.c.worker.setAdapter(this.unsaved.get(id) ?? (await this.runs.adapter(id)), rec.lora.alpha);
      // A trained adapter is in the engine again: Evaluate, Playground and Export use it (issue 14,
      // point 2), and the Train step shows that run, not "Not started" (issue 22, point 1).
      // The Evaluate step shows what was measured of this adapter (issue 22, point 9), not the
      // previous adapter's report.
      const evaluation = storedEvaluation(rec, this.c.splitRows().eval);
      this.c.patch((s) => ({
        runs: { ...s.runs, busy: false, current: id },
        training: trainingOfRun(rec, s.training),
        evaluation: { ...evaluation, error: undefined },
      }));
      return true;
    } catch (e) {
      this.set({ busy: false, error: uiError('eval', 'runs.failed', e) });
      return false;
    }
  }

  async export(id: string): Promise<void> {
    const rec = this.c.state.runs.list.find((r) => r.id === id);
    if (!rec || !(await this.load(id))) return;
    try {
      const files = await this.c.worker.exportFiles('adapter');
      const folder = `${rec.name.replace(/\s+/g, '-')}-lora-adapter`;
      saveBlob(await zipFiles(files, folder), `${folder}.zip`);
    } catch (e) {
      this.set({ error: uiError('eval', 'runs.failed', e) });
    }
  }

  async delete(id: string): Promise<void> {
    await this.runs.delete(id);
    this.c.patch((s) => ({
      runs: {
        ...s.runs,
        list: s.runs.list.filter((r) => r.id !== id),
        selected: s.runs.selected.filter((x) => x !== id),
        current: s.runs.current === id ? undefined : s.runs.current,
      },
    }));
  }
}

/**
 * What the Train step shows for a kept run whose adapter is in use: its state, curve and last
 * step (of the steps its own settings and rows planned). A run in progress is left as it is.
 */
export function trainingOfRun(rec: RunView, tr: AppState['training']): AppState['training'] {
  if (['running', 'starting', 'paused', 'pausing'].includes(tr.state)) return { ...tr, trained: true };
  const last = rec.history.at(-1);
  const settings = { ...defaultRecipe(), ...(rec.settings as Partial<Recipe>) };
  const { totalSteps, stepsPerEpoch } = stepCount(rec.trainRows, settings);
  return {
    state: rec.state === 'error' ? 'stopped' : rec.state,
    trained: true,
    losses: rec.history.map((h) => ({ step: h.step, loss: h.loss })),
    evalLosses: rec.history.filter((h) => h.evalLoss !== undefined).map((h) => ({ step: h.step, loss: h.evalLoss! })),
    progress: last
      ? {
          step: last.step,
          totalSteps,
          epoch: last.step / Math.max(1, stepsPerEpoch),
          loss: last.loss,
          lr: 0,
          gradNorm: NaN,
          tokensPerSec: 0,
          etaSec: NaN,
          memoryBytes: 0,
          state: rec.state === 'done' ? 'done' : 'stopped',
        }
      : undefined,
  };
}

/** A run's latest report of one decoding. */
export function latestReport(r: RunView, decoding: 'free' | 'constrained'): EvalReport | undefined {
  return r.evals.filter((e) => e.decoding === decoding).at(-1)?.report;
}

/**
 * The Evaluate step's state for a loaded run: its latest stored reports, said to be stored, with
 * the inputs of the rows when the report was measured on the evaluation rows the page has now
 * (a report keeps answers, not inputs). A run never evaluated shows nothing, not another's report.
 */
export function storedEvaluation(r: RunView, evalRows: readonly DatasetRow[]): AppState['evaluation'] {
  const free = r.evals.filter((e) => e.decoding === 'free').at(-1);
  const constrained = latestReport(r, 'constrained');
  const base = { busy: false, done: 0, total: 0, inputs: [] as string[], added: [] as string[], ofRun: r.id };
  if (!free) return base;
  const same = free.evalSet !== undefined && free.evalSet === evalSetFingerprint(evalRows);
  return {
    ...base,
    report: free.report,
    constrained,
    evalSet: free.evalSet,
    inputs: same ? evalRows.map((x) => x.user) : [],
    storedAt: free.at,
  };
}
