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

/** What the control trains on: the first `rows` examples of today's set, for `epochs` epochs. */
export interface ControlPlan {
  rows: number;
  epochs: number;
}

/** Why there is no control: the rows the parent trained on are not the head of today's rows. */
export type ControlRefusal = 'nothing-added' | 'rows-changed';

/**
 * The control of a continued run. The loop only appends rows, so the parent's training examples
 * must be the first `parent.trainRows` of today's, token for token (its data fingerprint says);
 * a dataset imported or edited since gives no honest control and is refused.
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
  return { rows: parent.trainRows, epochs: controlSettings(settings, parent.trainRows, added).epochs };
}
