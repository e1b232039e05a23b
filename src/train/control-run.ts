// The control of the error loop (issue 21, point 5): rows added after a wrong answer are worth
// their gain only against the same extra training without them. The control continues from the
// same adapter, on the rows that adapter was trained on, for exactly the optimizer steps the run
// with the added rows takes; anything else (more steps, other rows) would be measured as a gain.
// `train --add rows.json --control` (CLI) and the page's "Continue training" with a control use it.

import { dataFingerprint } from './fingerprint.ts';
import { stepCount, type TrainSettings } from './recipe.ts';

type StepSettings = Pick<TrainSettings, 'batchSize' | 'gradAccum' | 'epochs'>;

/** Settings for the control: epochs scaled so `dataRows` alone take exactly the treatment's optimizer steps. */
export function controlSettings<S extends StepSettings>(s: S, dataRows: number, addedRows: number): S {
  const target = stepCount(dataRows + addedRows, s).totalSteps;
  const per = stepCount(dataRows, s).stepsPerEpoch;
  // ceil(epochs * per) = ceil(target - 0.5) = target: the half keeps float error off the boundary.
  return { ...s, epochs: (target - 0.5) / per };
}

/**
 * What the control trains on: the first `rows` examples of today's set (their data fingerprint
 * `head`), for `epochs` epochs, which must make `steps` optimizer steps. Kept with the pending
 * run, so a control resumed after a reload or a change of settings is checked, not trusted.
 */
export interface ControlPlan {
  rows: number;
  epochs: number;
  steps: number;
  head: string;
}

/** Why there is no control: nothing was added, or the parent's rows are not the head of today's. */
export type ControlRefusal = 'nothing-added' | 'rows-changed';

/**
 * The control of a continued run. The loop only appends rows, so the parent's training examples
 * must be the first `parent.trainRows` of today's, token for token (its data fingerprint says);
 * a dataset imported or edited since, or another max length or system prompt, gives no honest
 * control and is refused.
 */
export async function controlPlan(
  parent: { trainRows: number; dataFingerprint: string },
  examples: readonly { ids: Int32Array; labels: Int32Array }[],
  settings: StepSettings,
): Promise<ControlPlan | ControlRefusal> {
  if (examples.length < parent.trainRows) return 'rows-changed';
  if ((await dataFingerprint(examples.slice(0, parent.trainRows))) !== parent.dataFingerprint) return 'rows-changed';
  if (examples.length === parent.trainRows) return 'nothing-added';
  const added = examples.length - parent.trainRows;
  const steps = stepCount(examples.length, settings).totalSteps;
  return {
    rows: parent.trainRows,
    epochs: controlSettings(settings, parent.trainRows, added).epochs,
    steps,
    head: parent.dataFingerprint,
  };
}

/**
 * Whether a pending control still is one: today's examples start with its rows and its epochs
 * make its steps under today's batch settings. Undefined when it holds, else what changed.
 */
export async function controlProblem(
  plan: ControlPlan,
  examples: readonly { ids: Int32Array; labels: Int32Array }[],
  settings: StepSettings,
): Promise<'rows' | 'steps' | undefined> {
  if (examples.length < plan.rows || (await dataFingerprint(examples.slice(0, plan.rows))) !== plan.head) return 'rows';
  return stepCount(plan.rows, { ...settings, epochs: plan.epochs }).totalSteps === plan.steps ? undefined : 'steps';
}
