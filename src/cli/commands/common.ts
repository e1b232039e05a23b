// What the CLI commands share: their I/O streams, engine setup over a model folder, and
// dataset loading that stops on the first bad file with every problem in it.

import { openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DatasetError, ModelFilesError, formatIssue } from '../../core/errors.ts';
import {
  importDatasetBlob,
  splitDataset,
  type DatasetRow,
  type ImportResult,
  type RowSink,
} from '../../data/dataset.ts';
import { evalCount } from '../../data/split.ts';
import { seededShuffle } from '../../core/rng.ts';
import { guessMapping, mappedJsonLines, mappingProblem, parseDelimited, sniffDelimited } from '../../data/delimited.ts';
import { streamExamples, type StreamedExamples, type StreamExampleOptions } from '../../data/stream-examples.ts';
import { TokenStore } from '../../data/token-store.ts';
import { FileSpill } from '../token-spill.ts';
import { createEngine, type CreateEngineOptions, type EngineKind } from '../../engine/create.ts';
import type { Engine, LoraSettings } from '../../engine/engine.ts';
import type { Quantization } from '../../core/nf4.ts';
import type { ModelFolder } from '../model-folder.ts';
import { weightReader } from '../model-folder.ts';
import type { TextStream } from '../progress.ts';
import type { ChatTokenizer } from '../../tokenizer/tokenizer.ts';
import { controlTextIssues, controlTokens } from '../../data/control-text.ts';
import type { FlagSpec } from '../args.ts';

export interface CliIo {
  stdout: TextStream;
  stderr: TextStream;
}

export const ENGINE_FLAG: FlagSpec = {
  kind: 'choice',
  choices: ['cpu', 'webgpu'],
  help: 'compute engine (default cpu)',
};
export const QUANT_FLAG: FlagSpec = {
  kind: 'choice',
  choices: ['none', 'nf4'],
  help: 'base weights: as stored (none, default) or 4-bit NF4 for the seven projections (QLoRA)',
};
export const QUIET_FLAG: FlagSpec = { kind: 'bool', help: 'no progress bar' };
export const F16_FLAG: FlagSpec = {
  kind: 'choice',
  choices: ['on', 'off'],
  help: 'WebGPU: the shader-f16 matmul tiles where the device has them (on, default) or f32 tiles everywhere (off)',
};

/** WebGPU device options from --f16: off asks for no shader-f16 (the f32 kernel path). */
export function f16Options(flag: unknown): CreateEngineOptions {
  return flag === 'off' ? { gpu: { features: { f16: false } } } : {};
}

export function line(s: TextStream, text: string): void {
  s.write(text + '\n');
}

/**
 * Every row of a dataset file, or a DatasetError listing every problem in it. The file streams in
 * (a million rows never exist as one string); its encoding and left-out duplicates are noted.
 */
async function openDataset(path: string): Promise<Blob> {
  let blob: Blob;
  try {
    if (!(await stat(path)).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a file' });
    blob = await openAsBlob(path);
  } catch (e) {
    throw new ModelFilesError(
      path,
      `cannot read the dataset (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  // A spreadsheet's CSV/TSV: its columns are mapped by their header names (the page asks instead).
  const delimiter = sniffDelimited(await blob.slice(0, 4096).text());
  if (!delimiter) return blob;
  const table = parseDelimited(await blob.text(), delimiter, path);
  const mapping = guessMapping(table.header);
  const problem = mappingProblem(mapping);
  if (problem)
    throw new DatasetError(path, [
      {
        line: 1,
        message: `a table whose columns cannot be told apart: ${problem}; name the header's columns input (or question, prompt) and output (or answer, response), optionally instruct and system (it has: ${table.header.join(', ')})`,
      },
    ]);
  return new Blob([mappedJsonLines(table, mapping)]);
}

