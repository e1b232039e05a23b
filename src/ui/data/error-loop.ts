// The error loop from the page's side: the tool schema (import, edit, apply, export), rows
// built from it, wrong answers corrected or accepted into the training rows, and more rows for
// one tool. Every change of the data goes through the same import the Data step uses, so it is
// checked, saved across reloads and counted like an imported file. A schema or build that
// fails changes nothing but the list of problems.

import { SchemaError, type SchemaIssue } from '../../core/errors.ts';
import { buildRows, formatSeedRows, moreRows, type SeedRow } from '../../data/builder.ts';
import { buildRowsByValues } from '../../data/split-values.ts';
import { parseToolCall, type DatasetRow } from '../../data/dataset.ts';
import { callProblems, parseToolSchema, utteranceOf } from '../../data/schema.ts';
import { siblingRow } from '../../data/sibling.ts';
import { duplicateKey } from '../../data/json-keys.ts';
import { saveBlob } from '../shared/save-files.ts';
import { loadSchemaState, saveSchemaState } from '../app/persist.ts';
import { formOf, schemaOf, schemaText, type SchemaForm } from './schema-form.ts';
import type { AppState, SchemaState } from '../app/state.ts';
import type { LoopAction } from '../app/actions.ts';

/** What the loop needs of the page: the store, and the Data step's import and split. */
export interface LoopContext {
  readonly state: AppState;
  patch(fn: (s: AppState) => Partial<AppState>): void;
  importData(name: string, text: string, role: 'train' | 'eval'): Promise<void>;
  splitRows(): { train: DatasetRow[]; eval: DatasetRow[] };
}

export type Decoding = 'free' | 'constrained';

const stem = (name: string) => name.replace(/\.(json|jsonl)$/i, '');

/** Rows in the seed's file format; an answer that is compact JSON is written as its object. */
export function rowsText(rows: readonly Pick<DatasetRow, 'user' | 'answer' | 'system'>[]): string {
  return formatSeedRows(
    rows.map((r) => {
      let output: unknown = r.answer;
      try {
        const v = JSON.parse(r.answer);
        if (typeof v === 'object' && v !== null && JSON.stringify(v) === r.answer) output = v;
      } catch {
        // text answers stay strings
      }
      return {
        ...(r.system !== undefined ? { system: r.system } : {}),
        instruct: r.user,
        input: '',
        output,
      } as unknown as SeedRow;
    }),
  );
}

export class LoopController {
  constructor(private readonly c: LoopContext) {}

  async handle(
    a: Exclude<LoopAction, { type: 'continueTraining' | 'selectRun' | 'loadRun' | 'exportRun' | 'deleteRun' }>,
  ): Promise<void> {
    switch (a.type) {
      case 'loadSampleSchema':
        return this.loadSample();
      case 'importSchema':
        return this.importSchema(a.name, a.text);
      case 'editSchema':
        return this.edit(a.form);
      case 'applySchema':
        return void (await this.apply());
      case 'exportSchema':
        return this.export();
      case 'setBuild':
        return this.setBuild(a.patch);
      case 'buildData':
        return this.build();
      case 'correctAnswer':
        return this.correct(a.decoding, a.index, a.answer);
      case 'acceptAnswer':
        return this.accept(a.decoding, a.index);
      case 'moreRows':
        return this.moreRows(a.tool);
      case 'setMoreRows':
        return this.setMoreRows(a.count);
    }
  }

  private schema(patch: Partial<SchemaState>): void {
    this.c.patch((s) => ({ schema: { ...s.schema, ...patch } }));
  }

  private fail(where: string, e: unknown): void {
    if (!(e instanceof SchemaError)) throw e;
    this.schema({ issues: e.issues, failed: where });
  }

  async restore(): Promise<void> {
    const saved = await loadSchemaState();
    if (!saved) return;
    try {
      const applied = saved.text ? parseToolSchema(saved.text, saved.name) : undefined;
      this.schema({
        name: saved.name,
        applied,
        form: saved.form ?? (applied && formOf(applied)),
        dirty: !!saved.dirty,
      });
    } catch {
      // A stored schema that no longer parses is simply not restored.
    }
  }

