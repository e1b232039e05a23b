// A dataset file straight into a token store, in memory bounded by the model and the batch, not
// the file: rows stream from the file (dataset.ts), duplicates go by 64-bit hash (row-hashes.ts),
// each row is checked for control text, measured, tokenized once and kept only as tokens
// (token-store.ts). A row too long for max length is measured by its character count (at least
// one token per maxTokenBytes characters) and cut to what could matter before it is tokenized,
// so a 10 MB row costs a few milliseconds, not a minute; one whose prompt fills max length is
// skipped and counted.

import { DatasetError, type DatasetIssue } from '../core/errors.ts';
import type { ChatTokenizer } from '../tokenizer/tokenizer.ts';
import { controlTextIssues, controlTokens } from './control-text.ts';
import { importDatasetBlob, splitDataset, type DatasetRow, type ImportResult } from './dataset.ts';
import { DEFAULT_EXAMPLE_OPTIONS, encodePrompt, exampleFrom, renderPrompt, type ExampleOptions } from './examples.ts';
import { CONTENT_MARK, encodePlain } from './control-text.ts';
import { TokenStore } from './token-store.ts';

export interface StreamExampleOptions extends Pick<ExampleOptions, 'system' | 'maxLength'> {
  file: string;
  /** Rows spelling control tokens are encoded as plain text; without it they are bad data. */
  allowControlText: boolean;
  onProgress?: (p: { bytes: number; totalBytes: number; rows: number }) => void;
  /** A new, empty store (the CLI's spills to disk past a budget); an in-memory one without it. */
  newStore?: () => TokenStore;
}

export interface StreamedExamples {
  /** The import without rows (rows.length is 0): counts, encoding, duplicates. */
  import: ImportResult;
  /** One example per kept row, in file order (rows whose prompt fills max length included: they have no label). */
  store: TokenStore;
  /** Where each stored example came from: line (JSONL) or index (JSON array). */
  origins: Uint32Array;
  /** Rows whose text was longer than could matter and was cut before tokenizing. */
  clipped: number;
  /** Prompt tokens of the stored examples whose prompt fills max length (at least this many, for a cut row). */
  longPrompts: Map<number, number>;
}

/** `text` cut to `chars` characters, never between the halves of a surrogate pair. */
function clip(text: string, chars: number): string {
  if (text.length <= chars) return text;
  const c = text.charCodeAt(chars - 1);
  return text.slice(0, c >= 0xd800 && c <= 0xdbff ? chars - 1 : chars);
}

const MARKS = [CONTENT_MARK(0), CONTENT_MARK(1)];

/**
 * The prompt text of a row without a template render each: the template rendered once with
 * placeholders, the contents put in their place. Only where that is what the render gives: the
 * template must show each content once, and rows whose text could steer a template (leading or
 * trailing space, a leading "<", the placeholder character) are rendered for real, as are the
 * first rows, each compared with the shortcut (any difference turns the shortcut off).
 */
function promptRenderer(tok: ChatTokenizer, system: string): (row: Pick<DatasetRow, 'system' | 'user'>) => string {
  const full = (row: Pick<DatasetRow, 'system' | 'user'>) => renderPrompt(tok, row, { system });
  const shape = tok.renderChat(
    [
      { role: 'system', content: MARKS[0] },
      { role: 'user', content: MARKS[1] },
    ],
    { addGenerationPrompt: true },
  );
  const at0 = shape.indexOf(MARKS[0]),
    at1 = shape.indexOf(MARKS[1]);
  if (at0 < 0 || at1 < at0 || shape.indexOf(MARKS[0], at0 + 1) >= 0 || shape.indexOf(MARKS[1], at1 + 1) >= 0)
    return full;
  const [a, b, c] = [shape.slice(0, at0), shape.slice(at0 + MARKS[0].length, at1), shape.slice(at1 + MARKS[1].length)];
  const plain = (t: string) => t.length > 0 && t.trim() === t && t[0] !== '<' && !t.includes('\uE000');
  let checks = 0,
    on = true;
  return (row) => {
    const sys = row.system ?? system;
    if (!on || !plain(sys) || !plain(row.user)) return full(row);
    const fast = a + sys + b + row.user + c;
    if (checks < 50) {
      checks++;
      if (full(row) !== fast) on = false;
      return full(row);
    }
    return fast;
  };
}

