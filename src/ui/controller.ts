// The one writer of the store: turns component actions into worker calls and state updates.
// Model math stays in the worker. Datasets and tokenization are in data.ts, training runs in
// training.ts, evaluation/chat/export in results.ts; each sees a narrow context (context.ts).
// Every failure lands as a UiError on the screen where it happened.

import { describeFit } from '../engine/fit.ts';
import { unfitChoice } from './catalog-view.ts';
import { ChatTokenizer } from '../tokenizer/tokenizer.ts';
import type { LoadSettings, QuantChoice } from '../worker/api.ts';
import type { TrainingWorker } from '../worker/client.ts';
import type { Action, LoopAction } from './actions.ts';
import type { DatasetRow } from '../data/dataset.ts';
import type { ExampleSet } from '../data/examples.ts';
import type { LoraSettings } from '../engine/engine.ts';
import { importPeftAdapter, pickAdapterFiles } from '../export/peft-import.ts';
import { saveLang } from './i18n.ts';
import { loadDataset, loadSession, saveSession, type SavedSession } from './persist.ts';
import { DataController } from './data.ts';
import { ResultsController } from './results.ts';
import { LoopController } from './loop.ts';
import { RunsController } from './run-history.ts';
import { TrainingController } from './training.ts';
import { EstimateController } from './estimate.ts';
import { defaultRecipe, loraOf, type Recipe } from '../train/recipe.ts';
import { initialState, uiError, type AppState, type Screen } from './state.ts';
import { defaultsFor, type NumericField } from './train-fields.ts';
import { fieldPatch, sourcePatch } from './settings.ts';
import { formOfKey, keptFolder, modelSourceOf, reopenFolder, sourceIdOf } from './sources.ts';
import type { TrainingContext } from './context.ts';
import type { Store } from './store.ts';

export interface PageOptions {
  /** ?engine=cpu|webgpu forces an engine (tests without WebGPU use it). */
  engine?: 'cpu' | 'webgpu';
  /** ?preset=e2e: a few fast steps for the browser tests. */
  preset?: 'e2e';
  /** ?quant=none|nf4|auto picks the base weights (a page that re-imports a QLoRA adapter). */
  quant?: QuantChoice;
}

/** Short training that still shows a falling loss on the tiny model in a software-GPU browser. */
// Max length stays above the sample rows' longest (~220 tokens with the tiny vocabulary) so no
// answer is cut away; the tests import a few rows, so the run is a handful of steps.
export const E2E_TRAIN: Partial<Recipe> = { epochs: 2, batchSize: 2, gradAccum: 1, lr: 3e-3, maxLength: 256, evalEvery: 2, checkpointEvery: 2 };

export class Controller implements TrainingContext {
  tokenizer?: ChatTokenizer;
  readonly data: DataController;
  readonly results: ResultsController;
  readonly training: TrainingController;
  readonly loop: LoopController;
  readonly runs: RunsController;
  readonly estimate: EstimateController;

  constructor(
    readonly store: Store,
    readonly worker: TrainingWorker,
    readonly options: PageOptions = {},
  ) {
    this.data = new DataController(this);
    this.results = new ResultsController(this);
    this.training = new TrainingController(this);
    const page = this;
    this.loop = new LoopController({
      get state() {
        return page.state;
      },
      patch: (fn) => this.patch(fn),
      importData: (name, text, role) => this.data.importData(name, text, role, true),
      splitRows: () => this.data.splitRows(),
    });
    this.runs = new RunsController(this);
    this.estimate = new EstimateController(this);
    store.subscribe(() => this.estimate.onState());
  }

  quiet(): Promise<void> {
    return this.estimate.quiet();
  }

  get state(): AppState {
    return this.store.state;
  }

  patch(fn: (s: AppState) => Partial<AppState>): void {
    this.store.update((s) => ({ ...s, ...fn(s) }));
  }

