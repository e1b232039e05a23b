// Everything the training worker does, without the transport: worker.ts exposes one of these
// through Comlink, and tests drive it directly in Node. One session holds one engine, one
// dataset and at most one training run.

// The model half (loading, device-loss reload, the model cache) is in session-model.ts
// (SessionModel), which this extends: split so each file reads on its own.

import { DatasetError, DeviceLostError, EngineError, type DatasetIssue } from '../core/errors.ts';
import type { DecodeOptions, LoraSettings, TrainExample } from '../engine/engine.ts';
import { toolCallConstraint, type ToolCallConstraint } from '../data/constrain.ts';
import { timeStep } from './engine-choice.ts';
import type { ModelFiles } from '../io/model-files.ts';
import { resolvedQuant } from './quant.ts';
import { BlobFolder } from '../export/sink.ts';
import { writePeftAdapter } from '../export/peft.ts';
import { writeMergedModel, PASSTHROUGH_FILES } from '../export/merged.ts';
import { writeLoraGguf } from '../export/gguf.ts';
import { CheckpointStore } from '../train/checkpoint.ts';
import { runIdentityOf, runTraining, RunControl, type RunTrainingOptions } from '../train/loop.ts';
import { evaluateLoss, makeMicroBatch } from '../train/trainer.ts';
import { trainOf } from '../train/recipe.ts';
import type {
  AdapterData,
  CheckpointInfo,
  EvalResult,
  ExportedFile,
  ExportKind,
  GenerateResult,
  RunOptions,
  TrainOutcome,
  TrainProgress,
  TrainSettings,
  WorkerApi,
  WorkerGenerateOptions,
} from './api.ts';
import { SessionModel, baseModelName, type SessionDeps } from './session-model.ts';

export type { SessionDeps } from './session-model.ts';

const MAX_DEVICE_RECOVERIES = 2;

function lastProgress(o: TrainOutcome): TrainProgress {
  const last = o.history.at(-1);
  return {
    step: o.steps,
    totalSteps: o.totalSteps,
    epoch: 0,
    loss: last?.loss ?? NaN,
    lr: last?.lr ?? 0,
    gradNorm: last?.gradNorm ?? 0,
    tokensPerSec: 0,
    etaSec: 0,
    memoryBytes: 0,
    state: 'running',
  };
}

export class TrainingSession extends SessionModel implements WorkerApi {
  private train: TrainExample[] = [];
  private evalSet: TrainExample[] = [];
  /** Evaluation batches like the last run's: its micro-batch size and padding id. */
  private lastRun: { batchSize: number; padId: number } | null = null;
  private readonly checkpoints: CheckpointStore;
  private constraint: { key: string; files: ModelFiles; constraint: ToolCallConstraint } | null = null;

  constructor(deps: SessionDeps) {
    super(deps);
    this.checkpoints = new CheckpointStore(deps.checkpointStore);
  }

