// The whole page state as plain data. Components read it and never change it; the controller
// (controller.ts) is the one writer. The Train step's settings are the recipe (train/recipe.ts).

import type { EngineKind } from '../../engine/engine.ts';
import type { LoraTarget } from '../../core/config.ts';
import { DownloadError, type DatasetIssue, type SchemaIssue } from '../../core/errors.ts';
import type { ToolSchema } from '../../data/schema.ts';
import type { ColumnMapping } from '../../data/delimited.ts';
import type { RunRecord } from '../../train/runs.ts';
import type { SchemaForm } from '../data/schema-form.ts';
import { DEFAULT_SYSTEM_PROMPT } from '../../data/examples.ts';
import type { Recipe } from '../../train/recipe.ts';
import type { ControlPlan } from '../../train/control-run.ts';
import { defaultsFor, type FieldError, type NumericField } from '../train/train-fields.ts';
import type { EvalReport } from '../../eval/metrics.ts';
import type {
  CachedModelInfo,
  CheckpointInfo,
  EngineChoice,
  LoadProgress,
  ModelSummary,
  ProbeResult,
  QuantChoice,
  TrainProgress,
} from '../../worker/api.ts';
import type { Lang, MessageKey } from '../shared/i18n.ts';

export type Screen = 'model' | 'data' | 'train' | 'eval' | 'chat' | 'export';
export const SCREENS: Screen[] = ['model', 'data', 'train', 'eval', 'chat', 'export'];

export type SourceKind = 'builtin' | 'hf' | 'modelscope' | 'url' | 'local';

export interface SourceForm {
  kind: SourceKind;
  repo: string;
  revision: string;
  baseUrl: string;
  /** Picked or dropped folder; not persisted (File objects do not survive a reload). */
  files: File[];
  folderName: string;
}

/** Rows the data screen previews; their token counts are always exact. */
export const PREVIEW_ROWS = 12;

/** An error shown where it happened; `detail` is the typed error's own message (file, line, tensor). */
export interface UiError {
  where: Screen;
  key: MessageKey;
  detail: string;
  /** A download that failed: said in the page's language, the English detail kept under "Details". */
  net?: { kind: DownloadError['kind']; file: string };
  /** Where a model load went (hf, modelscope, url…): the way-out advice names the other ways. */
  via?: string;
}