  async init(): Promise<void> {
    await this.restoreSession();
    await this.loop.restore();
    await this.runs.refresh();
    if (this.options.engine) this.patch(() => ({ engineChoice: this.options.engine! }));
    if (this.options.quant) this.patch(() => ({ quantChoice: this.options.quant! }));
    if (this.options.preset === 'e2e') this.patch((s) => ({ train: { ...s.train, ...E2E_TRAIN }, chat: { ...s.chat, maxNewTokens: 16 } }));
    try {
      const probe = await this.worker.probe();
      this.patch(() => ({ probe }));
    } catch (e) {
      this.patch(() => ({ workerError: e instanceof Error ? e.message : String(e) }));
      return;
    }
    await this.refreshCachedModels();
    // The first screen is ready to train: the built-in model loads itself, and the sample data
    // comes in when nothing was imported before.
    if (!this.data.trainSet) await this.data.importSample();
    // The last model loads again when that costs no download: the built-in one, a cached one, a kept folder.
    const f = this.state.source;
    const id = sourceIdOf(f, document.baseURI);
    if (f.kind === 'builtin' || (f.kind === 'local' && f.files.length) || this.state.cachedModels.some((m) => m.complete && m.sourceKey === id)) await this.loadModel();
  }

  /** The form for a cached model or the kept folder; false when there is none to load. */
  private async sourceFor(a: Extract<Action, { type: 'loadCached' | 'reopenFolder' }>): Promise<boolean> {
    const patch = a.type === 'loadCached' ? formOfKey(a.sourceKey) : await reopenFolder().then((o) => o && { kind: 'local' as const, files: o.files, folderName: o.folder });
    if (!patch) return false;
    this.patch((s) => ({ ...sourcePatch(s, patch), keptFolder: undefined }));
    await this.persist();
    return true;
  }

  async handle(a: Action): Promise<void> {
    switch (a.type) {
      case 'setLang':
        saveLang(a.lang);
        this.patch(() => ({ lang: a.lang }));
        document.documentElement.lang = a.lang === 'zh' ? 'zh-CN' : 'en';
        return;
      case 'go':
        this.patch(() => ({ screen: a.screen }));
        return;
      case 'setEngine':
        this.patch(() => ({ engineChoice: a.engine }));
        return this.persist();
      case 'setQuant':
        this.patch(() => ({ quantChoice: a.quant }));
        return this.persist();
      case 'setSource':
        this.patch((s) => sourcePatch(s, a.patch));
        return this.persist();
      case 'loadCached':
      case 'reopenFolder':
      case 'loadModel': {
        if (a.type !== 'loadModel' && !(await this.sourceFor(a))) return;
        // A trained adapter is not replaced without a word (it stays saved as a run either way).
        const tr = this.state.training;
        if (tr.trained && !(a.type === 'loadModel' && a.confirmed)) return this.patch(() => ({ confirmLoad: { steps: tr.progress?.step ?? 0 } }));
        this.patch(() => ({ confirmLoad: undefined }));
        return void (await this.loadModel());
      }
      case 'cancelReplace':
        this.patch(() => ({ confirmLoad: undefined }));
        return;
      case 'cancelLoad':
        // The pending loadModel rejects with an 'aborted' DownloadError, shown like any failure.
        return this.worker.cancelLoad();
      case 'deleteCachedModel':
        await this.worker.deleteCachedModel(a.sourceKey);
        return this.refreshCachedModels();
      // Each change of the data or a setting changes the run Start would make: the offer of a
      // saved run is looked up again for it.
      case 'importData':
        await this.data.importData(a.name, a.file ?? a.text ?? '', a.role);
        return this.training.findCheckpoint();
      case 'importSample':
        await this.data.importSample();
        return this.training.findCheckpoint();
      case 'useSplit':
      case 'useEvalFile':
      case 'importGood':
        await (a.type === 'useSplit' ? this.data.useSplit() : a.type === 'useEvalFile' ? this.data.useParked() : this.data.importGood());
        return this.training.findCheckpoint();
      case 'setSplit':
        this.patch(() => ({ evalFraction: a.evalFraction }));
        await this.persist();
        await this.data.recountTokens();
        return this.training.findCheckpoint();
      case 'setSystemPrompt':
      case 'setAllowControlText':
        this.patch(() => (a.type === 'setSystemPrompt' ? { systemPrompt: a.text } : { allowControlText: a.allow }));
        await this.persist();
        await this.data.recountTokens();
        return this.training.findCheckpoint();
      case 'setTrain':
        this.patch((s) => ({ train: { ...s.train, ...a.patch } }));
        await this.persist();
        if (a.patch.maxLength !== undefined) await this.data.recountTokens();
        return this.training.findCheckpoint();
      case 'setTrainField':
        return this.setTrainField(a.key, a.raw);
      case 'resetTrain':
        this.patch((s) => ({ train: defaultsFor(s.source), trainErrors: {} }));
        await this.persist();
        await this.data.recountTokens();
        return this.training.findCheckpoint();
      case 'startTraining':
        return this.train(a.fresh);
      case 'pauseTraining':
        // Said at once; the worker finishes the optimizer step under way, then holds.
        this.patch((s) => ({ training: { ...s.training, state: s.training.state === 'running' ? 'pausing' : s.training.state } }));
        return this.worker.pause();
      case 'resumeTraining':
        this.patch((s) => ({ training: { ...s.training, state: 'running' } }));
        return this.worker.resume();
      case 'stopTraining':
        return this.worker.stop();
      case 'importAdapter':
        return this.importAdapter(a.files, a.folder);
      case 'evaluate':
        await this.results.evaluate();
        return this.runs.fileEvaluation();
      case 'setChat':
        this.patch((s) => ({ chat: { ...s.chat, ...a.patch } }));
        return this.persist();
      case 'sendChat':
        return this.results.chat();
      case 'export':
        return this.results.export(a.kind);
      case 'dismissError':
        return this.dismissError(a.where);
      default:
        return this.handleLoop(a);
    }
  }