  async setDataset(train: TrainExample[], evalSet: TrainExample[]): Promise<{ train: number; eval: number }> {
    const { config, settings } = this.loaded;
    const issues: DatasetIssue[] = [];
    const check = (rows: TrainExample[], which: string) =>
      rows.forEach((ex, index) => {
        const at = (message: string) => issues.push({ index, field: which, message });
        if (!(ex.ids instanceof Int32Array) || !(ex.labels instanceof Int32Array))
          return at('ids and labels must be Int32Array');
        if (ex.ids.length === 0) return at('no tokens');
        if (ex.labels.length !== ex.ids.length) return at(`${ex.labels.length} labels for ${ex.ids.length} tokens`);
        if (ex.ids.length > settings.maxSeq)
          return at(`${ex.ids.length} tokens, more than the max length ${settings.maxSeq} the model was loaded for`);
        const bad = ex.ids.findIndex((id) => id < 0 || id >= config.vocabSize);
        if (bad >= 0)
          return at(`token ${ex.ids[bad]} at position ${bad} is outside the vocabulary (${config.vocabSize})`);
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

  async startTraining(
    settings: TrainSettings & RunOptions,
    onProgress?: (p: TrainProgress) => void,
  ): Promise<TrainOutcome> {
    const { engine, settings: loadSettings } = this.loaded;
    if (this.control) throw new EngineError('training is already running');
    if (!this.train.length) throw new EngineError('no training examples: call setDataset first');
    if (settings.batchSize > loadSettings.maxBatch)
      throw new EngineError(
        `batch size ${settings.batchSize} is larger than the ${loadSettings.maxBatch} the model was loaded for`,
      );
    // Claimed before the first await, so a second call made meanwhile is refused.
    const control = (this.control = new RunControl());
    try {
      // Kept here, not read again later: a device loss reloads the engine with a fresh adapter.
      const start =
        settings.continueFrom !== undefined
          ? { from: settings.continueFrom, tensors: await engine.getLora() }
          : undefined;
      let outcome = await this.run(settings, control, onProgress, MAX_DEVICE_RECOVERIES > 0, start);
      // A GPU reset (driver crash, tab backgrounded too long) loses every buffer: reload the
      // weights on a fresh device and continue from the last checkpoint, a bounded number of times.
      for (
        let retry = 1;
        outcome.state === 'error' && outcome.errorName === 'DeviceLostError' && retry <= MAX_DEVICE_RECOVERIES;
        retry++
      ) {
        onProgress?.({
          ...lastProgress(outcome),
          state: 'running',
          message: `the GPU device was lost; reloading the model and resuming from the last checkpoint (attempt ${retry})`,
        });
        await this.reloadEngine();
        outcome = await this.run(
          { ...settings, resume: true },
          control,
          onProgress,
          retry < MAX_DEVICE_RECOVERIES,
          start,
        );
      }
      return outcome;
    } finally {
      this.control = null;
    }
  }

  private async run(
    settings: TrainSettings & RunOptions,
    control: RunControl,
    onProgress?: (p: TrainProgress) => void,
    deviceLossRecoverable = false,
    start?: RunTrainingOptions['start'],
  ): Promise<TrainOutcome> {
    const { engine, summary } = this.loaded;
    const train = trainOf(settings);
    const padId = this.padId(settings);
    this.lastRun = { batchSize: train.batchSize, padId };
    const lora = this.runLora(settings);
    this.adapterLora = lora;
    return runTraining({
      engine,
      train: this.train,
      eval: this.evalSet,
      settings: train,
      padId,
      lora,
      modelKey: this.modelKey(),
      runId: settings.runId,
      resume: settings.resume,
      start,
      checkpoints: this.checkpoints,
      memoryBytes: summary.memory.allocated || summary.memory.total,
      control,
      onProgress,
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

  async generate(
    promptIds: Int32Array,
    options: WorkerGenerateOptions,
    onToken?: (id: number) => void,
  ): Promise<GenerateResult> {
    this.assertNotTraining('generating');
    const { engine, config } = this.loaded;
    const bad = promptIds.findIndex((id) => id < 0 || id >= config.vocabSize);
    if (bad >= 0)
      throw new EngineError(
        `prompt token ${promptIds[bad]} at position ${bad} is outside the vocabulary (${config.vocabSize})`,
      );
    // Fire and forget: awaiting each token's round trip to the page would slow generation down.
    return engine.generate(promptIds, this.decodeOptions(options), onToken ? (id) => void onToken(id) : undefined);
  }

  async generateBatch(
    prompts: Int32Array[],
    options: WorkerGenerateOptions,
    onToken?: (row: number, id: number) => void,
  ): Promise<GenerateResult[]> {
    this.assertNotTraining('generating');
    const { engine, config } = this.loaded;
    prompts.forEach((p, row) => {
      const bad = p.findIndex((id) => id < 0 || id >= config.vocabSize);
      if (bad >= 0)
        throw new EngineError(
          `prompt ${row}: token ${p[bad]} at position ${bad} is outside the vocabulary (${config.vocabSize})`,
        );
    });
    return engine.generateBatch(
      prompts,
      this.decodeOptions(options),
      onToken ? (row, id) => void onToken(row, id) : undefined,
    );
  }

  /** A tool schema becomes a constraint over this model's vocabulary, kept while the schema stays the same. */
  private decodeOptions(options: WorkerGenerateOptions): DecodeOptions {
    const { toolSchema, utterances, ...rest } = options;
    if (!toolSchema) return rest;
    const key = JSON.stringify([toolSchema, rest.stopTokens]);
    const { files } = this.loaded;
    if (this.constraint?.key !== key || this.constraint.files !== files) {
      this.constraint = {
        key,
        files,
        constraint: toolCallConstraint(toolSchema, files.tokenizerJson, rest.stopTokens),
      };
    }
    const c = this.constraint.constraint;
    if (rest.maxNewTokens < c.minTokens)
      throw new EngineError(
        `${rest.maxNewTokens} new tokens are too few for the shortest call of the schema (${c.minTokens})`,
      );
    return { ...rest, constraint: utterances ? c.forUtterances(utterances) : c };
  }

  async measureStep(examples: TrainExample[], padId?: number): Promise<number> {
    if (this.control) throw new EngineError('a training run is in progress: its own steps are timed');
    const { engine, settings } = this.loaded;
    if (!examples.length) throw new EngineError('no examples to time');
    if (examples.length > settings.maxBatch)
      throw new EngineError(
        `${examples.length} examples, more than the batch of ${settings.maxBatch} the model was loaded for`,
      );
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
      settings: trainOf(settings),
      padId: this.padId(settings),
      lora: this.runLora(settings),
      modelKey: this.modelKey(),
      train: this.train,
      runId: settings.runId,
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
      await writeMergedModel(
        folder,
        { rawConfig: JSON.parse(files.configJson), config, weights: files.weights, extraFiles },
        { settings: lora, tensors },
        { quant: resolvedQuant(settings) },
      );
    }
    return [...folder.files].map(([name, blob]) => ({ name, blob }));
  }
  async dispose(): Promise<void> {
    await this.stop();
    await this.model?.engine.dispose();
    this.model = null;
  }
}
