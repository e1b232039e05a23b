// Dataset import: the seed format ({instruct, input, output}) as a JSON array or JSON lines,
// Alpaca, chat {messages} and ShareGPT {conversations}, all normalised to one row type.
// importDataset is pure: it returns a new result or throws, so a failed import can never
// disturb the dataset the caller already holds. Every problem is reported, not only the first.
// Rows stream in (json-items.ts) and are checked one at a time; exact duplicates are left out
// here, before any split, so one row cannot land on both the training and the held-out side.

import { DatasetError, formatIssue, type DatasetIssue } from '../core/errors.ts';
import { decodeBlob, diagnoseEncoding, EncodingFault, sniffBom, type TextEncodingName } from './encoding.ts';
import { JsonItemReader, type Item, type ItemSink } from './json-items.ts';
import { HashMap64, rowHash64 } from './row-hashes.ts';
import { RowCheck, detectFormat, toRow, type DatasetFormat, type DatasetRow } from './row-formats.ts';
// What one row means in each format is in row-formats.ts; this file streams rows in and keeps them.

export { DATASET_FORMATS, parseToolCall, type DatasetFormat, type DatasetRow, type ToolCall } from './row-formats.ts';

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
    if (this.duplicates.length < 100)
      this.duplicates.push({
        ...row.origin,
        message: `the same row as ${formatIssue({ ...first, message: '' }).replace(/, $/, '')}; left out`,
      });
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
    const same = (i: number) =>
      this.rows[i].user === row.user && this.rows[i].answer === row.answer && this.rows[i].system === row.system;
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
    if (this.items === 0)
      throw new DatasetError(this.file, this.issues.length ? this.issues : [{ message: 'no rows' }]);
    // Lines that were not JSON were found first; report everything in file order.
    this.issues.sort((a, b) => (a.line ?? a.index ?? 0) - (b.line ?? b.index ?? 0));
    if (this.kept === 0) throw new DatasetError(this.file, this.issues);
    return {
      file: this.file,
      format: this.format!,
      container: reader.container!,
      rows: this.rows,
      kept: this.kept,
      issues: this.issues,
      total: reader.rows,
      encoding,
      duplicates: { count: this.duplicateCount, examples: this.duplicates },
      normalized: this.normalized,
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
      for (
        let nl = text.lastIndexOf('\n', SUB_PIECE);
        text.length > SUB_PIECE && nl >= 0;
        nl = text.lastIndexOf('\n', SUB_PIECE)
      ) {
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