export async function loadRows(path: string, io?: CliIo): Promise<DatasetRow[]> {
  const result = await importDatasetBlob(await openDataset(path), { file: path });
  // Training on the rows that happen to parse would hide the broken ones: stop instead.
  if (result.issues.length) throw new DatasetError(path, result.issues);
  if (io) noteImport(path, result, io);
  return result.rows;
}

/**
 * The n-th kept row (1-based, file order, repeats of an earlier row left out first) and how many
 * rows the file keeps: the file streams through and only that one row is held, so memory is
 * bounded by the duplicate hashes (8 bytes a row), not the rows.
 */
export async function loadRow(path: string, n: number, io?: CliIo): Promise<{ row?: DatasetRow; rows: number }> {
  let row: DatasetRow | undefined;
  let rows = 0;
  await streamRows(path, { row: (r) => ++rows === n && (row = r), restart: () => ((rows = 0), (row = undefined)) }, io);
  return { row, rows };
}

/** Each kept row of a file handed to `sink` as it streams in (none held here); stops on a bad file as loadRows does. */
export async function streamRows(path: string, sink: RowSink, io?: CliIo): Promise<ImportResult> {
  const result = await importDatasetBlob(await openDataset(path), { file: path, sink });
  if (result.issues.length) throw new DatasetError(path, result.issues);
  if (io) noteImport(path, result, io);
  return result;
}

/**
 * The rows `eval` scores, as splitRows(loadRows(...)) then --limit would give them, without
 * holding the rest: the file streams through and only the evaluated rows are kept (with a split,
 * a first pass counts the rows so the seeded draw of held-out indices is splitDataset's own).
 */
export async function loadEvalRows(
  path: string,
  fraction: number | undefined,
  seed: number,
  limit: number | undefined,
  io?: CliIo,
): Promise<DatasetRow[]> {
  let rows: DatasetRow[] = [];
  await streamEvalRows(
    path,
    fraction,
    seed,
    limit,
    (r) => void rows.push(r),
    () => (rows = []),
    io,
  );
  return rows;
}

/**
 * The same rows handed to `each` as the file streams, none held: `each` is awaited a piece of
 * the file at a time, so a slow consumer (scoring) holds the reading back and memory stays at a
 * piece of rows. `restart` says the file is being read again from the top (another encoding).
 * Returns how many rows were handed over.
 */
export async function streamEvalRows(
  path: string,
  fraction: number | undefined,
  seed: number,
  limit: number | undefined,
  each: (r: DatasetRow) => void | Promise<void>,
  restart: () => void,
  io?: CliIo,
): Promise<number> {
  const max = limit ?? Infinity;
  let keep: (i: number) => boolean = () => true;
  if (fraction) {
    const { rows: n } = await loadRow(path, 0);
    if (n < 2)
      throw new DatasetError(path, [
        {
          message: `--eval-fraction ${fraction} needs at least 2 rows (one to train on, one to hold out); the file has ${n}`,
        },
      ]);
    const held = new Set(seededShuffle([...Array(n).keys()], seed).slice(0, evalCount(n, fraction)));
    keep = (i) => held.has(i);
  }
  let at = 0,
    handed = 0;
  let queue: DatasetRow[] = [];
  await streamRows(
    path,
    {
      row: (r) => {
        if (keep(at++) && handed < max) {
          handed++;
          queue.push(r);
        }
      },
      restart: () => {
        at = handed = 0;
        queue = [];
        restart();
      },
      drain: async () => {
        const q = queue;
        queue = [];
        for (const r of q) await each(r);
      },
    },
    io,
  );
  return handed;
}

function noteImport(path: string, result: ImportResult, io: CliIo): void {
  if (result.encoding !== 'UTF-8')
    line(io.stderr, `note: ${path} is ${result.encoding}, not UTF-8; read as ${result.encoding}`);
  const d = result.duplicates;
  if (d.count)
    line(
      io.stderr,
      `note: ${d.count} row(s) of ${path} repeat an earlier row and were left out (${d.examples.slice(0, 3).map(formatIssue).join('; ')}${d.count > 3 ? '; ...' : ''})`,
    );
  if (result.normalized)
    line(
      io.stderr,
      `note: ${result.normalized} JSON answer(s) of ${path} rewritten in the compact form (no spaces, characters unescaped), the one form trained, written and constrained`,
    );
}

