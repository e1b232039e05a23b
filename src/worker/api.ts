// The contract between the page and the training worker. The page only ever holds a
// Comlink.Remote<WorkerApi>; everything that touches the model runs behind it, so the main
// thread stays responsive. Every type here must survive structured clone (no class instances
// except File/Blob/typed arrays), and every callback argument is passed as Comlink.proxy(fn).
// Extend compatibly: add optional fields and new methods, never change existing ones.

import type { Quantization } from '../core/nf4.ts';
import type { Qwen2Config } from '../core/config.ts';
import type { EngineInfo, GenerateOptions, LoraSettings, MemoryPlan, TrainExample } from '../engine/engine.ts';
import type { TrainSettings } from '../train/recipe.ts';
import type { TrainOutcome, TrainProgress } from '../train/loop.ts';
import type { CheckpointInfo } from '../train/checkpoint.ts';
import type { ModelSource } from '../io/sources.ts';
import type { CachedModelInfo, StorageInfo } from '../io/cache.ts';
import type { ModelFileInfo } from '../io/model-files.ts';
import type { ToolSchema } from '../data/schema.ts';

/** Decoding options across the worker boundary: plain data only. */
export interface WorkerGenerateOptions extends GenerateOptions {
  /**
   * Decode under this tool schema: every answer is one valid call of it. The worker compiles it
   * against the loaded model's vocabulary (a closure could not cross to the worker).
   */
  toolSchema?: ToolSchema;
  /** With toolSchema: one utterance per prompt, to which each row's span values are tied (x-source "utterance"). */
  utterances?: string[];
}

export type { LrSchedule, TrainSettings } from '../train/recipe.ts';
export type { TrainOutcome, TrainProgress, TrainState } from '../train/loop.ts';
export type { CheckpointInfo, StepRecord } from '../train/checkpoint.ts';
export type { ModelSource } from '../io/sources.ts';
export type { CachedModelInfo, StorageInfo } from '../io/cache.ts';
export type { ModelFileInfo } from '../io/model-files.ts';

export type { EngineChoice, EngineDecision, EngineReason } from './engine-choice.ts';
import type { EngineChoice, EngineDecision } from './engine-choice.ts';
export type QuantChoice = 'auto' | Quantization;

export interface ProbeResult {
  webgpu: boolean;
  /** Adapter description (vendor, architecture) when WebGPU is available. */
  adapter?: string;
  /** Why WebGPU is not usable, for the user. */
  reason?: string;
  /** The software renderer's name (SwiftShader, llvmpipe…) when the adapter is one: Automatic then runs the CPU engine. */
  software?: string;
  features: string[];
  shaderF16: boolean;
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
  cores: number;
  /** navigator.storage.estimate(), when the browser offers it. */
  storage?: StorageInfo;
}

export interface LoadSettings {
  /** What the engine must be able to hold: batch size x max length, plus the LoRA shape. */
  maxBatch: number;
  maxSeq: number;
  lora: LoraSettings;
  /**
   * 'nf4': the seven projections as 4-bit NF4 blocks (QLoRA), quantized on load and kept in the
   * cache; 'auto': NF4 only when the 16-bit plan does not fit the engine (decided from config.json).
   * Default 'none'. The summary says what was loaded.
   */
  quant?: QuantChoice;
  /** Default true: keep downloaded files in IndexedDB and read them from there next time. */
  useCache?: boolean;
  /** Bytes per stored download chunk (default 32 MiB); the unit a download resumes from. */
  downloadChunkSize?: number;
}

export type LoadPhase = 'check' | 'download' | 'cache' | 'verify' | 'load' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  /** File being fetched or read, e.g. "model.safetensors". */
  file?: string;
  /** Bytes of `file` done / total (total 0 when unknown). */
  fileBytes: number;
  fileTotal: number;
  /** Over all files of the model. */
  loadedBytes: number;
  totalBytes: number;
  bytesPerSec: number;
  etaSec: number;
  fromCache: boolean;
  message: string;
}

export interface ModelSummary {
  /** Display name: repo, URL or folder name. */
  name: string;
  /** Cache key of the source ('' for local folders, which are not cached). */
  sourceKey: string;
  config: Qwen2Config;
  paramCount: number;
  loraParamCount: number;
  weightDType: 'f32' | 'bf16' | 'f16';
  /** How the projections were loaded; with nf4, how many came from the cache already quantized. */
  quant: Quantization;
  nf4FromCache?: number;
  engine: EngineInfo;
  /** Why this engine runs (Automatic's pick and what it was based on). */
  engineDecision?: EngineDecision;
  memory: MemoryPlan;
  files: ModelFileInfo[];
  /** tokenizer.json and tokenizer_config.json text, so the page can tokenize without the worker. */
  tokenizerJson: string;
  tokenizerConfigJson?: string;
  generationConfigJson?: string;
}