/** The error a screen shows: where it happened, what to say, and the typed error's own message. */
export function uiError(where: Screen, key: MessageKey, e: unknown): UiError {
  const detail = e instanceof Error ? e.message : String(e);
  if (!(e instanceof DownloadError)) return { where, key, detail };
  return {
    where,
    key,
    detail,
    net: { kind: e.kind, file: e.url.split(/[?#]/)[0].split('/').filter(Boolean).pop() ?? e.url },
  };
}

/** Download failures another source or mirror can get around. */
const WAY_OUT = ['network', 'cors', 'not-found', 'http'];

/**
 * The advice under a model download that failed: the other ways to the same model. A ModelScope
 * failure is not told to try ModelScope (issue 22, point 3).
 */
export function wayOutKey(e: UiError): MessageKey | undefined {
  if (!e.net || e.where !== 'model' || !WAY_OUT.includes(e.net.kind)) return undefined;
  return e.via === 'modelscope' ? 'model.offline.modelscope' : 'model.offline';
}

export interface DatasetRowView {
  user: string;
  answer: string;
  system?: string;
}

/** Rows a screen reads by position: an array, or the packed rows of an import (data/row-store.ts). */
export interface RowList {
  readonly length: number;
  slice(start?: number, end?: number): DatasetRowView[];
}

export interface LoadedDataset {
  name: string;
  format: string;
  /** How the file's bytes were read (UTF-8, GB18030, UTF-16LE/BE). */
  encoding: string;
  /** Rows left out because an earlier row had the same text. */
  duplicates: number;
  /** Decoded on demand: a screen shows a page of them (PREVIEW_ROWS), never all. */
  rows: RowList;
  /** Problems of rows that were skipped while the rest imported. */
  issues: DatasetIssue[];
}

export interface ImportAttempt {
  name: string;
  issues: DatasetIssue[];
  /** True when nothing was imported (the previous dataset stays). */
  failed: boolean;
  message?: string;
  /** Rows without problems in a file that also has bad ones: kept out until the user imports them. */
  goodRows?: number;
  encoding?: string;
  duplicates?: { count: number; examples: DatasetIssue[] };
  /** JSON answers rewritten in the compact form. */
  normalized?: number;
}

/** A dataset file streaming in. */
export interface ImportProgressView {
  name: string;
  bytes: number;
  totalBytes: number;
  rows: number;
}

export type ModelStatus = 'none' | 'loading' | 'ready' | 'error';
/** 'pausing': asked to pause, the worker finishes the optimizer step under way first. */
export type TrainUiState = 'idle' | 'starting' | 'pausing' | TrainProgress['state'];

export interface LossPoint {
  step: number;
  loss: number;
}

export interface ChatSide {
  text: string;
  tokens: number;
  busy: boolean;
  error?: string;
}

export interface ExportStatus {
  busy: boolean;
  files?: string[];
  error?: string;
}

export interface StepEstimate {
  /** The model, engine, data and settings it was measured for. */
  key: string;
  status: 'measuring' | 'done' | 'error';
  engine: EngineKind;
  batch: number;
  /** Padded length of the timed micro-batch. */
  tokens: number;
  microMs?: number;
  /** Optimizer steps and micro-batches of the planned run. */
  steps: number;
  micros: number;
  /** Forward-only micro-batches of the run's evaluations (estimate.ts evalMicros). */
  evalMicros?: number;
}

/** How far the last finished run's own speed was from its estimate, on that model and engine. */
export interface MeasuredSpeed {
  model: string;
  engine: EngineKind;
  /** Real ms per step over estimated ms per step. */
  ratio: number;
}

export interface AppState {
  lang: Lang;
  screen: Screen;
  workerError?: string;

  probe?: ProbeResult;
  engineChoice: EngineChoice;
  /** Base weights: 16-bit, 4-bit NF4 (QLoRA), or NF4 only when 16-bit does not fit. */
  quantChoice: QuantChoice;
  source: SourceForm;
  model: {
    status: ModelStatus;
    progress?: LoadProgress;
    summary?: ModelSummary;
    /** The settings the engine was loaded with; training with others reloads it. */
    loadedWith?: {
      r: number;
      targets: LoraTarget[];
      dropout: number;
      alpha: number;
      rslora: boolean;
      batch: number;
      seq: number;
      engine: EngineChoice;
      quant: QuantChoice;
      source?: string;
    };
    error?: UiError;
  };
  cachedModels: CachedModelInfo[];
  /** A local model folder kept from the last visit that needs the user's permission to open again. */
  keptFolder?: string;
  /** A load asked for while a trained adapter is in the page: it waits for the user's yes. */
  confirmLoad?: { steps: number };

  dataset?: LoadedDataset;
  evalDataset?: LoadedDataset;
  lastImport?: ImportAttempt;
  /** A CSV/TSV file waiting for its columns to be mapped to the seed fields (column-mapping.ts). */
  columnMapping?: {
    name: string;
    role: 'train' | 'eval';
    header: string[];
    preview: string[][];
    rows: number;
    mapping: ColumnMapping;
    problem?: string;
  };
  /** An eval file set aside, which one click puts back in use. */
  parkedEval?: string;
  /** Eval rows (of a separate eval file) asking for tools the training rows never show. */
  evalFit?: { rows: number; total: number; tools: string[] };
  importing?: ImportProgressView;
  evalFraction: number;
  splitSeed: number;
  systemPrompt: string;
  /** Rows spelling a chat control token (<|im_end|>...) are trained on, the spelling as plain text; otherwise Start refuses them. */
  allowControlText: boolean;
  /**
   * Token count per training example with the loaded tokenizer (empty until one is loaded); for a
   * large dataset, of an even sample of `tokenSampleOf` rows' worth (see recountTokens).
   */
  tokenLengths: number[];
  /** Prompt tokens of the same examples: at or above the max length no answer token is left. */
  promptLengths: number[];
  /** Rows the lengths stand for when they are a sample; undefined when every row was counted. */
  tokenSampleOf?: number;
  /** Rows on each side of the split (or the separate eval file), as training will see them. */
  splitCounts: { train: number; eval: number };

  train: Recipe;
  /** Settings typed out of range: kept as typed, never in `train`; Start is off while any is here. */
  trainErrors: Partial<Record<NumericField, FieldError>>;
  /** How long the run would take, from one timed micro-batch on the loaded engine (estimate.ts). */
  estimate?: StepEstimate;
  /** The last run's measured speed against its estimate: the next estimate is corrected by it. */
  measuredSpeed?: MeasuredSpeed;
  training: {
    state: TrainUiState;
    progress?: TrainProgress;
    losses: LossPoint[];
    evalLosses: LossPoint[];
    resumedFrom?: number;
    checkpoint?: CheckpointInfo;
    checkpointSavedAt?: number;
    /** The last checkpoint did not fit in browser storage: what it needed; training went on. */
    checkpointFailed?: { step: number; bytes: number };
    error?: UiError;
    /** The adapter has been trained at least one step in this page. */
    trained: boolean;
    /** Training rows left out at the last start: their prompt fills the max length. */
    skipped?: number;
    /** runKeyOf the run shown (in progress, or saved and found after a reload). */
    runKey?: string;
  };

  evaluation: {
    busy: boolean;
    done: number;
    total: number;
    /** Free decoding, as the seed measures. */
    report?: EvalReport;
    /** The same rows decoded under the tool schema, when one is in use. */
    constrained?: EvalReport;
    /** Input text of each evaluated row, by report index. */
    inputs: string[];
    /** Rows left out because prompt and answer exceed the model's positions. */
    skipped?: { count: number; rows: string };
    loss?: number;
    error?: UiError;
    /** Wrong answers already acted on (a sibling row added, or moved out), as `${decoding}:${index}`. */
    added: string[];
    /** Of those, the ones moved out of the evaluation set (no template gave a sibling): the set shrank. */
    movedOut?: string[];
    /** Fingerprint of the rows this report was measured on (evalSetFingerprint). */
    evalSet?: string;
    /** The run whose adapter this report measured (runs.current then): another one in use makes it stale. */
    ofRun?: string;
    /** Set when the report is a loaded run's stored one: when it was measured. */
    storedAt?: number;
  };

  schema: SchemaState;
  /** Every training run kept in IndexedDB (src/train/runs.ts). */
  runs: RunsState;
  /**
   * A "Continue training" run started and not finished: from = the name of the adapter it
   * started from (part of its identity), parent = the kept run it continues. Kept across reloads
   * so Start resumes it as the same run (its checkpoint) and it reaches Runs when it ends.
   * control: this run is the control of the loop (train/control-run.ts): the first `rows`
   * training examples alone, for `epochs` epochs.
   */
  continuing?: { from: string; parent?: string; control?: ControlPlan };
  /** "Continue training" with a control under way (evaluate/loop-control.ts): which of its two runs. */
  controlPhase?: 'treatment' | 'control';

  chat: {
    prompt: string;
    maxNewTokens: number;
    temperature: number;
    /** Answers decoded under the tool schema in use: always one valid call. */
    constrained?: boolean;
    /** Put the training rows' common instruction before the typed text (chat-prefix.ts); on unless turned off. */
    instruct?: boolean;
    base: ChatSide;
    tuned: ChatSide;
  };

  exports: Record<'peft' | 'merged' | 'gguf' | 'job', ExportStatus>;

  /** A PEFT adapter folder applied to the loaded model instead of a trained one. */
  adapter: { busy: boolean; name?: string; r?: number; alpha?: number; targets?: number; error?: UiError };
}

export interface SchemaState {
  /** File name of the schema in use. */
  name?: string;
  /** The schema in use: what builds rows and constrains decoding. */
  applied?: ToolSchema;
  /** The editor's form; may differ from `applied` until applied. */
  form?: SchemaForm;
  dirty: boolean;
  /** Problems of the last import, apply or build, by tool and field; nothing changed then. */
  issues: SchemaIssue[];
  failed?: string;
  /**
   * split: how rows are held out (templates: utterances drawn after the training ones; values:
   * templates training has seen with span values it has not, the copying test). variants: share
   * of rows made variants of the templates' words; at 0 variants only fill up a tool whose
   * templates give too few distinct utterances (build-data's default).
   */
  build: { perTool: number; evalPerTool: number; seed: number; split: 'templates' | 'values'; variants: number };
  /** Rows the last build made. */
  built?: { train: number; eval: number };
  /** Rows to add when asking for more rows of one tool. */
  moreRows: number;
  /** The last "+ rows": how many rows of which tool went into the training data (said under the table). */
  added?: { tool: string; rows: number };
}

/** unsaved: the browser refused to store it (quota); it lives in this page until saved or exported. */
export type RunView = RunRecord<EvalReport> & { unsaved?: boolean };

export interface RunsState {
  list: RunView[];
  /** The run whose adapter the engine holds now; evaluations are kept with it. */
  current?: string;
  /** Up to two runs to compare. */
  selected: string[];
  busy: boolean;
  error?: UiError;
}

export function initialState(lang: Lang): AppState {
  return {
    lang,
    screen: 'model',
    engineChoice: 'auto',
    quantChoice: 'auto',
    source: {
      kind: 'builtin',
      repo: 'Qwen/Qwen2.5-0.5B-Instruct',
      revision: 'main',
      baseUrl: '',
      files: [],
      folderName: '',
    },
    model: { status: 'none' },
    cachedModels: [],
    evalFraction: 0.1,
    splitSeed: 42,
    systemPrompt: DEFAULT_SYSTEM_PROMPT,
    allowControlText: false,
    tokenLengths: [],
    promptLengths: [],
    splitCounts: { train: 0, eval: 0 },
    train: defaultsFor({ kind: 'builtin', repo: '' }),
    trainErrors: {},
    training: { state: 'idle', losses: [], evalLosses: [], trained: false },
    evaluation: { busy: false, done: 0, total: 0, inputs: [], added: [] },
    schema: {
      dirty: false,
      issues: [],
      build: { perTool: 20, evalPerTool: 5, seed: 42, split: 'templates', variants: 0 },
      moreRows: 10,
    },
    runs: { list: [], selected: [], busy: false },
    chat: {
      prompt: '创建汇报会会议',
      maxNewTokens: 64,
      temperature: 0,
      base: { text: '', tokens: 0, busy: false },
      tuned: { text: '', tokens: 0, busy: false },
    },
    exports: { peft: { busy: false }, merged: { busy: false }, gguf: { busy: false }, job: { busy: false } },
    adapter: { busy: false },
  };
}
