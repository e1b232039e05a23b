// "Continue training" with a control (issue 21, point 5): after the error loop added rows, the
// page continues the adapter in use twice from the same start, once on today's rows and once,
// the control, on the rows that adapter was trained on alone for the same optimizer steps
// (train/control-run.ts). Both are evaluated on the same evaluation rows and picked for the
// comparison, so the gain shown is the added rows' and not merely that of more training.
// The run with the added rows stays in use at the end.

import type { DatasetRow } from '../../data/dataset.ts';
import type { ExampleSet } from '../../data/examples.ts';
import { controlPlan, type ControlPlan } from '../../train/control-run.ts';
import type { AppState } from '../app/state.ts';
import type { MessageKey } from '../shared/i18n.ts';
import { runSettings } from '../train/training.ts';

/** What the sequence needs of the page: the store, the rows, and its train/evaluate/load steps. */
export interface LoopControlContext {
  readonly state: AppState;
  patch(fn: (s: AppState) => Partial<AppState>): void;
  splitRows(): { train: DatasetRow[]; eval: DatasetRow[] };
  exampleSet(rows: DatasetRow[]): Promise<ExampleSet>;
  /** Continues the adapter in use (kept run `from`); resolves true when the run finished. */
  continueFrom(from: string, control?: ControlPlan): Promise<boolean>;
  /** Evaluates the adapter in use and files the report under its run; false when no report of it was made. */
  evaluate(): Promise<boolean>;
  loadRun(id: string): Promise<boolean>;
  /** Picks exactly these runs for the comparison. */
  compareRuns(ids: string[]): void;
  /** Forgets a control that was stopped or failed, so the next Start is a plain run. */
  dropPendingControl(): Promise<void>;
}

const REFUSED: Record<'nothing-added' | 'rows-changed', MessageKey> = {
  'nothing-added': 'eval.control.nothingAdded',
  'rows-changed': 'eval.control.rowsChanged',
};

export async function continueWithControl(c: LoopControlContext): Promise<void> {
  if (c.state.controlPhase) return;
  const refuse = (key: MessageKey) =>
    c.patch((s) => ({ evaluation: { ...s.evaluation, error: { where: 'eval', key, detail: '' } } }));
  const phase = (controlPhase: AppState['controlPhase']) => c.patch(() => ({ controlPhase }));
  // Said at once: planning tokenizes the rows, and the buttons are off while the sequence runs.
  phase('treatment');
  let completed = false;
  try {
    const parentId = c.state.runs.current;
    const parent = parentId ? c.state.runs.list.find((r) => r.id === parentId) : undefined;
    if (!parentId || !parent) return refuse('eval.control.noRun');
    const plan = await controlPlan(
      parent,
      (await c.exampleSet(c.splitRows().train)).examples,
      runSettings(c.state.train),
    );
    if (typeof plan === 'string') return refuse(REFUSED[plan]);

    if (!(await c.continueFrom(parentId))) return;
    const treatment = c.state.runs.current;
    // A run that was not kept (storage refused it) leaves the parent in use: nothing to compare.
    if (!treatment || treatment === parentId || !(await c.evaluate())) return;
    phase('control');
    if (!(await c.loadRun(parentId)) || !(await c.continueFrom(parentId, plan))) return;
    const control = c.state.runs.current;
    if (!control || control === parentId || control === treatment || !(await c.evaluate())) return;
    // The run with the added rows is the one worth keeping in use; both stay picked side by side.
    if (await c.loadRun(treatment)) c.compareRuns([treatment, control]);
    completed = true;
  } finally {
    phase(undefined);
    if (!completed) await c.dropPendingControl();
  }
}