  private persist(): Promise<unknown> {
    const s = this.c.state.schema;
    return saveSchemaState({
      name: s.name ?? 'schema.json',
      text: s.applied ? schemaText(s.applied) : undefined,
      form: s.form,
      dirty: s.dirty,
    });
  }

  async loadSample(): Promise<void> {
    const name = 'meeting-schema.json';
    try {
      const res = await fetch(new URL(`samples/${name}`, document.baseURI));
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      await this.importSchema(name, await res.text());
    } catch (e) {
      this.schema({ issues: [{ message: e instanceof Error ? e.message : String(e) }], failed: name });
    }
  }

  /** A schema file; on any problem the schema in use and its form stay. */
  async importSchema(name: string, text: string): Promise<void> {
    try {
      const applied = parseToolSchema(text, name);
      this.schema({ name, applied, form: formOf(applied), dirty: false, issues: [], failed: undefined });
    } catch (e) {
      return this.fail(name, e);
    }
    await this.persist();
  }

  async edit(form: SchemaForm): Promise<void> {
    this.schema({ form, dirty: true });
    await this.persist();
  }

  /** The form becomes the schema in use, or its problems are listed and nothing else changes. */
  async apply(): Promise<boolean> {
    const s = this.c.state.schema;
    if (!s.form) return false;
    try {
      this.schema({ applied: schemaOf(s.form, s.name ?? 'schema'), dirty: false, issues: [], failed: undefined });
    } catch (e) {
      this.fail('editor', e);
      return false;
    }
    await this.persist();
    return true;
  }

  export(): void {
    const s = this.c.state.schema;
    if (s.applied) saveBlob(new Blob([schemaText(s.applied)], { type: 'application/json' }), s.name ?? 'schema.json');
  }

  setBuild(patch: Partial<SchemaState['build']>): void {
    this.schema({ build: { ...this.c.state.schema.build, ...patch } });
  }

  /** Training and held-out rows from the schema; they replace the datasets only when the build succeeds. */
  async build(): Promise<void> {
    if (this.c.state.schema.dirty && !(await this.apply())) return;
    const s = this.c.state.schema;
    if (!s.applied) return;
    let built;
    try {
      const { perTool, evalPerTool, seed, split, variants } = s.build;
      const opts = { perTool, evalPerTool, seed, variety: { share: variants } };
      built = split === 'values' && evalPerTool > 0 ? buildRowsByValues(s.applied, opts) : buildRows(s.applied, opts);
    } catch (e) {
      return this.fail('build', e);
    }
    const base = stem(s.name ?? 'schema');
    await this.c.importData(`${base}-train.json`, formatSeedRows(built.train), 'train');
    if (built.eval.length) await this.c.importData(`${base}-eval.json`, formatSeedRows(built.eval), 'eval');
    this.schema({ built: { train: built.train.length, eval: built.eval.length }, issues: [], failed: undefined });
  }

  /**
   * Appends rows to the training set. Held-out rows that came from a split are written out as
   * their own file first, so growing the training rows never reshuffles what is evaluated.
   */
  async addRows(rows: Pick<DatasetRow, 'user' | 'answer' | 'system'>[]): Promise<void> {
    const split = this.c.splitRows();
    const name = this.c.state.dataset?.name ?? 'train.json';
    if (!this.c.state.evalDataset && split.eval.length)
      await this.c.importData(`${stem(name)}-held-out.json`, rowsText(split.eval), 'eval');
    await this.c.importData(name, rowsText([...split.train, ...rows]), 'train');
  }

  private report(decoding: Decoding) {
    const ev = this.c.state.evaluation;
    return decoding === 'free' ? ev.report : ev.constrained;
  }

  /** A wrong answer, corrected by hand (or left as expected), becomes a training row. */
  async correct(decoding: Decoding, index: number, answer: string): Promise<void> {
    const schema = this.c.state.schema.applied;
    const call = parseToolCall(answer.trim());
    const dup = call ? duplicateKey(answer.trim()) : null;
    const problems: string[] =
      dup !== null
        ? [`the key ${JSON.stringify(dup)} appears twice in one object`]
        : call
          ? schema
            ? callProblems(schema, call)
            : []
          : answer.trim()
            ? []
            : ['the answer is empty'];
    if (call === null && schema)
      problems.push('the answer is not a tool call (JSON with "tool_name" and "parameters")');
    if (problems.length) {
      this.schema({
        issues: problems.map((message): SchemaIssue => ({ field: `answer #${index + 1}`, message })),
        failed: 'correction',
      });
      return;
    }
    await this.addAnswer(
      decoding,
      index,
      call ? JSON.stringify({ tool_name: call.tool_name, parameters: call.parameters }) : answer.trim(),
    );
  }

