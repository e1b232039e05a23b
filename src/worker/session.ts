// Everything the training worker does, without the transport: worker.ts exposes one of these
// through Comlink, and tests drive it directly in Node. One session holds one engine, one
// dataset and at most one training run.

import { paramCount, parseQwen2Config, validateWeights, type Qwen2Config } from '../core/config.ts';
import { checkedRead, checkedReadInto } from '../core/finite.ts';
import { DatasetError, DeviceLostError, EngineError, type DatasetIssue } from '../core/errors.ts';
import { cpuLimits, type DeviceLimits } from '../engine/fit.ts';
import type { WeightDType } from '../core/dtype.ts';
import type { DecodeOptions, Engine, EngineKind, LoraSettings, MemoryPlan, TrainExample } from '../engine/engine.ts';
import { toolCallConstraint, type ToolCallConstraint } from '../data/constrain.ts';
import { chooseEngine, engineFor, timeStep } from './engine-choice.ts';
import { probeBrowser } from './probe-browser.ts';
import { deleteCachedModel, listCachedModels, storageInfo } from '../io/cache.ts';
import type { FetchFn } from '../io/download.ts';
import { openModel, type ModelFiles } from '../io/model-files.ts';
import { builtinNameOf } from '../io/sources.ts';
import { memoryStore, type KeyValueStore } from '../io/store.ts';
import type { Nf4Source } from '../io/quant-cache.ts';
import { fitBase, nf4Source, resolvedQuant } from './quant.ts';
import type { Quantization } from '../core/nf4.ts';
import { BlobFolder } from '../export/sink.ts';
import { writePeftAdapter } from '../export/peft.ts';
import { writeMergedModel, PASSTHROUGH_FILES } from '../export/merged.ts';
import { writeLoraGguf } from '../export/gguf.ts';
import { CheckpointStore } from '../train/checkpoint.ts';
import { runIdentityOf, runTraining, RunControl, type RunTrainingOptions } from '../train/loop.ts';
import { evaluateLoss, makeMicroBatch } from '../train/trainer.ts';
import { trainOf } from '../train/recipe.ts';
import type {
  AdapterData, CachedModelInfo, CheckpointInfo, EngineChoice, EvalResult, ExportedFile, ExportKind, GenerateResult,
  LoadProgress, LoadSettings, ModelSource, ModelSummary, ProbeResult, RunOptions, StorageInfo, TrainOutcome,
  TrainProgress, TrainSettings, WorkerApi, WorkerGenerateOptions,
} from './api.ts';

export interface SessionDeps {
  modelStore: KeyValueStore;
  checkpointStore: KeyValueStore;
  createEngine: (kind: EngineKind) => Promise<Engine>;
  fetchFn?: FetchFn;
  /** Download retry pause (tests shorten it). */
  retryDelayMs?: number;
}

interface Loaded {
  files: ModelFiles;
  config: Qwen2Config;
  engine: Engine;
  settings: LoadSettings;
  summary: ModelSummary;
}

const MAX_DEVICE_RECOVERIES = 2;

function lastProgress(o: TrainOutcome): TrainProgress {
  const last = o.history.at(-1);
  return {
    step: o.steps, totalSteps: o.totalSteps, epoch: 0, loss: last?.loss ?? NaN, lr: last?.lr ?? 0, gradNorm: last?.gradNorm ?? 0,
    tokensPerSec: 0, etaSec: 0, memoryBytes: 0, state: 'running',
  };
}

export class TrainingSession implements WorkerApi {
  private model: Loaded | null = null;
  private train: TrainExample[] = [];
  private evalSet: TrainExample[] = [];
  /** The training run in progress (paused ones included); null when idle. */
  private control: RunControl | null = null;
  /** Evaluation batches like the last run's: its micro-batch size and padding id. */
  private lastRun: { batchSize: number; padId: number } | null = null;
  private loadAbort: AbortController | null = null;
  /** The adapter's settings as the engine holds it now: the load's shape, with the last run's (or import's) alpha and dropout. */
  private adapterLora: LoraSettings | null = null;
  private readonly checkpoints: CheckpointStore;
  private constraint: { key: string; files: ModelFiles; constraint: ToolCallConstraint } | null = null;