/** What a training run does besides its settings: which checkpoint it continues, the padding id. */
export interface RunOptions {
  /**
   * Resume from the stored checkpoint of this run when one matches (same model, data and
   * settings). Default true; false starts over and replaces the old checkpoint.
   */
  resume?: boolean;
  /** Names the run (and its checkpoint); default derived from model + data + settings. */
  runId?: string;
  /** Id written into padding (masked out). Default: generation_config's pad_token_id, else 0. */
  padId?: number;
  /**
   * Continue training: start from the adapter the engine holds now (with a fresh optimizer)
   * instead of a new init, e.g. on data grown after an evaluation. Names the run that adapter
   * came from; it joins the run's identity, so a from-scratch run's checkpoint on the same data
   * is never resumed in its place.
   */
  continueFrom?: string;
  /**
   * The run's LoRA alpha and dropout: per run, like lr (the engine takes them with each step), so
   * changing them reloads nothing. Default: what the model was loaded with.
   */
  alpha?: number;
  dropout?: number;
}

export interface EvalResult {
  /** Mean token loss over all label tokens. */
  loss: number;
  tokens: number;
  examples: number;
}

export interface GenerateResult {
  tokens: Int32Array;
  margins: Float32Array;
}

export interface AdapterData {
  lora: LoraSettings;
  /** PEFT names (base_model.model.model.layers.N....lora_A.weight). */
  tensors: Record<string, Float32Array>;
}

/** adapter: PEFT folder; merged: HF model folder with W + s·BA; gguf: llama.cpp LoRA adapter. */
export type ExportKind = 'adapter' | 'merged' | 'gguf';

export interface ExportedFile {
  name: string;
  blob: Blob;
}

export interface WorkerApi {
  /** What this browser offers (WebGPU adapter, storage); loads nothing. */
  probe(): Promise<ProbeResult>;
  /** Fetches (or reads from cache / folder), validates and loads the model into the chosen engine. */
  loadModel(
    source: ModelSource,
    engine: EngineChoice,
    settings: LoadSettings,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<ModelSummary>;
  /**
   * The model the engine holds now, or undefined: after a failed loadModel the previous model is
   * still there when the failure came before the engine was replaced (no network, a bad file).
   */
  loadedModel(): Promise<ModelSummary | undefined>;
  /** Cancels a loadModel that is still downloading: it rejects with DownloadError kind 'aborted'; stored chunks are kept. */
  cancelLoad(): Promise<void>;
  setDataset(train: TrainExample[], evalSet: TrainExample[]): Promise<{ train: number; eval: number }>;
  /** Runs to the end (or stop/error); resolves then. pause() holds it without resolving. */
  startTraining(settings: TrainSettings & RunOptions, onProgress?: (p: TrainProgress) => void): Promise<TrainOutcome>;
  /** Take effect before the next optimizer step; pause also writes a checkpoint. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
  generate(
    promptIds: Int32Array,
    options: WorkerGenerateOptions,
    onToken?: (id: number) => void,
  ): Promise<GenerateResult>;
  /** Several prompts decoded together (evaluation); onToken gets the row index. */
  generateBatch(
    prompts: Int32Array[],
    options: WorkerGenerateOptions,
    onToken?: (row: number, id: number) => void,
  ): Promise<GenerateResult[]>;
  /**
   * Milliseconds of one micro-batch of these examples (forward and backward, no update; the
   * faster of two passes), for the time estimate before a run. Refused while a run is in progress.
   */
  measureStep(examples: TrainExample[], padId?: number): Promise<number>;
  /** Loss over the given examples, or the eval set given to setDataset when omitted. */
  evaluate(examples?: TrainExample[]): Promise<EvalResult>;
  getAdapter(): Promise<AdapterData>;
  /** alpha: the adapter's own lora_alpha (an imported one's); default the one in force. */
  setAdapter(tensors: Record<string, Float32Array>, alpha?: number): Promise<void>;
  listCheckpoints(): Promise<CheckpointInfo[]>;
  /**
   * The stored checkpoint startTraining would continue with these settings and the dataset given
   * to setDataset (same model, data and settings), if there is one.
   */
  matchCheckpoint(settings: TrainSettings & RunOptions): Promise<CheckpointInfo | undefined>;
  deleteCheckpoint(runId: string): Promise<void>;
  /** PEFT adapter (adapter_model.safetensors + adapter_config.json) or the merged model files. */
  exportFiles(kind: ExportKind): Promise<ExportedFile[]>;
  listCachedModels(): Promise<CachedModelInfo[]>;
  deleteCachedModel(sourceKey: string): Promise<void>;
  storage(): Promise<StorageInfo | undefined>;
  dispose(): Promise<void>;
}