  /** The model's answer was right after all (the expected one was wrong): it becomes the label. */
  async accept(decoding: Decoding, index: number): Promise<void> {
    const w = this.report(decoding)?.wrong.find((x) => x.index === index);
    if (w) await this.correct(decoding, index, w.generated);
  }

  /**
   * An evaluation row never becomes a training row (issue 21): the corrected answer teaches
   * through a sibling, a new row from the same template with other values. Without one (no
   * template gives the row back) the row moves out of the evaluation set, which the page says.
   */
  private async addAnswer(decoding: Decoding, index: number, answer: string): Promise<void> {
    const ev = this.c.state.evaluation;
    // Report indices count the evaluated rows (too-long ones are skipped): find the row by its text.
    const user = ev.inputs[index];
    if (user === undefined) return;
    const split = this.c.splitRows();
    const row = split.eval.find((r) => r.user === user);
    const schema = this.c.state.schema.applied;
    const call = parseToolCall(answer);
    const used = schema
      ? new Set([...split.train, ...split.eval].map((r) => utteranceOf(schema, r.user)))
      : new Set<string>();
    const sib =
      schema && call ? siblingRow(schema, user, call, used, this.c.state.schema.build.seed + index + 1) : null;
    const key = `${decoding}:${index}`;
    if (sib) {
      await this.addRows([
        {
          user: sib.instruct + sib.input,
          answer: JSON.stringify(sib.output),
          ...((row?.system ?? sib.system) !== undefined ? { system: row?.system ?? sib.system } : {}),
        },
      ]);
    } else {
      const rest = split.eval.filter((r) => r.user !== user);
      if (!rest.length) {
        this.schema({
          issues: [
            {
              field: `answer #${index}`,
              message:
                'this is the last evaluation row: moving it to the training rows would leave nothing to evaluate',
            },
          ],
          failed: 'correction',
        });
        return;
      }
      const trainName = this.c.state.dataset?.name ?? 'train.json';
      await this.c.importData(
        this.c.state.evalDataset?.name ?? `${stem(trainName)}-held-out.json`,
        rowsText(rest),
        'eval',
      );
      await this.c.importData(
        trainName,
        rowsText([...split.train, { user, answer, ...(row?.system !== undefined ? { system: row.system } : {}) }]),
        'train',
      );
    }
    this.c.patch((s) => ({
      evaluation: {
        ...s.evaluation,
        added: [...s.evaluation.added, key],
        movedOut: sib ? s.evaluation.movedOut : [...(s.evaluation.movedOut ?? []), key],
      },
      schema: { ...s.schema, issues: [], failed: undefined },
    }));
  }

  /** More rows of one tool from its templates, none repeating an utterance the data has. */
  async moreRows(tool: string): Promise<void> {
    const s = this.c.state.schema;
    if (!s.applied) return;
    const split = this.c.splitRows();
    const prefix = s.applied.instruct ?? '';
    const existing = [...split.train, ...split.eval].map((r) =>
      r.user.startsWith(prefix) ? r.user.slice(prefix.length) : r.user,
    );
    let rows: SeedRow[];
    try {
      rows = moreRows(s.applied, tool, s.moreRows, s.build.seed, existing);
    } catch (e) {
      return this.fail('moreRows', e);
    }
    await this.addRows(
      rows.map((r) => ({
        user: r.instruct + r.input,
        answer: JSON.stringify(r.output),
        ...(r.system !== undefined ? { system: r.system } : {}),
      })),
    );
    this.schema({ issues: [], failed: undefined, added: { tool, rows: rows.length } });
  }

  setMoreRows(n: number): void {
    this.schema({ moreRows: Math.max(1, Math.floor(n) || 1) });
  }
}