  constructor(private readonly deps: SessionDeps) {
    this.checkpoints = new CheckpointStore(deps.checkpointStore);
  }

  /** What this browser offers (probe-browser.ts). */
  probe(): Promise<ProbeResult> {
    return probeBrowser();
  }

  async loadModel(source: ModelSource, choice: EngineChoice, settings: LoadSettings, onProgress?: (p: LoadProgress) => void): Promise<ModelSummary> {
    if (this.control) throw new EngineError('stop training before loading another model');
    const t0 = performance.now();
    const report = (p: Partial<LoadProgress> & Pick<LoadProgress, 'phase' | 'message'>) =>
      onProgress?.({ fileBytes: 0, fileTotal: 0, loadedBytes: 0, totalBytes: 0, bytesPerSec: 0, etaSec: 0, fromCache: false, ...p });
    report({ phase: 'check', message: 'looking for the model files' });
    const store = settings.useCache === false ? memoryStore() : this.deps.modelStore;
    this.loadAbort?.abort();
    const abort = (this.loadAbort = new AbortController());
    // what 'auto' means for this model is decided from its config.json, before any weight downloads
    let quant: Quantization = settings.quant === 'nf4' ? 'nf4' : 'none';
    const files = await openModel(source, {
      checkConfig: async (json) => {
        quant = fitBase(json, settings, await this.limits(choice, json));
      },
      signal: abort.signal,
      store,
      fetchFn: this.deps.fetchFn,
      chunkSize: settings.downloadChunkSize,
      retryDelayMs: this.deps.retryDelayMs,
      skipSpaceCheck: settings.useCache === false,
      onProgress: (p) =>
        report({
          phase: p.phase === 'cache' ? 'cache' : 'download',
          file: p.file.file,
          fileBytes: p.file.bytes,
          fileTotal: p.file.total,
          loadedBytes: p.loadedBytes,
          totalBytes: p.totalBytes,
          bytesPerSec: p.file.bytesPerSec,
          etaSec: p.etaSec,
          fromCache: p.fromCache,
          message: p.fromCache ? `reading ${p.file.file} from the cache` : `downloading ${p.file.file}`,
        }),
    });
    report({ phase: 'verify', message: 'checking config.json against the weights' });
    const config = parseQwen2Config(files.configJson);
    const dtype = validateWeights(config, files.weights);

    if (this.model) {
      await this.model.engine.dispose();
      this.model = null;
    }
    settings = { ...settings, quant };
    report({ phase: 'load', message: quant === 'nf4' ? 'loading the weights into the engine, the projections as 4-bit NF4' : 'loading the weights into the engine' });
    const nf4 = await nf4Source(this.deps.modelStore, files, dtype, settings);
    const m = { config, files, settings };
    const probe = choice === 'cpu' ? undefined : await this.probe();
    const { engine, decision, memory } = await chooseEngine(choice, probe, paramCount(config), { vocabSize: config.vocabSize, ...settings }, this.deps.createEngine, (e) => loadInto(e, m, dtype, nf4));
    const lora = await engine.getLora();
    const summary: ModelSummary = {
      name: files.name,
      sourceKey: files.sourceKey,
      config,
      paramCount: paramCount(config),
      loraParamCount: Object.values(lora).reduce((a, t) => a + t.length, 0),
      weightDType: dtype,
      quant,
      ...(nf4 ? { nf4FromCache: nf4.stats.cached } : {}),
      engine: await engine.info(),
      engineDecision: decision,
      memory,
      files: files.files,
      tokenizerJson: files.tokenizerJson,
      tokenizerConfigJson: files.tokenizerConfigJson,
      generationConfigJson: files.generationConfigJson,
    };
    this.model = { files, config, engine, settings, summary };
    this.adapterLora = { ...settings.lora };
    report({ phase: 'done', message: `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s` });
    return summary;
  }

