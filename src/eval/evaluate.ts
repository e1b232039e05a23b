// Runs greedy decoding over evaluation rows with the training prompt template and scores the
// answers. The engine and tokenizer are passed in, so the worker, the CLI and tests share it.

import type { DecodeOptions, GenerateOptions } from '../engine/engine.ts';
import { GREEDY } from '../engine/engine.ts';
import type { DatasetRow } from '../data/dataset.ts';
import { encodePrompt, type ExampleOptions } from '../data/examples.ts';
import type { ChatTokenizer } from '../tokenizer/tokenizer.ts';
import { EvaluationError } from '../core/errors.ts';
import { ReportBuilder, type EvalReport, type Prediction, type WrongAnswer } from './metrics.ts';

export type EvalRow = Pick<DatasetRow, 'user' | 'system' | 'answer' | 'expected'> & Partial<Pick<DatasetRow, 'origin'>>;

export interface EvalPrediction extends Prediction {
  user: string;
}

/** What evaluation needs of an engine: the Engine itself, or the worker's proxy of it. */
export interface BatchGenerator<O extends GenerateOptions> {
  generateBatch(prompts: Int32Array[], opts: O): Promise<{ tokens: Int32Array }[]>;
}

export interface EvaluateOptions<O extends GenerateOptions = DecodeOptions> {
  encodePrompt: (row: EvalRow) => Int32Array;
  decode: (ids: Int32Array) => string;
  /** Ids that end an answer (not part of it). */
  stopTokens: number[];
  maxNewTokens?: number;
  /** Prompts decoded together (default 8): one weight pass serves the whole batch. */
  batchSize?: number;
  onProgress?: (done: number, total: number, last: EvalPrediction) => void;
  signal?: AbortSignal;
  /** Merged into the decoding options: a TokenConstraint next to an engine, a tool schema for the worker. */
  generation?: Partial<O>;
  /** Merged per batch after `generation`: what depends on the rows, such as span constraints tied to their utterances. */
  generationFor?: (rows: readonly EvalRow[]) => Partial<O>;
  /** The model's positions (max_position_embeddings): a prompt that leaves no room for the answer is skipped. */
  maxPositions?: number;
  /** A cheap lower bound of a row's prompt tokens: a row already past maxPositions by it is skipped untokenized (a 10 MB row costs nothing). */
  minPromptTokens?: (row: EvalRow) => number;
}

export interface SkippedEvalRow {
  user: string;
  origin?: DatasetRow['origin'];
  promptTokens: number;
  /** promptTokens is a lower bound (the row was too long to be worth tokenizing). */
  atLeast?: boolean;
}

export interface EvaluateResult {
  report: EvalReport;
  predictions: EvalPrediction[];
  /** Rows left out because prompt + answer would not fit the model's positions. */
  skipped: SkippedEvalRow[];
}

/** Greedy answers for each row, decoded in batches, then the metrics. Tool rows are scored as calls, others as text. */
export async function evaluateRows<O extends GenerateOptions = DecodeOptions>(
  engine: BatchGenerator<O>,
  rows: readonly EvalRow[],
  opts: EvaluateOptions<O>,
): Promise<EvaluateResult> {
  if (rows.length === 0) throw new EvaluationError('there are no rows to evaluate');
  const predictions: EvalPrediction[] = [];
  const ev = new RowEvaluator(engine, { ...opts, onPrediction: (p) => predictions.push(p) });
  // The rows at hand are sized first, so progress counts against the rows that will be scored.
  const todo = rows.map((r) => ev.prepare(r)).filter((t) => t !== undefined);
  ev.total = todo.length;
  if (todo.length === 0) ev.throwAllSkipped();
  for (const t of todo) await ev.queue(t);
  return { ...(await ev.finish()), predictions };
}

interface Prepared {
  row: EvalRow;
  prompt: Int32Array;
}

/**
 * Scores rows as they come, a batch at a time, keeping only the running metrics (ReportBuilder),
 * the wrong answers and the skipped rows' places: `eval` on a file of any size holds one batch of
 * rows (issue 23). Each prediction goes to `onPrediction` and is not kept here.
 */
export class RowEvaluator<O extends GenerateOptions = DecodeOptions> {
  private readonly gen: O;
  private readonly batchSize: number;
  private pending: Prepared[] = [];
  private readonly scores = new ReportBuilder();
  readonly skipped: SkippedEvalRow[] = [];
  private seen = 0;
  private done = 0;
  /** Rows expected in all, for onProgress (a file's count, or the prepared rows). */
  total = 0;

  constructor(
    private readonly engine: BatchGenerator<O>,
    private readonly opts: EvaluateOptions<O> & {
      onPrediction?: (p: EvalPrediction, row: EvalRow, wrong?: WrongAnswer) => void;
    },
  ) {
    this.gen = {
      ...GREEDY,
      maxNewTokens: opts.maxNewTokens ?? GREEDY.maxNewTokens,
      stopTokens: opts.stopTokens,
      ...opts.generation,
    } as O;
    this.batchSize = Math.max(1, opts.batchSize ?? 8);
  }