  /** The error loop's actions: schema, built rows, corrections, continued training, runs. */
  private async handleLoop(a: LoopAction): Promise<void> {
    if (a.type === 'continueTraining') return this.train(false, this.state.runs.current ?? 'current adapter');
    if (a.type === 'selectRun' || a.type === 'loadRun' || a.type === 'exportRun' || a.type === 'deleteRun') return this.runs.handle(a);
    return this.loop.handle(a);
  }

  /** A run, kept with its adapter once it ends; continueFrom starts it from the engine's adapter. */
  private async train(fresh: boolean, continueFrom?: string): Promise<void> {
    const parent = continueFrom !== undefined ? this.state.runs.current : undefined;
    const ended = await this.training.start(fresh, continueFrom);
    if (ended) await this.runs.record({ ...ended, parent });
  }

  private async setTrainField(key: NumericField, raw: string): Promise<void> {
    const p = fieldPatch(this.state, key, raw);
    if (!p) return;
    this.patch(() => p);
    if (!(key in p.trainErrors)) {
      await this.persist();
      if (key === 'maxLength') await this.data.recountTokens();
      await this.training.findCheckpoint();
    }
  }

  // ---- session ---------------------------------------------------------------------------

  private async restoreSession(): Promise<void> {
    const saved = await loadSession();
    if (saved) {
      this.patch((s) => ({
        engineChoice: saved.engineChoice,
        quantChoice: saved.quantChoice ?? 'auto',
        source: { ...s.source, ...saved.source, files: [], folderName: '' },
        train: { ...defaultRecipe(), ...saved.train },
        evalFraction: saved.evalFraction,
        splitSeed: saved.splitSeed,
        systemPrompt: saved.systemPrompt,
        chat: { ...s.chat, ...saved.chat },
      }));
    }
    for (const role of ['train', 'eval'] as const) {
      const d = await loadDataset(role);
      // Sessions saved before datasets were kept as files hold the text.
      const content = d?.blob ?? d?.text;
      if (d && content !== undefined) await this.data.importData(d.name, content, role, true);
    }
    // A local folder comes back through its kept handle: at once when the browser still allows
    // reading it, else with a button (the permission prompt needs a click); without one, the built-in model.
    if (this.state.source.kind !== 'local') return;
    const kept = await keptFolder();
    const open = kept?.granted ? await reopenFolder() : undefined;
    if (open) this.patch((s) => ({ source: { ...s.source, files: open.files, folderName: open.folder } }));
    else this.patch((s) => (kept ? { keptFolder: kept.name } : { source: { ...s.source, kind: 'builtin' } }));
  }

