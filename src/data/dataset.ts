// Dataset import: the seed format ({instruct, input, output}) as a JSON array or JSON lines,
// Alpaca, chat {messages} and ShareGPT {conversations}, all normalised to one row type.
// importDataset is pure: it returns a new result or throws, so a failed import can never
// disturb the dataset the caller already holds. Every problem is reported, not only the first.
// Rows stream in (json-items.ts) and are checked one at a time; exact duplicates are left out
// here, before any split, so one row cannot land on both the training and the held-out side.

import { editDistance } from './edit-distance.ts';
import { DatasetError, formatIssue, type DatasetIssue } from '../core/errors.ts';
import { decodeBlob, diagnoseEncoding, EncodingFault, sniffBom, type TextEncodingName } from './encoding.ts';
import { JsonItemReader, type Item, type ItemSink } from './json-items.ts';
import { compactJson } from './json-keys.ts';
import { HashMap64, rowHash64 } from './row-hashes.ts';

export type DatasetFormat = 'seed' | 'alpaca' | 'chat' | 'sharegpt';
export const DATASET_FORMATS: readonly DatasetFormat[] = ['seed', 'alpaca', 'chat', 'sharegpt'];

export interface ToolCall {
  tool_name: string;
  parameters: Record<string, unknown>;
}

export interface DatasetRow {
  /** A system prompt the row brings with it; without one the trainer's default is used. */
  system?: string;
  user: string;
  /** The exact text the model must learn to produce. */
  answer: string;
  /** The answer parsed as a tool call, for evaluation; null when it is not one. */
  expected: ToolCall | null;
  /** Where the row came from: 1-based line (JSONL) or 0-based index (JSON array). */
  origin: { line?: number; index?: number };
}

export interface ImportOptions {
  /** Name used in messages. */
  file?: string;
  format?: DatasetFormat | 'auto';
}

export interface ImportResult {
  file: string;
  format: DatasetFormat;
  container: 'json' | 'jsonl';
  rows: DatasetRow[];
  /** Rows kept: rows.length, or (streaming to a sink) how many the sink was given. */
  kept: number;
  /** Problems of the rows that were left out; the other rows are usable. */
  issues: DatasetIssue[];
  /** Rows in the file, usable or not. */
  total: number;
  /** How the bytes were read; anything but plain UTF-8 is worth telling the user. */
  encoding: TextEncodingName;
  /** Rows with the same system, user and answer text as an earlier row, left out (the first 100 listed). */
  duplicates: { count: number; examples: DatasetIssue[] };
  /** JSON answers rewritten into the compact canonical form (json-keys.ts). */
  normalized?: number;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function formatOf(v: unknown): DatasetFormat | undefined {
  if (!isObject(v)) return undefined;
  if ('messages' in v) return 'chat';
  if ('conversations' in v) return 'sharegpt';
  if ('instruction' in v) return 'alpaca';
  if ('instruct' in v) return 'seed';
  return undefined;
}

/** The format most rows have; ties go to the order of DATASET_FORMATS. */
function detectFormat(items: Item[], file: string): DatasetFormat {
  const votes = new Map<DatasetFormat, number>();
  for (const it of items) {
    const f = formatOf(it.value);
    if (f) votes.set(f, (votes.get(f) ?? 0) + 1);
  }
  let best: DatasetFormat | undefined;
  for (const f of DATASET_FORMATS) if ((votes.get(f) ?? 0) > (best ? votes.get(best)! : 0)) best = f;
  if (!best)
    throw new DatasetError(file, [{ message: 'no row has the fields of a known format: {"instruct","input","output"}, {"instruction","input","output"}, {"messages":[...]} or {"conversations":[...]}' }]);
  return best;
}

/** A tool call is a JSON object with a string "tool_name" and, if present, an object "parameters". */
export function parseToolCall(text: string): ToolCall | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  return toolCallOf(v);
}

function toolCallOf(v: unknown): ToolCall | null {
  if (!isObject(v) || typeof v.tool_name !== 'string') return null;
  if (v.parameters !== undefined && !isObject(v.parameters)) return null;
  return { tool_name: v.tool_name, parameters: (v.parameters as Obj | undefined) ?? {} };
}

/** Collects a row's problems, each tagged with the row's place and the field. */
class RowCheck {
  readonly issues: DatasetIssue[] = [];
  constructor(private readonly where: Item['where']) {}

  add(field: string | undefined, message: string): void {
    this.issues.push({ ...this.where, ...(field ? { field } : {}), message });
  }

