// The training worker's model half: loading a model (files, config check, engine choice, weights),
// reloading it after a device loss, and the model cache. TrainingSession (session.ts) extends this
// with the dataset, training, generation, evaluation, checkpoints and export; split so each file
// reads on its own. Tests drive TrainingSession directly in Node.

import { paramCount, parseQwen2Config, validateWeights, type Qwen2Config } from '../core/config.ts';
import { checkedRead, checkedReadInto } from '../core/finite.ts';
import { EngineError } from '../core/errors.ts';
import { cpuLimits, type DeviceLimits } from '../engine/fit.ts';
import type { WeightDType } from '../core/dtype.ts';
import type { Engine, EngineKind, LoraSettings, MemoryPlan } from '../engine/engine.ts';
import { chooseEngine, engineFor } from './engine-choice.ts';
import { probeBrowser } from './probe-browser.ts';
import { deleteCachedModel, listCachedModels, storageInfo } from '../io/cache.ts';
import type { FetchFn } from '../io/download.ts';
import { openModel, type ModelFiles } from '../io/model-files.ts';
import { builtinNameOf } from '../io/sources.ts';
import { memoryStore, type KeyValueStore } from '../io/store.ts';
import type { Nf4Source } from '../io/quant-cache.ts';
import { fitBase, nf4Source, resolvedQuant } from './quant.ts';
import type { Quantization } from '../core/nf4.ts';
import type { RunControl } from '../train/loop.ts';
import type {
  CachedModelInfo,
  EngineChoice,
  LoadProgress,
  LoadSettings,
  ModelSource,
  ModelSummary,
  ProbeResult,
  StorageInfo,
} from './api.ts';

export interface SessionDeps {
  modelStore: KeyValueStore;
  checkpointStore: KeyValueStore;
  createEngine: (kind: EngineKind) => Promise<Engine>;
  fetchFn?: FetchFn;
  /** Download retry pause (tests shorten it). */
  retryDelayMs?: number;
}

export interface Loaded {
  files: ModelFiles;
  config: Qwen2Config;
  engine: Engine;
  settings: LoadSettings;
  summary: ModelSummary;
}

/** The loaded model and its loading; TrainingSession (session.ts) is the whole session. */
export class SessionModel {
  protected model: Loaded | null = null;
  /** The training run in progress (paused ones included); null when idle. */
  protected control: RunControl | null = null;
  protected loadAbort: AbortController | null = null;
  /** The adapter's settings as the engine holds it now: the load's shape, with the last run's (or import's) alpha and dropout. */
  protected adapterLora: LoraSettings | null = null;

  constructor(protected readonly deps: SessionDeps) {}

  /** What this browser offers (probe-browser.ts). */
  probe(): Promise<ProbeResult> {
    return probeBrowser();
  }

  async loadModel(
    source: ModelSource,
    choice: EngineChoice,
    settings: LoadSettings,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<ModelSummary> {
    if (this.control) throw new EngineError('stop training before loading another model');
    const t0 = performance.now();
    const report = (p: Partial<LoadProgress> & Pick<LoadProgress, 'phase' | 'message'>) =>
      onProgress?.({
        fileBytes: 0,
        fileTotal: 0,
        loadedBytes: 0,
        totalBytes: 0,
        bytesPerSec: 0,
        etaSec: 0,
        fromCache: false,
        ...p,
      });
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
    report({
      phase: 'load',
      message:
        quant === 'nf4'
          ? 'loading the weights into the engine, the projections as 4-bit NF4'
          : 'loading the weights into the engine',
    });
    const nf4 = await nf4Source(this.deps.modelStore, files, dtype, settings);
    const m = { config, files, settings };
    const probe = choice === 'cpu' ? undefined : await this.probe();
    const { engine, decision, memory } = await chooseEngine(
      choice,
      probe,
      paramCount(config),
      { vocabSize: config.vocabSize, ...settings },
      this.deps.createEngine,
      (e) => loadInto(e, m, dtype, nf4),
    );
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
  protected async reloadEngine(): Promise<void> {
    const m = this.loaded;
    await m.engine.dispose().catch(() => undefined);
    const engine = await this.deps.createEngine(m.summary.engine.kind);
    await loadInto(
      engine,
      m,
      m.summary.weightDType,
      await nf4Source(this.deps.modelStore, m.files, m.summary.weightDType, m.settings),
    );
    this.model = { ...m, engine };
  }

  /** The limits of the engine a load would get, for fitBase (quant.ts): the refusal before any weight downloads. */
  private async limits(choice: EngineChoice, configJson: string): Promise<DeviceLimits> {
    const probe = choice === 'cpu' ? undefined : await this.probe();
    const gpu = probe && engineFor(choice, probe, paramCount(parseQwen2Config(configJson))) === 'webgpu';
    return gpu
      ? { kind: 'webgpu', maxBufferSize: probe.maxBufferSize, maxBindingSize: probe.maxStorageBufferBindingSize }
      : cpuLimits();
  }

  async loadedModel(): Promise<ModelSummary | undefined> {
    return this.model?.summary;
  }

  async cancelLoad(): Promise<void> {
    this.loadAbort?.abort();
  }

  protected get loaded(): Loaded {
    if (!this.model) throw new EngineError('no model loaded: call loadModel first');
    return this.model;
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
}

/**
 * Uploads the model's weights into an engine sized by the load settings, with a fresh adapter
 * (B = 0) so generation works before any training: it is the base model.
 */
async function loadInto(
  engine: Engine,
  m: Pick<Loaded, 'config' | 'files' | 'settings'>,
  dtype: WeightDType,
  nf4?: Nf4Source,
): Promise<MemoryPlan> {
  const { maxBatch, maxSeq, lora } = m.settings;
  // Each tensor is checked for NaN and infinity as it streams into the engine (NF4 blocks are
  // quantized from checked reads or refuse a non-finite value themselves).
  const read = checkedRead(m.files.weights);
  const reader = {
    dtype,
    read: (n: string) => read(n) as Promise<Float32Array | Uint16Array>,
    readInto: checkedReadInto(m.files.weights),
    readNf4: nf4?.readNf4,
  };
  const memory = await engine.load(m.config, reader, { maxBatch, maxSeq, lora, quant: resolvedQuant(m.settings) });
  await engine.initLora(0);
  return memory;
}

/** PEFT's base_model_name_or_path: the repo id; for a built-in model a name, not its label "demo (built in)". */
export function baseModelName(summary: Pick<ModelSummary, 'name' | 'sourceKey'>): string {
  if (summary.sourceKey.startsWith('builtin:'))
    return `webtune-${builtinNameOf(summary.sourceKey.slice('builtin:'.length))}`;
  return summary.name.replace(/@(main|master)$/, '');
}