/**
 * Streams `blob` into a TokenStore. Refuses (DatasetError) a file with bad rows, and rows that
 * spell a control token unless allowed, listing them with line and field.
 */
export async function streamExamples(
  blob: Blob,
  tok: ChatTokenizer,
  opts: StreamExampleOptions,
): Promise<StreamedExamples> {
  const o = { ...DEFAULT_EXAMPLE_OPTIONS, system: opts.system, maxLength: opts.maxLength };
  const tokens = controlTokens(tok);
  const end = tok.tokenId(o.endToken)!;
  // Past this many characters a text has more tokens than max length (plus a margin for the cut).
  const limit = (o.maxLength + 8) * tok.maxTokenBytes;
  const render = promptRenderer(tok, o.system);
  let store = opts.newStore?.() ?? new TokenStore();
  let origins: number[] = [];
  let clipped = 0;
  let longPrompts = new Map<number, number>();
  const control: DatasetIssue[] = [];
  let controlCount = 0;
  const sink = {
    row(r: DatasetRow) {
      const row = {
        ...r,
        system: r.system === undefined ? undefined : clip(r.system, limit),
        user: clip(r.user, limit),
        answer: clip(r.answer, limit),
      };
      if (row.user !== r.user || row.answer !== r.answer || row.system !== r.system) clipped++;
      const { issues, count } = controlTextIssues([row], tokens);
      let allowed: readonly string[] | undefined;
      if (count) {
        if (!opts.allowControlText) {
          controlCount++;
          if (control.length < 20) for (const i of issues) control.push(i);
          return;
        }
        allowed = tokens;
      }
      // Rows with control text take the plain-text path; the others are the template's text, tokenized once.
      const prompt = allowed
        ? encodePrompt(tok, row, { system: o.system, controlTokens: allowed })
        : tok.encode(render(row));
      // A prompt that fills max length leaves no answer token: its answer is never tokenized.
      const answer =
        prompt.length >= o.maxLength ? [] : allowed ? encodePlain(tok, row.answer, allowed) : tok.encode(row.answer);
      const at = store.add(exampleFrom(prompt, answer, end, o.maxLength));
      if (prompt.length >= o.maxLength) longPrompts.set(at, prompt.length);
      origins.push(r.origin.line ?? r.origin.index ?? 0);
    },
    restart() {
      store = opts.newStore?.() ?? new TokenStore();
      origins = [];
      clipped = 0;
      longPrompts = new Map();
      control.length = 0;
      controlCount = 0;
    },
  };
  const result = await importDatasetBlob(blob, { file: opts.file, sink, onProgress: opts.onProgress });
  if (result.issues.length) throw new DatasetError(opts.file, result.issues);
  if (controlCount) {
    if (controlCount > control.length)
      control.push({ message: `${controlCount - control.length} more row(s) spell a control token` });
    throw new DatasetError(opts.file, control);
  }
  return { import: result, store, origins: Uint32Array.from(origins), clipped, longPrompts };
}

/** The stored examples of one side of a seeded split (all without a fraction), as splitDataset picks rows. */
export function splitIndices(
  count: number,
  fraction: number | undefined,
  seed: number,
  side: 'train' | 'eval',
): Uint32Array {
  const all = Array.from({ length: count }, (_, i) => i);
  if (!fraction) return Uint32Array.from(all);
  return Uint32Array.from(splitDataset(all, { evalFraction: fraction, seed })[side]);
}