  /** The same model on a new engine of the same kind (a fresh GPU device after a loss). */
  private async reloadEngine(): Promise<void> {
    const m = this.loaded;
    await m.engine.dispose().catch(() => undefined);
    const engine = await this.deps.createEngine(m.summary.engine.kind);
    await loadInto(engine, m, m.summary.weightDType, await nf4Source(this.deps.modelStore, m.files, m.summary.weightDType, m.settings));
    this.model = { ...m, engine };
  }

  /** The limits of the engine a load would get, for fitBase (quant.ts): the refusal before any weight downloads. */
  private async limits(choice: EngineChoice, configJson: string): Promise<DeviceLimits> {
    const probe = choice === 'cpu' ? undefined : await this.probe();
    const gpu = probe && engineFor(choice, probe, paramCount(parseQwen2Config(configJson))) === 'webgpu';
    return gpu ? { kind: 'webgpu', maxBufferSize: probe.maxBufferSize, maxBindingSize: probe.maxStorageBufferBindingSize } : cpuLimits();
  }

  async loadedModel(): Promise<ModelSummary | undefined> {
    return this.model?.summary;
  }

  async cancelLoad(): Promise<void> {
    this.loadAbort?.abort();
  }

  private get loaded(): Loaded {
    if (!this.model) throw new EngineError('no model loaded: call loadModel first');
    return this.model;
  }

  async setDataset(train: TrainExample[], evalSet: TrainExample[]): Promise<{ train: number; eval: number }> {
    const { config, settings } = this.loaded;
    const issues: DatasetIssue[] = [];
    const check = (rows: TrainExample[], which: string) =>
      rows.forEach((ex, index) => {
        const at = (message: string) => issues.push({ index, field: which, message });
        if (!(ex.ids instanceof Int32Array) || !(ex.labels instanceof Int32Array)) return at('ids and labels must be Int32Array');
        if (ex.ids.length === 0) return at('no tokens');
        if (ex.labels.length !== ex.ids.length) return at(`${ex.labels.length} labels for ${ex.ids.length} tokens`);
        if (ex.ids.length > settings.maxSeq) return at(`${ex.ids.length} tokens, more than the max length ${settings.maxSeq} the model was loaded for`);
        const bad = ex.ids.findIndex((id) => id < 0 || id >= config.vocabSize);
        if (bad >= 0) return at(`token ${ex.ids[bad]} at position ${bad} is outside the vocabulary (${config.vocabSize})`);
        const badLabel = ex.labels.findIndex((l) => l !== -100 && (l < 0 || l >= config.vocabSize));
        if (badLabel >= 0) return at(`label ${ex.labels[badLabel]} at position ${badLabel} is outside the vocabulary`);
      });
    check(train, 'train');
    check(evalSet, 'eval');
    if (issues.length) throw new DatasetError('dataset', issues);
    if (this.control) throw new EngineError('stop training before changing the dataset');
    this.train = train;
    this.evalSet = evalSet;
    return { train: train.length, eval: evalSet.length };
  }

  private padId(s: RunOptions): number {
    if (s.padId !== undefined) return s.padId;
    try {
      const g = JSON.parse(this.loaded.files.generationConfigJson ?? '{}') as { pad_token_id?: unknown };
      if (typeof g.pad_token_id === 'number' && g.pad_token_id < this.loaded.config.vocabSize) return g.pad_token_id;
    } catch {
      // Padding is masked; any id in the vocabulary will do.
    }
    return 0;
  }