  async persist(): Promise<void> {
    const s = this.state;
    const session: SavedSession = {
      engineChoice: s.engineChoice,
      quantChoice: s.quantChoice,
      source: { kind: s.source.kind, repo: s.source.repo, revision: s.source.revision, baseUrl: s.source.baseUrl },
      train: s.train,
      evalFraction: s.evalFraction,
      splitSeed: s.splitSeed,
      systemPrompt: s.systemPrompt,
      chat: { prompt: s.chat.prompt, maxNewTokens: s.chat.maxNewTokens, temperature: s.chat.temperature },
    };
    await saveSession(session);
  }

  private dismissError(where: Screen): void {
    this.patch((s) => ({
      model: where === 'model' ? { ...s.model, error: undefined } : s.model,
      adapter: where === 'model' ? { ...s.adapter, error: undefined } : s.adapter,
      lastImport: where === 'data' ? undefined : s.lastImport,
      training: where === 'train' ? { ...s.training, error: undefined } : s.training,
      evaluation: where === 'eval' ? { ...s.evaluation, error: undefined } : s.evaluation,
    }));
  }

  // ---- model -----------------------------------------------------------------------------

  loadSettings(): LoadSettings {
    const t = this.state.train;
    return {
      maxBatch: t.batchSize,
      maxSeq: t.maxLength,
      lora: loraOf(t),
      quant: this.state.quantChoice,
    };
  }

  async loadModel(): Promise<boolean> {
    await this.quiet();
    const source = modelSourceOf(this.state.source, document.baseURI);
    if (!('kind' in source)) {
      this.patch((s) => ({ model: { ...s.model, error: source } }));
      return false;
    }
    // a catalog model whose plan cannot fit is refused here, before anything downloads
    const unfit = unfitChoice(this.state);
    if (unfit) {
      const detail = describeFit(unfit.plans[0].fit, `${unfit.model.repo} at batch ${this.state.train.batchSize} x max length ${this.state.train.maxLength}`);
      this.patch((s) => ({ model: { ...s.model, error: { where: 'model', key: 'model.tooBig', detail } } }));
      return false;
    }
    const settings = this.loadSettings();
    const engine = this.state.engineChoice;
    this.patch(() => ({ model: { status: 'loading' } }));
    try {
      const summary = await this.worker.loadModel(source, engine, settings, (progress) =>
        this.patch((s) => ({ model: { ...s.model, progress } })),
      );
      this.tokenizer = ChatTokenizer.fromJson(summary.tokenizerJson, summary.tokenizerConfigJson ?? {});
      const t = this.state.train;
      this.patch(() => ({
        model: {
          status: 'ready',
          summary,
          loadedWith: { r: t.r, alpha: t.alpha, dropout: t.dropout, rslora: t.rslora, targets: [...t.targets], batch: t.batchSize, seq: t.maxLength, engine, quant: settings.quant ?? 'none', source: sourceIdOf(this.state.source, document.baseURI) },
        },
        training: { state: 'idle', losses: [], evalLosses: [], trained: false },
        // A new engine starts from a fresh LoRA init: any applied adapter is gone, and results of
        // the previous model would mislead.
        adapter: { busy: this.state.adapter.busy },
        evaluation: { busy: false, done: 0, total: 0, inputs: [], added: [] },
        runs: { ...this.state.runs, current: undefined },
        chat: { ...this.state.chat, base: { text: '', tokens: 0, busy: false }, tuned: { text: '', tokens: 0, busy: false } },
        exports: initialState(this.state.lang).exports,
      }));
    } catch (e) {
      this.tokenizer = undefined;
      this.patch(() => ({ model: { status: 'error', error: uiError('model', 'model.failed', e) } }));
      return false;
    }
    await this.persist();
    await Promise.all([this.refreshCachedModels(), this.data.recountTokens(), this.training.findCheckpoint()]);
    return true;
  }

