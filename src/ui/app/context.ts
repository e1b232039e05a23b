// What the screen controllers (training.ts, results.ts, job-zip.ts) may use of the page: the state
// and its one writer, the worker, and the few answers about the loaded data and model that the
// Controller gives. They get this narrow view, not the Controller itself, so none of them can
// reach into another or into the Controller's internals (and none imports controller.ts).

import type { DatasetRow } from '../../data/dataset.ts';
import type { ExampleSet } from '../../data/examples.ts';
import type { ChatTokenizer } from '../../tokenizer/tokenizer.ts';
import type { TrainingWorker } from '../../worker/client.ts';
import type { AppState } from './state.ts';

export interface PageContext {
  readonly state: AppState;
  patch(fn: (s: AppState) => Partial<AppState>): void;
  readonly worker: TrainingWorker;
  /** The loaded model's tokenizer; undefined until a model is loaded. */
  readonly tokenizer?: ChatTokenizer;
  /** Rows used for training and evaluation: a separate eval file wins over the split. */
  splitRows(): { train: DatasetRow[]; eval: DatasetRow[] };
  /** The training side's size and `n` of its rows spread evenly over it, only those decoded (the step estimate). */
  trainSpread(n: number): { count: number; rows: DatasetRow[] };
  /** Rows tokenized with the page's system prompt and max length; rows with no answer token left are counted apart. */
  exampleSet(rows: DatasetRow[]): Promise<ExampleSet>;
  /** Resolves once the engine is free of the Train step's timing step (estimate.ts); await it before using the engine. */
  quiet(): Promise<void>;
}

/** What starting a run needs besides: the loaded engine must match the settings, else it reloads. */
export interface TrainingContext extends PageContext {
  loadedMatches(): boolean;
  loadModel(): Promise<boolean>;
  /** File name and row count of the training data (they name the saved loss curve). */
  trainData(): { name?: string; rows?: number };
}
