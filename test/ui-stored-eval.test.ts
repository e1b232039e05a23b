// Loading a run shows what was measured of its adapter (issue 22, point 9): its latest stored
// reports, with the rows' inputs when they were measured on the evaluation rows the page has now,
// and nothing of the previous adapter when the run was never evaluated.
import { describe, expect, it } from 'vitest';
import { evalSetFingerprint } from '../src/data/sibling.ts';
import type { DatasetRow } from '../src/data/dataset.ts';
import type { EvalReport } from '../src/eval/metrics.ts';
import { storedEvaluation } from '../src/ui/evaluate/run-history.ts';
import type { RunView } from '../src/ui/app/state.ts';

const rows = [
  { user: '明天开会', answer: '{"a":1}' },
  { user: '取消会议', answer: '{"a":2}' },
] as DatasetRow[];
const report = (accuracy: number) => ({ accuracy, perIntent: {} }) as unknown as EvalReport;
const run = (evals: RunView['evals']) => ({ id: 'r1', evals }) as unknown as RunView;

describe("a loaded run's stored evaluation", () => {
  it('is its latest report of each decoding, with inputs when the rows are the same', () => {
    const set = evalSetFingerprint(rows);
    const ev = storedEvaluation(
      run([
        { decoding: 'free', at: 1, report: report(0.1), evalSet: set },
        { decoding: 'constrained', at: 2, report: report(0.5), evalSet: set },
        { decoding: 'free', at: 3, report: report(0.3), evalSet: set },
      ]),
      rows,
    );
    expect(ev.report?.accuracy).toBe(0.3);
    expect(ev.constrained?.accuracy).toBe(0.5);
    expect(ev.storedAt).toBe(3);
    expect(ev.ofRun).toBe('r1');
    expect(ev.inputs).toEqual(['明天开会', '取消会议']);
  });

  it('keeps no inputs when the report was measured on other rows', () => {
    const ev = storedEvaluation(
      run([{ decoding: 'free', at: 1, report: report(0.2), evalSet: evalSetFingerprint(rows.slice(1)) }]),
      rows,
    );
    expect(ev.report?.accuracy).toBe(0.2);
    expect(ev.inputs).toEqual([]);
  });

  it("is empty for a run never evaluated (no other adapter's report stays on show)", () => {
    const ev = storedEvaluation(run([]), rows);
    expect(ev.report).toBeUndefined();
    expect(ev.constrained).toBeUndefined();
    expect(ev.ofRun).toBe('r1');
  });
});