  private async refreshCachedModels(): Promise<void> {
    try {
      const [cachedModels, storage] = await Promise.all([this.worker.listCachedModels(), this.worker.storage()]);
      this.patch((s) => ({ cachedModels, probe: s.probe && storage ? { ...s.probe, storage } : s.probe }));
    } catch {
      // A browser without IndexedDB has no cache to list; loading still works.
    }
  }

  /** Does the loaded engine hold what the current settings need? */
  loadedMatches(): boolean {
    const m = this.state.model;
    const t = this.state.train;
    const w = m.loadedWith;
    if (m.status !== 'ready' || !w) return false;
    return (
      w.r === t.r &&
      w.alpha === t.alpha &&
      w.dropout === t.dropout &&
      w.rslora === t.rslora &&
      w.targets.join() === t.targets.join() &&
      // Exactly: an engine sized for a bigger shape runs every step at that size's cost.
      w.batch === t.batchSize &&
      w.seq === t.maxLength &&
      w.engine === this.state.engineChoice &&
      w.quant === this.state.quantChoice
    );
  }

  /** The settings take an adapter's shape, and the model reloads when the engine was built otherwise. */
  async ensureLora(l: LoraSettings): Promise<boolean> {
    this.patch((s) => ({ train: { ...s.train, r: l.r, alpha: l.alpha, dropout: l.dropout, rslora: l.rslora, targets: [...l.targets] } }));
    await this.persist();
    return this.loadedMatches() || this.loadModel();
  }

  /**
   * A PEFT adapter folder replaces the engine's LoRA weights. Its shape (r, targets, scaling)
   * becomes the page's settings, and the engine is reloaded for it when it was built otherwise.
   */
  async importAdapter(files: File[], folder = ''): Promise<void> {
    const summary = this.state.model.summary;
    if (!summary || this.state.model.status !== 'ready') return;
    await this.quiet();
    this.patch(() => ({ adapter: { busy: true } }));
    try {
      const path = (f: File) => f.webkitRelativePath || f.name;
      const picked = pickAdapterFiles(files.map(path));
      const file = (name: string) => files.find((f) => path(f) === name)!;
      const imported = await importPeftAdapter(await file(picked.config).text(), file(picked.weights), summary.config);
      const l = imported.settings;
      if (!(await this.ensureLora(l))) throw new Error(this.state.model.error?.detail ?? 'the model did not reload');
      await this.worker.setAdapter(imported.tensors);
      this.runs.forget();
      this.patch((s) => ({
        adapter: { busy: false, name: folder || picked.config.split('/')[0], r: l.r, alpha: l.alpha, targets: l.targets.length },
        training: { ...s.training, trained: true },
      }));
    } catch (e) {
      this.patch(() => ({ adapter: { busy: false, error: uiError('model', 'adapter.failed', e) } }));
    }
  }

  // ---- data (DataController), as the screen controllers see it ----------------------------

  splitRows(): { train: DatasetRow[]; eval: DatasetRow[] } {
    return this.data.splitRows();
  }

  exampleSet(rows: DatasetRow[]): Promise<ExampleSet> {
    return this.data.exampleSet(rows);
  }

  trainData(): { name?: string; rows?: number } {
    return this.data.trainData();
  }
}