  async startTraining(settings: TrainSettings & RunOptions, onProgress?: (p: TrainProgress) => void): Promise<TrainOutcome> {
    const { engine, settings: loadSettings } = this.loaded;
    if (this.control) throw new EngineError('training is already running');
    if (!this.train.length) throw new EngineError('no training examples: call setDataset first');
    if (settings.batchSize > loadSettings.maxBatch)
      throw new EngineError(`batch size ${settings.batchSize} is larger than the ${loadSettings.maxBatch} the model was loaded for`);
    // Claimed before the first await, so a second call made meanwhile is refused.
    const control = (this.control = new RunControl());
    try {
      // Kept here, not read again later: a device loss reloads the engine with a fresh adapter.
      const start = settings.continueFrom !== undefined ? { from: settings.continueFrom, tensors: await engine.getLora() } : undefined;
      let outcome = await this.run(settings, control, onProgress, MAX_DEVICE_RECOVERIES > 0, start);
      // A GPU reset (driver crash, tab backgrounded too long) loses every buffer: reload the
      // weights on a fresh device and continue from the last checkpoint, a bounded number of times.
      for (let retry = 1; outcome.state === 'error' && outcome.errorName === 'DeviceLostError' && retry <= MAX_DEVICE_RECOVERIES; retry++) {
        onProgress?.({ ...lastProgress(outcome), state: 'running', message: `the GPU device was lost; reloading the model and resuming from the last checkpoint (attempt ${retry})` });
        await this.reloadEngine();
        outcome = await this.run({ ...settings, resume: true }, control, onProgress, retry < MAX_DEVICE_RECOVERIES, start);
      }
      return outcome;
    } finally {
      this.control = null;
    }
  }

  private async run(
    settings: TrainSettings & RunOptions, control: RunControl, onProgress?: (p: TrainProgress) => void, deviceLossRecoverable = false,
    start?: RunTrainingOptions['start'],
  ): Promise<TrainOutcome> {
    const { engine, summary } = this.loaded;
    const train = trainOf(settings);
    const padId = this.padId(settings);
    this.lastRun = { batchSize: train.batchSize, padId };
    const lora = this.runLora(settings);
    this.adapterLora = lora;
    return runTraining({
      engine, train: this.train, eval: this.evalSet, settings: train, padId, lora,
      modelKey: this.modelKey(),
      runId: settings.runId, resume: settings.resume, start, checkpoints: this.checkpoints,
      memoryBytes: summary.memory.allocated || summary.memory.total, control, onProgress,
      // A recoverable device loss is reported by the retry, not as a failure the page would show.
      recoverable: (e) => deviceLossRecoverable && e instanceof DeviceLostError,
    });
  }

  /** The load's LoRA shape with this run's alpha and dropout (per run: nothing reloads for them). */
  private runLora(settings: RunOptions): LoraSettings {
    const loaded = this.loaded.settings.lora;
    return { ...loaded, alpha: settings.alpha ?? loaded.alpha, dropout: settings.dropout ?? loaded.dropout };
  }

  /** The adapter's settings as held now. */
  private get heldLora(): LoraSettings {
    return this.adapterLora ?? this.loaded.settings.lora;
  }

  async pause(): Promise<void> {
    this.control?.pause();
  }

  async resume(): Promise<void> {
    this.control?.resume();
  }

  async stop(): Promise<void> {
    this.control?.stop();
  }

  private assertNotTraining(what: string): void {
    if (this.control && !this.control.paused) throw new EngineError(`pause or stop training before ${what}`);
  }

  async generate(promptIds: Int32Array, options: WorkerGenerateOptions, onToken?: (id: number) => void): Promise<GenerateResult> {
    this.assertNotTraining('generating');
    const { engine, config } = this.loaded;
    const bad = promptIds.findIndex((id) => id < 0 || id >= config.vocabSize);
    if (bad >= 0) throw new EngineError(`prompt token ${promptIds[bad]} at position ${bad} is outside the vocabulary (${config.vocabSize})`);
    // Fire and forget: awaiting each token's round trip to the page would slow generation down.
    return engine.generate(promptIds, this.decodeOptions(options), onToken ? (id) => void onToken(id) : undefined);
  }

