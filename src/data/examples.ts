// Dataset rows to token ids exactly as the PyTorch seed script builds them: the chat-template
// prompt (system + user + `<|im_start|>assistant\n`) tokenized on its own, the answer tokenized
// on its own, one end token, labels -100 on every prompt token, then cut to the max length.
// Tokenizing the two parts separately matters: it is what the seed does, and BPE of the
// concatenation could merge across the boundary.

import type { TrainExample } from '../engine/engine.ts';
import type { ChatMessage, ChatTokenizer } from '../tokenizer/tokenizer.ts';
import { IM_END } from '../tokenizer/tokenizer.ts';
import { TokenizerError } from '../core/errors.ts';
import { encodePlain, promptIdsPlain, spelledControl } from './control-text.ts';
import type { DatasetRow } from './dataset.ts';

export const DEFAULT_SYSTEM_PROMPT = '现在你要扮演会议语音助手';
export const DEFAULT_MAX_LENGTH = 384;
export const IGNORE_INDEX = -100;

export interface ExampleOptions {
  /** System prompt for rows that bring none. */
  system: string;
  /** Longest example in tokens; longer ones are cut at the end, as the seed's input_ids[:MAX_LENGTH]. */
  maxLength: number;
  /** Token appended to every answer (and learned): `<|im_end|>`, or `<|endoftext|>` as in scripts that append pad_token_id. */
  endToken: string;
  /**
   * The tokenizer's control tokens (control-text.ts), given when the user allows rows that spell
   * them: such rows are then encoded with the spelled tokens as plain text. Without it, the
   * caller has refused such rows already.
   */
  controlTokens?: readonly string[];
}

export const DEFAULT_EXAMPLE_OPTIONS: ExampleOptions = {
  system: DEFAULT_SYSTEM_PROMPT,
  maxLength: DEFAULT_MAX_LENGTH,
  endToken: IM_END,
};

type PromptRow = Pick<DatasetRow, 'user' | 'system'>;

export function promptMessages(row: PromptRow, system = DEFAULT_SYSTEM_PROMPT): ChatMessage[] {
  return [
    { role: 'system', content: row.system ?? system },
    { role: 'user', content: row.user },
  ];
}

/** The prompt text: system and user turns, then the generation prompt the answer follows. */
export function renderPrompt(tok: ChatTokenizer, row: PromptRow, opts: Partial<ExampleOptions> = {}): string {
  return tok.renderChat(promptMessages(row, opts.system ?? DEFAULT_SYSTEM_PROMPT), { addGenerationPrompt: true });
}

/** Prompt ids only, for evaluation and chat: the same tokens training conditions on. */
export function encodePrompt(tok: ChatTokenizer, row: PromptRow, opts: Partial<ExampleOptions> = {}): Int32Array {
  const c = opts.controlTokens;
  const system = row.system ?? opts.system ?? DEFAULT_SYSTEM_PROMPT;
  if (c && (spelledControl(system, c) || spelledControl(row.user, c)))
    return Int32Array.from(promptIdsPlain(tok, system, row.user, c));
  return Int32Array.from(tok.encode(renderPrompt(tok, row, opts)));
}

export function toTrainExample(
  tok: ChatTokenizer,
  row: Pick<DatasetRow, 'user' | 'system' | 'answer'>,
  opts: Partial<ExampleOptions> = {},
): TrainExample {
  const o = { ...DEFAULT_EXAMPLE_OPTIONS, ...opts };
  if (!Number.isInteger(o.maxLength) || o.maxLength < 1)
    throw new RangeError(`maxLength must be a positive integer, got ${o.maxLength}`);
  const end = tok.tokenId(o.endToken);
  if (end === undefined) throw new TokenizerError(`end token ${o.endToken} is not in the vocabulary`);
  const prompt = encodePrompt(tok, row, o);
  const answer = o.controlTokens ? encodePlain(tok, row.answer, o.controlTokens) : tok.encode(row.answer);
  return exampleFrom(prompt, answer, end, o.maxLength);
}

/** Prompt, answer and end token as one example cut to `maxLength`; labels -100 on the prompt. */
export function exampleFrom(
  prompt: ArrayLike<number>,
  answer: ArrayLike<number>,
  end: number,
  maxLength: number,
): TrainExample {
  const total = prompt.length + answer.length + 1;
  const n = Math.min(total, maxLength);
  const ids = new Int32Array(n);
  const labels = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    const a = t - prompt.length;
    ids[t] = a < 0 ? prompt[t] : a < answer.length ? answer[a] : end;
    labels[t] = a < 0 ? IGNORE_INDEX : ids[t];
  }
  return { ids, labels, truncated: total - n };
}

export function toTrainExamples(
  tok: ChatTokenizer,
  rows: readonly Pick<DatasetRow, 'user' | 'system' | 'answer'>[],
  opts: Partial<ExampleOptions> = {},
): TrainExample[] {
  return rows.map((r) => toTrainExample(tok, r, opts));
}

