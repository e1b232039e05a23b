// Spreadsheet rows: CSV and TSV files (what a spreadsheet exports) read into columns, with a
// mapping from columns to the seed format's fields (instruct, input, output, system) that the
// user confirms or changes before anything is imported. The mapped rows become seed-format JSON
// lines, which go through the one dataset importer like any other file.

import { DatasetError, type DatasetIssue } from '../core/errors.ts';

export interface Delimited {
  delimiter: ',' | '\t';
  header: string[];
  /** Each row's cells, as many as the header has; line: the 1-based line the row starts on. */
  rows: { cells: string[]; line: number }[];
}

/** The seed fields a column can fill; input and output are required. */
export const MAPPED_FIELDS = ['input', 'output', 'instruct', 'system'] as const;
export type MappedField = (typeof MAPPED_FIELDS)[number];
/** Field -> column index (absent: not mapped). */
export type ColumnMapping = Partial<Record<MappedField, number>>;

/**
 * Whether a text is a delimited table rather than JSON: its first character is not [ or {, and
 * its first line has a comma or a tab. The delimiter is the one the first line has more of.
 */
export function sniffDelimited(head: string): ',' | '\t' | undefined {
  const text = head.replace(/^\uFEFF/, '').trimStart();
  // NULs and undecodable bytes: UTF-16 (or another encoding) read as UTF-8, left to the JSON importer's encoding detection
  if (!text || text[0] === '[' || text[0] === '{' || /[\0\uFFFD]/.test(text.slice(0, 200))) return undefined;
  const first = text.split(/\r?\n/, 1)[0];
  const tabs = first.split('\t').length - 1,
    commas = first.split(',').length - 1;
  if (!tabs && !commas) return undefined;
  return tabs >= commas ? '\t' : ',';
}

/**
 * RFC 4180 cells: a quoted cell may hold the delimiter, line breaks and doubled quotes. Every
 * row must have the header's number of cells; each one that does not is a problem with its line.
 */
export function parseDelimited(text: string, delimiter: ',' | '\t', file = 'dataset'): Delimited {
  const src = text.replace(/^\uFEFF/, '');
  const records: { cells: string[]; line: number }[] = [];
  let cells: string[] = [],
    cell = '',
    quoted = false,
    line = 1,
    start = 1,
    i = 0;
  const endCell = () => {
    cells.push(cell);
    cell = '';
  };
  const endRow = () => {
    endCell();
    if (!(cells.length === 1 && cells[0] === '')) records.push({ cells, line: start });
    cells = [];
  };
  while (i < src.length) {
    const ch = src[i];
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') ((cell += '"'), (i += 2));
      else if (ch === '"') ((quoted = false), i++);
      else {
        if (ch === '\n') line++;
        cell += ch;
        i++;
      }
      continue;
    }
    if (ch === '"' && cell === '') ((quoted = true), i++);
    else if (ch === delimiter) (endCell(), i++);
    else if (ch === '\r' && src[i + 1] === '\n') i++;
    else if (ch === '\n') (endRow(), line++, (start = line), i++);
    else ((cell += ch), i++);
  }
  if (quoted)
    throw new DatasetError(file, [{ line: start, message: 'a quoted cell is never closed (a " is missing)' }]);
  if (cell !== '' || cells.length) endRow();
  if (!records.length) throw new DatasetError(file, [{ message: 'the file is empty' }]);
  const header = records[0].cells.map((h) => h.trim());
  const issues: DatasetIssue[] = [];
  for (const r of records.slice(1))
    if (r.cells.length !== header.length)
      issues.push({ line: r.line, message: `has ${r.cells.length} cells, the header has ${header.length}` });
  if (issues.length) throw new DatasetError(file, issues);
  if (records.length < 2) throw new DatasetError(file, [{ message: 'no rows under the header' }]);
  return { delimiter, header, rows: records.slice(1) };
}

const NAMES: Record<MappedField, RegExp> = {
  output: /^(output|answer|response|completion|assistant|target|label|reply)$/i,
  input: /^(input|question|prompt|user|query|text|utterance)$/i,
  instruct: /^(instruct|instruction|task)$/i,
  system: /^(system|system[ _]?prompt)$/i,
};

/** The mapping the header suggests by its column names; what it cannot tell is left out. */
export function guessMapping(header: readonly string[]): ColumnMapping {
  const m: ColumnMapping = {};
  for (const f of MAPPED_FIELDS) {
    const i = header.findIndex((h, k) => NAMES[f].test(h.trim()) && !Object.values(m).includes(k));
    if (i >= 0) m[f] = i;
  }
  return m;
}

/** What is wrong with a mapping, or undefined when it can import. */
export function mappingProblem(m: ColumnMapping): string | undefined {
  if (m.input === undefined) return 'choose the column with the user text (input)';
  if (m.output === undefined) return 'choose the column with the answer (output)';
  const used = Object.values(m);
  if (new Set(used).size !== used.length) return 'one column is chosen for two fields';
  return undefined;
}

/** The mapped rows as seed-format JSON lines (the dataset importer's own input). */
export function mappedJsonLines(d: Delimited, m: ColumnMapping): string {
  const problem = mappingProblem(m);
  if (problem) throw new DatasetError('mapping', [{ message: problem }]);
  const cell = (r: Delimited['rows'][number], f: MappedField) => (m[f] === undefined ? undefined : r.cells[m[f]!]);
  return (
    d.rows
      .map((r) => {
        const system = cell(r, 'system');
        return JSON.stringify({
          ...(system ? { system } : {}),
          instruct: cell(r, 'instruct') ?? '',
          input: cell(r, 'input'),
          output: cell(r, 'output'),
        });
      })
      .join('\n') + '\n'
  );
}