  async generateBatch(prompts: Int32Array[], options: WorkerGenerateOptions, onToken?: (row: number, id: number) => void): Promise<GenerateResult[]> {
    this.assertNotTraining('generating');
    const { engine, config } = this.loaded;
    prompts.forEach((p, row) => {
      const bad = p.findIndex((id) => id < 0 || id >= config.vocabSize);
      if (bad >= 0) throw new EngineError(`prompt ${row}: token ${p[bad]} at position ${bad} is outside the vocabulary (${config.vocabSize})`);
    });
    return engine.generateBatch(prompts, this.decodeOptions(options), onToken ? (row, id) => void onToken(row, id) : undefined);
  }

  /** A tool schema becomes a constraint over this model's vocabulary, kept while the schema stays the same. */
  private decodeOptions(options: WorkerGenerateOptions): DecodeOptions {
    const { toolSchema, utterances, ...rest } = options;
    if (!toolSchema) return rest;
    const key = JSON.stringify([toolSchema, rest.stopTokens]);
    const { files } = this.loaded;
    if (this.constraint?.key !== key || this.constraint.files !== files) {
      this.constraint = { key, files, constraint: toolCallConstraint(toolSchema, files.tokenizerJson, rest.stopTokens) };
    }
    const c = this.constraint.constraint;
    if (rest.maxNewTokens < c.minTokens) throw new EngineError(`${rest.maxNewTokens} new tokens are too few for the shortest call of the schema (${c.minTokens})`);
    return { ...rest, constraint: utterances ? c.forUtterances(utterances) : c };
  }

  async measureStep(examples: TrainExample[], padId?: number): Promise<number> {
    if (this.control) throw new EngineError('a training run is in progress: its own steps are timed');
    const { engine, settings } = this.loaded;
    if (!examples.length) throw new EngineError('no examples to time');
    if (examples.length > settings.maxBatch) throw new EngineError(`${examples.length} examples, more than the batch of ${settings.maxBatch} the model was loaded for`);
    return timeStep(engine, makeMicroBatch(examples, padId ?? this.padId({})));
  }

  async evaluate(examples?: TrainExample[]): Promise<EvalResult> {
    this.assertNotTraining('evaluating');
    return this.evalLoss(examples ?? this.evalSet);
  }

  private async evalLoss(data: TrainExample[]): Promise<EvalResult> {
    const { engine, settings } = this.loaded;
    const bs = Math.max(1, Math.min(this.lastRun?.batchSize ?? settings.maxBatch, settings.maxBatch));
    const { loss, tokens } = await evaluateLoss(engine, data, bs, this.lastRun?.padId ?? this.padId({}));
    return { loss, tokens, examples: data.length };
  }

  async getAdapter(): Promise<AdapterData> {
    const { engine } = this.loaded;
    return { lora: this.heldLora, tensors: await engine.getLora() };
  }

  async setAdapter(tensors: Record<string, Float32Array>, alpha?: number): Promise<void> {
    this.assertNotTraining('replacing the adapter');
    const engine = this.loaded.engine;
    if (alpha !== undefined) this.adapterLora = { ...this.heldLora, alpha };
    if (!this.control?.paused) return engine.setLora(tensors, alpha);
    // A paused run keeps its AdamW moments (setLora resets them): the page may swap adapters to
    // compare base and tuned, put the trained one back, and resume the identical run.
    const opt = await engine.getOptimizerState();
    await engine.setLora(tensors, alpha);
    await engine.setOptimizerState(opt);
  }

  async listCheckpoints(): Promise<CheckpointInfo[]> {
    return this.checkpoints.list();
  }

  /** The base weights' part of a run's identity. */
  private modelKey(): string {
    const { summary } = this.loaded;
    return summary.sourceKey || `${summary.name}:${JSON.stringify(summary.config)}`;
  }