  /** The row's prompt, or undefined when it cannot fit the model (then named among the skipped: one over-long row must not abort the others). */
  prepare(row: EvalRow): Prepared | undefined {
    this.seen++;
    const { opts, gen } = this;
    // Only where the row was is kept of a skipped row, with the start of its text.
    const skip = (promptTokens: number, atLeast?: boolean) =>
      void this.skipped.push({
        user: row.user.slice(0, 80),
        origin: row.origin,
        promptTokens,
        ...(atLeast ? { atLeast } : {}),
      });
    const least = opts.maxPositions !== undefined && opts.minPromptTokens ? opts.minPromptTokens(row) : 0;
    if (opts.maxPositions !== undefined && least + gen.maxNewTokens > opts.maxPositions) return skip(least, true);
    const prompt = opts.encodePrompt(row);
    if (opts.maxPositions !== undefined && prompt.length + gen.maxNewTokens > opts.maxPositions)
      return skip(prompt.length);
    return { row, prompt };
  }

  /** Prepares and queues a row; a full batch is decoded and scored before this resolves. */
  async add(row: EvalRow): Promise<void> {
    const t = this.prepare(row);
    if (t) await this.queue(t);
  }

  async queue(t: Prepared): Promise<void> {
    this.pending.push(t);
    if (this.pending.length >= this.batchSize) await this.flush();
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    const { opts, gen } = this;
    opts.signal?.throwIfAborted();
    const results = await this.engine.generateBatch(
      batch.map((b) => b.prompt),
      opts.generationFor ? { ...gen, ...opts.generationFor(batch.map((b) => b.row)) } : gen,
    );
    batch.forEach(({ row }, b) => {
      const { tokens } = results[b];
      let n = tokens.length;
      while (n > 0 && opts.stopTokens.includes(tokens[n - 1])) n--;
      const p: EvalPrediction = {
        user: row.user,
        expected: row.expected ?? row.answer,
        generated: opts.decode(tokens.subarray(0, n)),
      };
      const wrong = this.scores.add(p);
      this.done++;
      opts.onPrediction?.(p, row, wrong);
      opts.onProgress?.(this.done, Math.max(this.total, this.done), p);
    });
  }

  throwAllSkipped(): never {
    throw new EvaluationError(
      `every row's prompt is too long: ${describeSkippedEval(this.skipped, this.gen.maxNewTokens, this.opts.maxPositions!)}`,
    );
  }

  /** Decodes what is left; the report over every scored row, and the rows left out. */
  async finish(): Promise<{ report: EvalReport; skipped: SkippedEvalRow[] }> {
    if (this.seen === 0) throw new EvaluationError('there are no rows to evaluate');
    await this.flush();
    if (this.done === 0) this.throwAllSkipped();
    return { report: this.scores.report(), skipped: this.skipped };
  }
}

const where = (s: SkippedEvalRow) =>
  s.origin?.line !== undefined
    ? `line ${s.origin.line}`
    : s.origin?.index !== undefined
      ? `row ${s.origin.index + 1}`
      : JSON.stringify(s.user.slice(0, 40));

/** "2 row(s) left out: line 4 (5000 prompt tokens), ..." */
export function describeSkippedEval(
  skipped: readonly SkippedEvalRow[],
  maxNewTokens: number,
  maxPositions: number,
): string {
  const first = skipped
    .slice(0, 5)
    .map((s) => `${where(s)} (${s.atLeast ? 'at least ' : ''}${s.promptTokens} prompt tokens)`)
    .join(', ');
  return `${skipped.length} row(s) left out, their prompt plus ${maxNewTokens} answer tokens exceeds the model's ${maxPositions} positions: ${first}${skipped.length > 5 ? ', ...' : ''}`;
}

type TokenizerEvalOptions = Partial<Pick<ExampleOptions, 'system' | 'controlTokens'>> &
  Pick<
    EvaluateOptions,
    'maxNewTokens' | 'batchSize' | 'onProgress' | 'signal' | 'generation' | 'generationFor' | 'maxPositions'
  >;

/** The evaluation options of a model folder's tokenizer and the training prompt settings. */
export function tokenizerEvalOptions(tok: ChatTokenizer, opts: TokenizerEvalOptions = {}): EvaluateOptions {
  return {
    encodePrompt: (row) => encodePrompt(tok, row, { system: opts.system, controlTokens: opts.controlTokens }),
    decode: (ids) => tok.decode(ids, { skipSpecial: true }),
    stopTokens: tok.eosTokenIds,
    maxNewTokens: opts.maxNewTokens,
    batchSize: opts.batchSize,
    onProgress: opts.onProgress,
    signal: opts.signal,
    generation: opts.generation,
    generationFor: opts.generationFor,
    maxPositions: opts.maxPositions,
    // A token spans at most maxTokenBytes characters, so a prompt has at least chars / maxTokenBytes tokens.
    minPromptTokens: (row) => Math.floor((row.user.length + (row.system?.length ?? 0)) / tok.maxTokenBytes),
  };
}

/** evaluateRows with a model folder's tokenizer and the training prompt settings. */
export function evaluateWithTokenizer(
  engine: BatchGenerator<DecodeOptions>,
  tok: ChatTokenizer,
  rows: readonly EvalRow[],
  opts: TokenizerEvalOptions = {},
): Promise<EvaluateResult> {
  return evaluateRows(engine, rows, tokenizerEvalOptions(tok, opts));
}
