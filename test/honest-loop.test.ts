// The honest error loop: an evaluation row never becomes a training row. Oracles: the rows
// themselves (set intersections), the schema's templates refilled with a row's values, and
// fingerprints recomputed from reordered rows.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildRows } from '../src/data/builder.ts';
import { importDataset, type DatasetRow } from '../src/data/dataset.ts';
import { fillTemplate, parseToolSchema } from '../src/data/schema.ts';
import { evalSetFingerprint, siblingRow, templatesOf } from '../src/data/sibling.ts';
import { sameSetReports } from '../src/eval/compare.ts';
import { scorePredictions } from '../src/eval/metrics.ts';
import { LoopController, type LoopContext } from '../src/ui/data/error-loop.ts';

const SCHEMA = parseToolSchema(readFileSync(new URL('../public/samples/meeting-schema.json', import.meta.url), 'utf8'));

describe('sibling rows', () => {
  it('come from the same template with other span values and a new utterance', () => {
    const { train, eval: held } = buildRows(SCHEMA, { perTool: 3, evalPerTool: 2, seed: 5 });
    const used = new Set([...train, ...held].map((r) => r.input));
    let made = 0;
    for (const r of held) {
      const sib = siblingRow(SCHEMA, r.instruct + r.input, r.output, used, 1);
      const params = Object.keys(r.output.parameters);
      if (!params.length) {
        expect(sib).toBeNull(); // nothing to vary: the caller moves the row out instead
        continue;
      }
      expect(sib).not.toBeNull();
      made++;
      expect(used.has(sib!.input)).toBe(false);
      expect(sib!.output.tool_name).toBe(r.output.tool_name);
      const [t] = templatesOf(SCHEMA, r.input, r.output);
      expect(fillTemplate(t, sib!.output.parameters as Record<string, string>)).toBe(sib!.input);
      for (const k of params) expect(sib!.output.parameters[k]).not.toBe(r.output.parameters[k]);
    }
    expect(made).toBeGreaterThan(0);
    // An utterance no template gives back (a paraphrase) has no sibling.
    expect(
      siblingRow(SCHEMA, '麻烦拉黄强进会', { tool_name: 'INVITE_PARTICIPANT', parameters: { name: '黄强' } }, used, 1),
    ).toBeNull();
  });

  it('the evaluation set fingerprint ignores order and changes with any row', () => {
    const rows = [
      { user: 'a', answer: '1' },
      { user: 'b', answer: '2' },
      { user: 'c', answer: '3', system: 's' },
    ];
    const f = evalSetFingerprint(rows);
    expect(evalSetFingerprint([rows[2], rows[0], rows[1]])).toBe(f);
    expect(evalSetFingerprint(rows.slice(1))).not.toBe(f);
    expect(evalSetFingerprint([rows[0], rows[1], { ...rows[2], answer: '4' }])).not.toBe(f);
  });

  it('two runs compare only on the same evaluation set', () => {
    const r = (x: number) =>
      scorePredictions([
        { expected: { tool_name: 'A', parameters: {} }, generated: x ? '{"tool_name":"A","parameters":{}}' : 'x' },
      ]);
    const a = [{ decoding: 'free' as const, report: r(0), evalSet: 'S1' }];
    expect(sameSetReports(a, [{ decoding: 'free', report: r(1), evalSet: 'S2' }], 'free')).toBe('different-sets');
    const both = sameSetReports(
      a,
      [
        { decoding: 'free', report: r(1), evalSet: 'S1' },
        { decoding: 'free', report: r(0), evalSet: 'S2' },
      ],
      'free',
    );
    expect(typeof both === 'object' && both.b.accuracy).toBe(1);
  });
});

