// `train --adapter A --add rows.json`: the error loop without the page. rows.json holds wrong
// evaluation rows (as `eval --wrong-out` writes them, labels corrected by hand if need be);
// they never become training rows. Each gives a sibling instead (the same template, other
// values, an utterance neither file has); a row without one is named and left out. With
// --control the new rows only count: training runs on --data alone for the same number of
// optimizer steps, the run to hold the loop's gain against.

import { DatasetError, type DatasetIssue } from '../../core/errors.ts';
import type { DatasetRow } from '../../data/dataset.ts';
import { siblingRow } from '../../data/sibling.ts';
import { utteranceOf, type ToolSchema } from '../../data/schema.ts';
export { controlSettings } from '../../train/control-run.ts';

export interface AddedRows {
  rows: DatasetRow[];
  /** Wrong rows that gave no sibling, with why. */
  left: DatasetIssue[];
}

/** One sibling per wrong row, none repeating an utterance of the training or the wrong rows. */
export function siblingsOf(
  schema: ToolSchema,
  wrong: readonly DatasetRow[],
  train: readonly DatasetRow[],
  file: string,
  seed: number,
): AddedRows {
  const used = new Set([...train, ...wrong].map((r) => utteranceOf(schema, r.user)));
  const rows: DatasetRow[] = [],
    left: DatasetIssue[] = [];
  wrong.forEach((w, i) => {
    const where = { ...w.origin };
    if (!w.expected) return void left.push({ ...where, message: 'its answer is not a tool call' });
    const sib = siblingRow(schema, w.user, w.expected, used, seed + i);
    if (!sib)
      return void left.push({
        ...where,
        message: `no template of ${w.expected.tool_name} gives this utterance back with values to vary: move the row out of the evaluation file to train on it`,
      });
    used.add(sib.input);
    const answer = JSON.stringify(sib.output);
    rows.push({
      ...(w.system !== undefined ? { system: w.system } : {}),
      user: sib.instruct + sib.input,
      answer,
      expected: sib.output,
      origin: { index: i },
    });
  });
  if (!rows.length) throw new DatasetError(file, left.length ? left : [{ message: 'no rows' }]);
  return { rows, left };
}