  async matchCheckpoint(settings: TrainSettings & RunOptions): Promise<CheckpointInfo | undefined> {
    if (!this.train.length) return undefined;
    // The same identity startTraining will compute: only this run's own checkpoint may be offered.
    const { fingerprint, runId } = await runIdentityOf({
      settings: trainOf(settings), padId: this.padId(settings), lora: this.runLora(settings), modelKey: this.modelKey(), train: this.train, runId: settings.runId,
      start: settings.continueFrom !== undefined ? { from: settings.continueFrom, tensors: {} } : undefined,
    });
    return (await this.checkpoints.list()).find((c) => c.runId === runId && c.fingerprint === fingerprint);
  }

  async deleteCheckpoint(runId: string): Promise<void> {
    await this.checkpoints.delete(runId);
  }

  async exportFiles(kind: ExportKind): Promise<ExportedFile[]> {
    this.assertNotTraining('exporting');
    const { engine, config, files, settings, summary } = this.loaded;
    const tensors = await engine.getLora();
    const folder = new BlobFolder();
    const lora = this.heldLora;
    if (kind === 'adapter') await writePeftAdapter(folder, config, lora, tensors, baseModelName(summary));
    else if (kind === 'gguf') await writeLoraGguf(await folder.create('adapter.gguf'), config, lora, tensors);
    else {
      const extraFiles: Record<string, string> = {};
      const texts: Record<string, string | undefined> = {
        'tokenizer.json': files.tokenizerJson,
        'tokenizer_config.json': files.tokenizerConfigJson,
        'generation_config.json': files.generationConfigJson,
      };
      for (const f of PASSTHROUGH_FILES) if (texts[f] !== undefined) extraFiles[f] = texts[f]!;
      await writeMergedModel(folder, { rawConfig: JSON.parse(files.configJson), config, weights: files.weights, extraFiles }, { settings: lora, tensors }, { quant: resolvedQuant(settings) });
    }
    return [...folder.files].map(([name, blob]) => ({ name, blob }));
  }

  listCachedModels(): Promise<CachedModelInfo[]> {
    return listCachedModels(this.deps.modelStore);
  }

  async deleteCachedModel(sourceKey: string): Promise<void> {
    await deleteCachedModel(this.deps.modelStore, sourceKey);
  }

  storage(): Promise<StorageInfo | undefined> {
    return storageInfo();
  }

  async dispose(): Promise<void> {
    await this.stop();
    await this.model?.engine.dispose();
    this.model = null;
  }
}

/**
 * Uploads the model's weights into an engine sized by the load settings, with a fresh adapter
 * (B = 0) so generation works before any training: it is the base model.
 */
async function loadInto(engine: Engine, m: Pick<Loaded, 'config' | 'files' | 'settings'>, dtype: WeightDType, nf4?: Nf4Source): Promise<MemoryPlan> {
  const { maxBatch, maxSeq, lora } = m.settings;
  // Each tensor is checked for NaN and infinity as it streams into the engine (NF4 blocks are
  // quantized from checked reads or refuse a non-finite value themselves).
  const read = checkedRead(m.files.weights);
  const reader = { dtype, read: (n: string) => read(n) as Promise<Float32Array | Uint16Array>, readInto: checkedReadInto(m.files.weights), readNf4: nf4?.readNf4 };
  const memory = await engine.load(m.config, reader, { maxBatch, maxSeq, lora, quant: resolvedQuant(m.settings) });
  await engine.initLora(0);
  return memory;
}

/** PEFT's base_model_name_or_path: the repo id; for a built-in model a name, not its label "demo (built in)". */
export function baseModelName(summary: Pick<ModelSummary, 'name' | 'sourceKey'>): string {
  if (summary.sourceKey.startsWith('builtin:')) return `webtune-${builtinNameOf(summary.sourceKey.slice('builtin:'.length))}`;
  return summary.name.replace(/@(main|master)$/, '');
}