/** The page's data as the loop sees it: a training file and an evaluation file, imported for real. */
function fakePage(train: DatasetRow[], held: DatasetRow[], wrongUsers: string[], expected: string[]) {
  const sets: Record<'train' | 'eval', { name: string; rows: DatasetRow[] }> = {
    train: { name: 't.json', rows: train },
    eval: { name: 'e.json', rows: held },
  };
  const report = scorePredictions(expected.map((e) => ({ expected: JSON.parse(e), generated: 'x' })));
  const state: any = {
    schema: { applied: SCHEMA, build: { seed: 3, perTool: 1, evalPerTool: 1 }, issues: [] },
    get dataset() {
      return sets.train;
    },
    get evalDataset() {
      return sets.eval;
    },
    evaluation: { busy: false, done: 0, total: 0, inputs: wrongUsers, added: [], report },
  };
  const ctx: LoopContext = {
    state,
    patch: (fn) => Object.assign(state, fn(state)),
    importData: async (name, text, role) =>
      void (sets[role] = { name, rows: importDataset(text, { file: name }).rows }),
    splitRows: () => ({ train: sets.train.rows, eval: sets.eval.rows }),
  };
  return { ctx, sets, state };
}

describe('Correct and Accept in the page', () => {
  const built = buildRows(SCHEMA, { perTool: 2, evalPerTool: 1, seed: 8 });
  const rowsOf = (r: typeof built.train) => importDataset(JSON.stringify(r)).rows;
  const train = rowsOf(built.train),
    held = rowsOf(built.eval);

  it('never put an evaluation row into the training rows; a row without a sibling moves out and the set shrinks', async () => {
    const withValues = held.find((r) => r.answer.includes('"parameters":{"'))!;
    const without = held.find((r) => r.answer.includes('"parameters":{}'))!;
    const { ctx, sets, state } = fakePage(
      train,
      held,
      [withValues.user, without.user],
      [withValues.answer, without.answer],
    );
    const loop = new LoopController(ctx);
    await loop.correct('free', 0, withValues.answer);
    expect(sets.eval.rows.length).toBe(held.length);
    expect(sets.train.rows.length).toBe(train.length + 1);
    await loop.accept('free', 1); // the model's answer 'x' is not a call of the schema: refused, nothing moves
    expect(state.schema.failed).toBe('correction');
    await loop.correct('free', 1, without.answer);
    expect(sets.eval.rows.length).toBe(held.length - 1);
    expect(state.evaluation.movedOut).toEqual(['free:1']);
    expect(state.evaluation.added).toEqual(['free:0', 'free:1']);
    const evalUsers = new Set(sets.eval.rows.map((r) => r.user));
    expect(sets.train.rows.filter((r) => evalUsers.has(r.user))).toEqual([]);
  });
});

describe('train --add and --control', () => {
  it('adds siblings, never the wrong rows; names the rows without one; the control takes the same optimizer steps', async () => {
    const { siblingsOf, controlSettings } = await import('../src/cli/commands/train-add.ts');
    const { stepCount, DEFAULT_TRAIN } = await import('../src/train/recipe.ts');
    const built = buildRows(SCHEMA, { perTool: 2, evalPerTool: 1, seed: 4 });
    const train = importDataset(JSON.stringify(built.train)).rows,
      wrong = importDataset(JSON.stringify(built.eval)).rows;
    const added = siblingsOf(SCHEMA, wrong, train, 'wrong.json', 1);
    const withValues = wrong.filter((r) => Object.keys(r.expected!.parameters).length).length;
    expect(added.rows.length).toBe(withValues);
    expect(added.left.length).toBe(wrong.length - withValues);
    const banned = new Set([...train, ...wrong].map((r) => r.user));
    for (const r of added.rows) expect(banned.has(r.user)).toBe(false);
    for (const [rows, extra] of [
      [80, 9],
      [13, 1],
      [7, 30],
    ] as const) {
      const s = { ...DEFAULT_TRAIN, batchSize: 4, gradAccum: 2, epochs: 3 };
      expect(stepCount(rows, controlSettings(s, rows, extra)).totalSteps).toBe(stepCount(rows + extra, s).totalSteps);
    }
  });
});