export const ALLOW_CONTROL_FLAG: FlagSpec = {
  kind: 'bool',
  help: 'train on rows that spell a chat control token (<|im_end|>...), encoding the spelling as plain text; without it such rows are refused',
};

/**
 * The tokenizer's control tokens when the user allows rows that spell them (to be encoded as
 * plain text); without --allow-control-text a row spelling one is bad data (exit 3, line and field).
 */
export function controlTextPolicy(
  tok: ChatTokenizer,
  rows: readonly DatasetRow[],
  file: string,
  allow: boolean,
): readonly string[] | undefined {
  const tokens = controlTokens(tok);
  if (allow) return tokens;
  const { issues } = controlTextIssues(rows, tokens);
  if (issues.length) throw new DatasetError(file, issues);
  return undefined;
}

/** Tokens the CLI's token store keeps in memory (256 MiB); WEBTUNE_TOKEN_BUDGET overrides it. */
const TOKEN_BUDGET = 64 << 20;

/**
 * A dataset file streamed into a token store (stream-examples.ts): memory bounded by the budget,
 * not the rows. Notes the encoding, duplicates and cut rows as loadRows does.
 */
export async function loadExamples(
  path: string,
  tok: ChatTokenizer,
  opts: Omit<StreamExampleOptions, 'file'>,
  io: CliIo,
): Promise<StreamedExamples> {
  // Tokens past the budget go to a temporary file (unlinked at once), read back as batches are taken.
  const budgetTokens = Number(process.env.WEBTUNE_TOKEN_BUDGET) || TOKEN_BUDGET;
  const spill = new FileSpill();
  const r = await streamExamples(await openDataset(path), tok, {
    ...opts,
    file: path,
    newStore: () => new TokenStore({ budgetTokens, spill }),
  });
  noteImport(path, r.import, io);
  if (r.clipped)
    line(
      io.stderr,
      `note: ${r.clipped} row(s) of ${path} are far longer than --max-length ${opts.maxLength}; only their first part was tokenized`,
    );
  return r;
}

export const SPLIT_FLAG: FlagSpec = {
  kind: 'number',
  min: 0,
  below: 1,
  help: 'hold out this share of the rows for evaluation (same --seed in train and eval picks the same rows)',
};

/** The train or eval side of a seeded split; the whole file when no fraction is given. Neither side may end up empty. */
export function splitRows(
  rows: DatasetRow[],
  fraction: number | undefined,
  seed: number,
  side: 'train' | 'eval',
  file: string,
): DatasetRow[] {
  if (!fraction) return rows;
  if (rows.length < 2)
    throw new DatasetError(file, [
      {
        message: `--eval-fraction ${fraction} needs at least 2 rows (one to train on, one to hold out); the file has ${rows.length}`,
      },
    ]);
  return splitDataset(rows, { evalFraction: fraction, seed })[side];
}

/** A new engine with the model loaded; with `io`, WebGPU's kernel path and self-check notices go to stderr. */
export async function loadEngine(
  kind: EngineKind,
  model: ModelFolder,
  lora: LoraSettings,
  maxBatch: number,
  maxSeq: number,
  quant: Quantization = 'none',
  opts: CreateEngineOptions = {},
  io?: CliIo,
): Promise<Engine> {
  const engine = await createEngine(kind, opts);
  try {
    const info = await engine.info();
    if (io) {
      if (info.kernels) line(io.stderr, `kernels: ${info.kernels}`);
      for (const n of info.notices ?? []) line(io.stderr, `notice: ${n}`);
    }
    await engine.load(model.config, weightReader(model), { maxBatch, maxSeq, lora, quant });
  } catch (e) {
    await engine.dispose();
    throw e;
  }
  return engine;
}
