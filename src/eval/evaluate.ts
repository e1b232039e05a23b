// Runs greedy decoding over evaluation rows with the training prompt template and scores the
// answers. The engine and tokenizer are passed in, so the worker, the CLI and tests share it.

import type { DecodeOptions, GenerateOptions } from '../engine/engine.ts';
import { GREEDY } from '../engine/engine.ts';
import type { DatasetRow } from '../data/dataset.ts';
import { encodePrompt, type ExampleOptions } from '../data/examples.ts';
import type { ChatTokenizer } from '../tokenizer/tokenizer.ts';
import { scorePredictions, type EvalReport, type Prediction } from './metrics.ts';

export type EvalRow = Pick<DatasetRow, 'user' | 'system' | 'answer' | 'expected'>;

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
}

export interface EvaluateResult {
  report: EvalReport;
  predictions: EvalPrediction[];
}

/** Greedy answers for each row, decoded in batches, then the metrics. Tool rows are scored as calls, others as text. */
export async function evaluateRows<O extends GenerateOptions = DecodeOptions>(engine: BatchGenerator<O>, rows: readonly EvalRow[], opts: EvaluateOptions<O>): Promise<EvaluateResult> {
  const gen = { ...GREEDY, maxNewTokens: opts.maxNewTokens ?? GREEDY.maxNewTokens, stopTokens: opts.stopTokens, ...opts.generation } as O;
  const batchSize = Math.max(1, opts.batchSize ?? 8);
  const predictions: EvalPrediction[] = [];
  for (let i = 0; i < rows.length; i += batchSize) {
    opts.signal?.throwIfAborted();
    const batch = rows.slice(i, i + batchSize);
    const results = await engine.generateBatch(batch.map((row) => opts.encodePrompt(row)), gen);
    batch.forEach((row, b) => {
      const { tokens } = results[b];
      let n = tokens.length;
      while (n > 0 && opts.stopTokens.includes(tokens[n - 1])) n--;
      const p: EvalPrediction = { user: row.user, expected: row.expected ?? row.answer, generated: opts.decode(tokens.subarray(0, n)) };
      predictions.push(p);
      opts.onProgress?.(predictions.length, rows.length, p);
    });
  }
  return { report: scorePredictions(predictions), predictions };
}

/** evaluateRows with a model folder's tokenizer and the training prompt settings. */
export function evaluateWithTokenizer(
  engine: BatchGenerator<DecodeOptions>,
  tok: ChatTokenizer,
  rows: readonly EvalRow[],
  opts: Partial<Pick<ExampleOptions, 'system'>> & Pick<EvaluateOptions, 'maxNewTokens' | 'batchSize' | 'onProgress' | 'signal' | 'generation'> = {},
): Promise<EvaluateResult> {
  return evaluateRows(engine, rows, {
    encodePrompt: (row) => encodePrompt(tok, row, { system: opts.system }),
    decode: (ids) => tok.decode(ids, { skipSpecial: true }),
    stopTokens: tok.eosTokenIds,
    maxNewTokens: opts.maxNewTokens,
    batchSize: opts.batchSize,
    onProgress: opts.onProgress,
    signal: opts.signal,
    generation: opts.generation,
  });
}