  /** A required field that is absent, naming a key of the row that looks like a typo of it. */
  missing(o: Obj, field: string): void {
    const near = Object.keys(o).find((k) => k !== field && editDistance(k.toLowerCase(), field) <= Math.min(2, field.length >> 1));
    this.add(field, near === undefined ? 'is missing' : `is missing; the row has "${near}": did you mean "${field}"?`);
  }

  /** A string field; absent is allowed only when `optional`. */
  text(o: Obj, field: string, optional: boolean): string | undefined {
    const v = o[field];
    if (v === undefined || v === null) {
      if (!optional) this.missing(o, field);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.add(field, `must be a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
      return undefined;
    }
    return v;
  }

  /** The answer: an object (serialised as compact JSON, non-ASCII kept) or a non-empty string. */
  answer(o: Obj, field: string): { answer: string; expected: ToolCall | null } | undefined {
    const v = o[field];
    if (v === undefined || v === null) return void this.missing(o, field);
    if (isObject(v)) return { answer: JSON.stringify(v), expected: toolCallOf(v) };
    if (typeof v !== 'string') return void this.add(field, `must be an object or a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
    if (!v.trim()) return void this.add(field, 'is empty');
    return this.oneForm(field, v);
  }

  /** Whether a JSON answer was rewritten into the compact form. */
  normalized = false;

  /** A JSON answer in the compact canonical form; one with a repeated key is a problem, not a call. */
  oneForm(field: string, v: string): { answer: string; expected: ToolCall | null } | undefined {
    const c = compactJson(v);
    if (c && 'duplicate' in c) return void this.add(field, `has the key ${JSON.stringify(c.duplicate)} twice in one object (JSON.parse would keep only the last)`);
    if (c && c.text !== v) this.normalized = true;
    const answer = c ? c.text : v;
    return { answer, expected: parseToolCall(answer) };
  }
}

interface Turn {
  role: string;
  content: string;
}

const SHAREGPT_ROLES: Record<string, string> = { system: 'system', human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant' };

/** Chat turns must be [system?] user assistant: one exchange per row. */
function exchange(turns: Turn[], field: string, check: RowCheck): { system?: string; user: string; answer: string } | undefined {
  const body = turns[0]?.role === 'system' ? turns.slice(1) : turns;
  const offset = turns.length - body.length;
  if (body.length !== 2) {
    check.add(field, body.length > 2
      ? `has ${body.length} turns after the system message; only one user turn followed by one assistant turn is supported`
      : 'needs a user turn followed by an assistant turn');
    return undefined;
  }
  let ok = true;
  (['user', 'assistant'] as const).forEach((role, i) => {
    if (body[i].role !== role) {
      check.add(`${field} turn ${i + offset + 1}`, `expected the ${role} turn here, found "${body[i].role}"`);
      ok = false;
    }
  });
  if (!ok) return undefined;
  if (!body[1].content.trim()) return void check.add(`${field} turn ${offset + 2}`, 'the assistant answer is empty');
  return { system: offset ? turns[0].content : undefined, user: body[0].content, answer: body[1].content };
}

function turnsOf(o: Obj, field: string, roleKey: string, textKey: string, check: RowCheck, mapRole: (r: string) => string | undefined): Turn[] | undefined {
  const list = o[field];
  if (!Array.isArray(list)) return void check.add(field, list === undefined ? 'is missing' : 'must be an array of turns');
  const turns: Turn[] = [];
  let ok = true;
  list.forEach((t, i) => {
    const f = `${field} turn ${i + 1}`;
    if (!isObject(t)) return void ((ok = false), check.add(f, 'must be an object'));
    const role = typeof t[roleKey] === 'string' ? mapRole(t[roleKey] as string) : undefined;
    if (!role) {
      ok = false;
      check.add(`${f} (${roleKey})`, `unknown role ${JSON.stringify(t[roleKey])}`);
    }
    if (typeof t[textKey] !== 'string') {
      ok = false;
      check.add(`${f} (${textKey})`, 'must be a string');
    }
    if (role && typeof t[textKey] === 'string') turns.push({ role, content: t[textKey] as string });
  });
  return ok ? turns : undefined;
}

function toRow(format: DatasetFormat, it: Item, check: RowCheck): DatasetRow | undefined {
  const o = it.value;
  if (!isObject(o)) return void check.add(undefined, 'row is not a JSON object');
  const origin = { ...it.where };
  let system: string | undefined, user: string | undefined, ans: { answer: string; expected: ToolCall | null } | undefined;
  switch (format) {
    case 'seed':
    case 'alpaca': {
      const instrField = format === 'seed' ? 'instruct' : 'instruction';
      const instr = check.text(o, instrField, false);
      const input = check.text(o, 'input', true) ?? '';
      system = check.text(o, 'system', true);
      ans = check.answer(o, 'output');
      if (instr === undefined) break;
      // The seed script concatenates instruct and input as they are; Alpaca joins them with a newline.
      user = format === 'seed' ? instr + input : input ? `${instr}\n${input}` : instr;
      if (!user.trim()) {
        check.add(instrField, 'the user text (instruction and input) is empty');
        user = undefined;
      }
      break;
    }
    case 'chat':
    case 'sharegpt': {
      const sharegpt = format === 'sharegpt';
      const field = sharegpt ? 'conversations' : 'messages';
      const turns = sharegpt
        ? turnsOf(o, field, 'from', 'value', check, (r) => SHAREGPT_ROLES[r])
        : turnsOf(o, field, 'role', 'content', check, (r) => (['system', 'user', 'assistant'].includes(r) ? r : undefined));
      const topSystem = sharegpt ? check.text(o, 'system', true) : undefined;
      const ex = turns && exchange(turns, field, check);
      if (!ex) break;
      system = ex.system ?? topSystem;
      user = ex.user;
      ans = check.oneForm(`${field}[${turns!.length - 1}].${sharegpt ? 'value' : 'content'}`, ex.answer);
      break;
    }
  }
  if (check.issues.length || user === undefined || ans === undefined) return undefined;
  return { ...(system !== undefined ? { system } : {}), user, answer: ans.answer, expected: ans.expected, origin };
}

/** Rows whose format is not known yet wait for this many rows to vote. */
const FORMAT_VOTE_ROWS = 1000;

/**
 * Where a streaming import hands each kept row (the rows are then not kept in the result). A
 * file that turns out not to be UTF-8 is read again from the start: `restart` says so.
 */
export interface RowSink {
  row(r: DatasetRow): void;
  restart(): void;
  /** Awaited after each piece of rows: a slow consumer (eval scoring) holds the reading back. */
  drain?(): Promise<void>;
}

/** Turns streamed items into rows: format vote, row checks, exact duplicates left out. */
class RowBuilder implements ItemSink {
  readonly rows: DatasetRow[] = [];
  /** Rows kept (in `rows`, or handed to the sink). */
  kept = 0;
  /** Streaming: duplicates by 64-bit hash alone, no row text kept. */
  private readonly hashes?: HashMap64;
  readonly issues: DatasetIssue[] = [];
  readonly duplicates: DatasetIssue[] = [];
  duplicateCount = 0;
  normalized = 0;
  items = 0;
  format?: DatasetFormat;
  private waiting: Item[] = [];
  private readonly seen = new Map<number, number | number[]>();

  constructor(
    private readonly file: string,
    forced: DatasetFormat | 'auto' | undefined,
    private readonly sink?: RowSink,
  ) {
    if (forced && forced !== 'auto') this.format = forced;
    if (sink) this.hashes = new HashMap64();
  }

  item(it: Item): void {
    this.items++;
    if (this.format) return this.convert(it);
    this.waiting.push(it);
    if (this.waiting.length >= FORMAT_VOTE_ROWS) this.decide();
  }

  issue(i: DatasetIssue): void {
    this.issues.push(i);
  }

  private decide(): void {
    this.format = detectFormat(this.waiting, this.file);
    const waiting = this.waiting;
    this.waiting = [];
    for (const it of waiting) this.convert(it);
  }

  private convert(it: Item): void {
    const check = new RowCheck(it.where);
    const row = toRow(this.format!, it, check);
    if (!row) {
      for (const i of check.issues) this.issues.push(i);
      return;
    }
    if (check.normalized) this.normalized++;
    const first = this.hashes ? this.streamedDuplicateOf(row) : this.duplicateOf(row)?.origin;
    if (first === undefined) {
      this.kept++;
      if (this.sink) this.sink.row(row);
      else this.rows.push(row);
      return;
    }
    this.duplicateCount++;
    if (this.duplicates.length < 100) this.duplicates.push({ ...row.origin, message: `the same row as ${formatIssue({ ...first, message: '' }).replace(/, $/, '')}; left out` });
  }

  private streamedDuplicateOf(row: DatasetRow): DatasetRow['origin'] | undefined {
    const where = row.origin.line ?? row.origin.index ?? 0;
    const at = this.hashes!.addOrGet(rowHash64(row), where);
    if (at === undefined) return undefined;
    return row.origin.line !== undefined ? { line: at } : { index: at };
  }

  /** The earlier row with the same system, user and answer text, if any. */
  private duplicateOf(row: DatasetRow): DatasetRow | undefined {
    const h = rowHash(row);
    const at = this.seen.get(h);
    const same = (i: number) => this.rows[i].user === row.user && this.rows[i].answer === row.answer && this.rows[i].system === row.system;
    if (at === undefined) this.seen.set(h, this.rows.length);
    else if (typeof at === 'number') {
      if (same(at)) return this.rows[at];
      this.seen.set(h, [at, this.rows.length]);
    } else {
      const hit = at.find(same);
      if (hit !== undefined) return this.rows[hit];
      at.push(this.rows.length);
    }
    return undefined;
  }

  finish(reader: JsonItemReader, encoding: TextEncodingName): ImportResult {
    if (!this.format && this.waiting.length) this.decide();
    if (this.items === 0) throw new DatasetError(this.file, this.issues.length ? this.issues : [{ message: 'no rows' }]);
    // Lines that were not JSON were found first; report everything in file order.
    this.issues.sort((a, b) => (a.line ?? a.index ?? 0) - (b.line ?? b.index ?? 0));
    if (this.kept === 0) throw new DatasetError(this.file, this.issues);
    return {
      file: this.file, format: this.format!, container: reader.container!, rows: this.rows, kept: this.kept, issues: this.issues, total: reader.rows, encoding,
      duplicates: { count: this.duplicateCount, examples: this.duplicates }, normalized: this.normalized,
    };
  }
}

/** 32-bit FNV-1a over the three texts; collisions are settled by comparing the texts. */
function rowHash(r: DatasetRow): number {
  let h = 0x811c9dc5;
  for (const s of [r.system ?? '\u0000', r.user, r.answer]) {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0xffff, 0x01000193);
  }
  // Signed: small integers are Map keys V8 hashes without boxing.
  return h | 0;
}

/** A dataset already in memory as text (pasted, or restored). */
export function importDataset(text: string, opts: ImportOptions = {}): ImportResult {
  const file = opts.file ?? 'dataset';
  const rows = new RowBuilder(file, opts.format);
  const reader = new JsonItemReader(file, rows);
  reader.push(text);
  reader.end();
  return rows.finish(reader, 'UTF-8');
}

export interface ImportProgress {
  bytes: number;
  totalBytes: number;
  rows: number;
}

export interface StreamImportOptions extends ImportOptions {
  /** Hand each kept row here instead of keeping it: memory then stays bounded by one piece of the file. */
  sink?: RowSink;
  onProgress?: (p: ImportProgress) => void;
  /** Longest stretch of work between two yields to the event loop (default 25 ms). */
  sliceMs?: number;
}

/** Characters handed to the reader between two looks at the clock (about 5 ms of rows). */
const SUB_PIECE = 16_384;

const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * A dataset file read as it streams: the encoding found (see encoding.ts), rows parsed piece by
 * piece, the event loop given a turn every few milliseconds so a page never freezes.
 */
export async function importDatasetBlob(blob: Blob, opts: StreamImportOptions = {}): Promise<ImportResult> {
  const file = opts.file ?? 'dataset';
  const bom = sniffBom(new Uint8Array(await blob.slice(0, 3).arrayBuffer()));
  const run = async (encoding: TextEncodingName) => {
    const rows = new RowBuilder(file, opts.format, opts.sink);
    const reader = new JsonItemReader(file, rows);
    let last = performance.now();
    const turn = async (bytes: number) => {
      await opts.sink?.drain?.();
      if (performance.now() - last <= (opts.sliceMs ?? 25)) return;
      opts.onProgress?.({ bytes, totalBytes: blob.size, rows: reader.rows });
      await pause();
      last = performance.now();
    };
    for await (const piece of decodeBlob(blob, encoding, bom?.encoding === encoding ? bom.bytes : 0)) {
      // A piece (256 KiB) is a few thousand rows, 50-100 ms of work on a busy page: it goes in at
      // line ends, a few rows at a time. A long line is never cut (the reader would copy it again).
      let text = piece.text;
      for (let nl = text.lastIndexOf('\n', SUB_PIECE); text.length > SUB_PIECE && nl >= 0; nl = text.lastIndexOf('\n', SUB_PIECE)) {
        reader.push(text.slice(0, nl + 1));
        text = text.slice(nl + 1);
        await turn(piece.bytes);
      }
      reader.push(text);
      await turn(piece.bytes);
    }
    reader.end();
    opts.onProgress?.({ bytes: blob.size, totalBytes: blob.size, rows: reader.rows });
    const done = rows.finish(reader, encoding);
    await opts.sink?.drain?.();
    return done;
  };
  try {
    return await run(bom?.encoding ?? 'UTF-8');
  } catch (e) {
    if (!(e instanceof EncodingFault)) throw e;
  }
  opts.sink?.restart();
  return run(await diagnoseEncoding(blob, bom, file));
}

// The split lives in split.ts (sizes without a pass over the rows, for the page); kept importable here.
export { splitDataset, type SplitOptions } from './split.ts';