describe("the page's control run (Continue training with a control)", () => {
  const example = (seed: number, n = 6) => ({
    ids: Int32Array.from({ length: n }, (_, i) => (seed * 31 + i * 7) % 97),
    labels: Int32Array.from({ length: n }, (_, i) => (i < 2 ? -100 : (seed + i) % 97)),
  });

  it("trains on the parent's rows alone for the steps the run with the added rows takes", async () => {
    const { controlPlan } = await import('../src/train/control-run.ts');
    const { dataFingerprint } = await import('../src/train/fingerprint.ts');
    const { stepCount } = await import('../src/train/recipe.ts');
    for (const [rows, extra, batchSize, gradAccum, epochs] of [
      [10, 5, 2, 1, 2],
      [40, 3, 4, 4, 8],
      [7, 20, 4, 1, 1.5],
    ] as const) {
      const parentRows = Array.from({ length: rows }, (_, i) => example(i));
      const today = [...parentRows, ...Array.from({ length: extra }, (_, i) => example(1000 + i))];
      const s = { batchSize, gradAccum, epochs };
      const plan = await controlPlan({ trainRows: rows, dataFingerprint: await dataFingerprint(parentRows) }, today, s);
      if (typeof plan === 'string') throw new Error(plan);
      expect(plan.rows).toBe(rows);
      expect(stepCount(plan.rows, { ...s, epochs: plan.epochs }).totalSteps).toBe(
        stepCount(rows + extra, s).totalSteps,
      );
    }
  });

  it("is refused when nothing was added or the parent's rows are not the head of today's", async () => {
    const { controlPlan } = await import('../src/train/control-run.ts');
    const { dataFingerprint } = await import('../src/train/fingerprint.ts');
    const parentRows = Array.from({ length: 8 }, (_, i) => example(i));
    const parent = { trainRows: 8, dataFingerprint: await dataFingerprint(parentRows) };
    const s = { batchSize: 2, gradAccum: 1, epochs: 2 };
    expect(await controlPlan(parent, parentRows, s)).toBe('nothing-added');
    expect(await controlPlan(parent, parentRows.slice(0, 7), s)).toBe('rows-changed');
    const edited = parentRows.map((e, i) => (i === 3 ? { ...e, ids: e.ids.map((x, j) => (j === 4 ? x + 1 : x)) } : e));
    expect(await controlPlan(parent, [...edited, example(99)], s)).toBe('rows-changed');
    // one row inserted before the parent's rows shifts them: not a control either
    expect(await controlPlan(parent, [example(99), ...parentRows], s)).toBe('rows-changed');
  });

  it('a pending control is checked before it resumes: its rows must still lead, its epochs still make its steps', async () => {
    const { controlPlan, controlProblem } = await import('../src/train/control-run.ts');
    const { dataFingerprint } = await import('../src/train/fingerprint.ts');
    const parentRows = Array.from({ length: 12 }, (_, i) => example(i));
    const today = [...parentRows, ...Array.from({ length: 5 }, (_, i) => example(500 + i))];
    const s = { batchSize: 2, gradAccum: 1, epochs: 3 };
    const plan = await controlPlan({ trainRows: 12, dataFingerprint: await dataFingerprint(parentRows) }, today, s);
    if (typeof plan === 'string') throw new Error(plan);
    expect(plan.steps).toBe(27); // 17 rows in batches of 2: 9 steps an epoch, 3 epochs
    expect(await controlProblem(plan, today, s)).toBeUndefined();
    expect(await controlProblem(plan, [example(77), ...today], s)).toBe('rows');
    expect(await controlProblem(plan, parentRows.slice(0, 11), s)).toBe('rows');
    expect(await controlProblem(plan, today, { ...s, batchSize: 4 })).toBe('steps');
    expect(await controlProblem(plan, today, { ...s, epochs: 100 })).toBeUndefined(); // its own epochs, not the form's
  });

  it('a pending control resumes with its own rows and epochs, under its own run key', async () => {
    const { runSettingsNow } = await import('../src/ui/train/training.ts');
    const { runKeyOf } = await import('../src/ui/train/run-key.ts');
    const { initialState } = await import('../src/ui/app/state.ts');
    const st = initialState('en');
    const control = {
      ...st,
      continuing: { from: 'r1', parent: 'r1', control: { rows: 10, epochs: 2.75, steps: 22, head: 'x' } },
    };
    expect(runSettingsNow(control).epochs).toBe(2.75);
    expect(runSettingsNow(st).epochs).toBe(st.train.epochs);
    expect(runKeyOf(control)).not.toBe(runKeyOf({ ...st, continuing: { from: 'r1', parent: 'r1' } }));
  });
});