/** Label tokens the loss sees: position 0 never counts (logits at t predict t + 1). */
export function labelCount(ex: Pick<TrainExample, 'labels'>): number {
  let n = 0;
  for (let t = 1; t < ex.labels.length; t++) if (ex.labels[t] !== IGNORE_INDEX) n++;
  return n;
}

/** Why a row yields no training example. */
export type SkipReason = 'answerCutOff';

export interface SkippedRows {
  count: number;
  /** Where the first few are (line or index in the file). */
  first: DatasetRow['origin'][];
}

export interface ExampleSet {
  examples: TrainExample[];
  /** The dataset row of each example. */
  rows: DatasetRow[];
  skipped: Partial<Record<SkipReason, SkippedRows>>;
  /** Longest prompt among the skipped rows, in tokens: what the max length would need to exceed. */
  longestSkippedPrompt: number;
}

/**
 * Examples for training or eval loss, leaving out rows that would teach nothing: a prompt that
 * fills the max length cuts the whole answer away, and such a row gives a 0/0 loss. Callers
 * report the count, and stop when no row is left.
 */
export function buildExamples(
  tok: ChatTokenizer,
  rows: readonly DatasetRow[],
  opts: Partial<ExampleOptions> = {},
): ExampleSet {
  return keepLabelled(
    rows,
    rows.map((r) => toTrainExample(tok, r, opts)),
    (r) => encodePrompt(tok, r, opts).length,
  );
}

/** buildExamples over examples made already (the page tokenizes in slices); `promptTokens` is asked only of skipped rows. */
export function keepLabelled(
  rows: readonly DatasetRow[],
  examples: readonly TrainExample[],
  promptTokens: (row: DatasetRow) => number,
): ExampleSet {
  const set: ExampleSet = { examples: [], rows: [], skipped: {}, longestSkippedPrompt: 0 };
  examples.forEach((ex, i) => {
    const row = rows[i];
    if (labelCount(ex) > 0) {
      set.examples.push(ex);
      set.rows.push(row);
      return;
    }
    const s = (set.skipped.answerCutOff ??= { count: 0, first: [] });
    s.count++;
    if (s.first.length < 5) s.first.push(row.origin);
    set.longestSkippedPrompt = Math.max(set.longestSkippedPrompt, promptTokens(row));
  });
  return set;
}

const where = (o: DatasetRow['origin']) =>
  o.line !== undefined ? `line ${o.line}` : o.index !== undefined ? `row ${o.index + 1}` : '?';

/** "3 rows skipped: ..." for logs and the CLI; empty when nothing was skipped. */
export function describeSkipped(set: Pick<ExampleSet, 'skipped'>, maxLength: number): string[] {
  const out: string[] = [];
  const cut = set.skipped.answerCutOff;
  if (cut)
    out.push(
      `${cut.count} row(s) skipped: the prompt fills the max length ${maxLength}, so no answer token is left to learn (${cut.first.map(where).join(', ')}${cut.count > cut.first.length ? ', ...' : ''})`,
    );
  return out;
}

export interface LengthStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  p95: number;
  /** Label (answer + end) tokens over all examples. */
  labelTokens: number;
  truncatedRows: number;
  truncatedTokens: number;
  /** Examples whose answer was cut away entirely: they teach nothing and give a 0/0 loss. */
  noLabelRows: number;
  /** counts[i] = examples with binWidth*i <= length < binWidth*(i+1). */
  histogram: { binWidth: number; counts: number[] };
}

function quantile(sorted: number[], q: number): number {
  // Nearest rank: an actual example length, which is what a histogram reader expects.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Token-length summary for the UI's histogram and the truncation warning. */
export function lengthStats(examples: readonly TrainExample[], bins = 20): LengthStats {
  const lengths = examples.map((e) => e.ids.length).sort((a, b) => a - b);
  const count = lengths.length;
  const max = count ? lengths[count - 1] : 0;
  const binWidth = Math.max(1, Math.ceil((max + 1) / bins));
  const counts = new Array<number>(Math.ceil((max + 1) / binWidth)).fill(0);
  for (const l of lengths) counts[Math.floor(l / binWidth)]++;
  let labelTokens = 0,
    truncatedRows = 0,
    truncatedTokens = 0,
    noLabelRows = 0;
  for (const e of examples) {
    const labelled = e.labels.reduce((a, l) => a + (l !== IGNORE_INDEX ? 1 : 0), 0);
    labelTokens += labelled;
    if (labelled === 0) noLabelRows++;
    if (e.truncated > 0) {
      truncatedRows++;
      truncatedTokens += e.truncated;
    }
  }
  return {
    count,
    min: count ? lengths[0] : 0,
    max,
    mean: count ? lengths.reduce((a, b) => a + b, 0) / count : 0,
    median: count ? quantile(lengths, 0.5) : 0,
    p95: count ? quantile(lengths, 0.95) : 0,
    labelTokens,
    truncatedRows,
    truncatedTokens,
    noLabelRows,
    histogram: { binWidth, counts },
  };
}
