// The mapping step of a CSV/TSV import from the page's side: the table is read, its columns are
// matched to the seed fields by their names, and the user confirms or changes the match (the
// column-mapping card) before the rows are imported as seed-format JSON lines. Nothing of the
// data in use changes until then; a file that cannot be read reports its lines like any other.

import { DatasetError } from '../../core/errors.ts';
import {
  guessMapping,
  mappedJsonLines,
  mappingProblem,
  parseDelimited,
  type Delimited,
  type MappedField,
} from '../../data/delimited.ts';
import type { AppState } from '../app/state.ts';

const PREVIEW = 3;

interface TableContext {
  readonly state: AppState;
  patch(fn: (s: AppState) => Partial<AppState>): void;
}

export class TableImport {
  private table?: Delimited;

  constructor(
    private readonly c: TableContext,
    private readonly importText: (name: string, text: string, role: 'train' | 'eval') => Promise<void>,
  ) {}

  async open(name: string, blob: Blob, delimiter: ',' | '\t', role: 'train' | 'eval'): Promise<void> {
    try {
      this.table = parseDelimited(await blob.text(), delimiter, name);
    } catch (e) {
      this.table = undefined;
      const issues = e instanceof DatasetError ? e.issues : [];
      this.c.patch(() => ({
        importing: undefined,
        columnMapping: undefined,
        lastImport: { name, issues, failed: true, message: e instanceof DatasetError ? undefined : String(e) },
      }));
      return;
    }
    const t = this.table;
    const mapping = guessMapping(t.header);
    this.c.patch(() => ({
      importing: undefined,
      lastImport: undefined,
      columnMapping: {
        name,
        role,
        header: t.header,
        preview: t.rows.slice(0, PREVIEW).map((r) => r.cells),
        rows: t.rows.length,
        mapping,
        problem: mappingProblem(mapping),
      },
    }));
  }

  setColumn(field: MappedField, column: number): void {
    this.c.patch((s) => {
      const cm = s.columnMapping;
      if (!cm) return {};
      const mapping = { ...cm.mapping };
      if (column < 0) delete mapping[field];
      else mapping[field] = column;
      return { columnMapping: { ...cm, mapping, problem: mappingProblem(mapping) } };
    });
  }

  /** The mapped rows go through the one importer, as seed-format JSON lines. */
  async importMapped(): Promise<void> {
    const cm = this.c.state.columnMapping;
    if (!cm || !this.table || cm.problem) return;
    const text = mappedJsonLines(this.table, cm.mapping);
    this.cancel();
    await this.importText(cm.name, text, cm.role);
  }

  cancel(): void {
    this.table = undefined;
    this.c.patch(() => ({ columnMapping: undefined }));
  }
}
