// The one writer of the store: turns component actions into worker calls and state updates.
// Model math stays in the worker. Datasets and tokenization are in ui/data/datasets.ts, training
// runs in ui/train/training.ts, evaluation/chat/export in ui/evaluate/results.ts; each sees a
// narrow context (context.ts).
// Every failure lands as a UiError on the screen where it happened.

import type { ChatTokenizer } from '../../tokenizer/tokenizer.ts';
import { ModelLoader } from '../model/model-load.ts';
import type { LoadSettings, QuantChoice } from '../../worker/api.ts';
import type { TrainingWorker } from '../../worker/client.ts';
import type { Action, LoopAction } from './actions.ts';
import type { DatasetRow } from '../../data/dataset.ts';
import type { ExampleSet } from '../../data/examples.ts';
import type { EngineKind, LoraSettings } from '../../engine/engine.ts';
import { saveLang } from '../shared/i18n.ts';
import { loadDataset, loadSession, saveSession } from './persist.ts';
import { restoredPatch, sessionOf } from './page-session.ts';
import { DataController } from '../data/datasets.ts';
import { ResultsController } from '../evaluate/results.ts';
import { LoopController } from '../data/error-loop.ts';
import { RunsController } from '../evaluate/run-history.ts';
import { continueWithControl } from '../evaluate/loop-control.ts';
import { RunLauncher } from './run-launch.ts';
import { TrainingController } from '../train/training.ts';
import { EstimateController } from '../train/estimate.ts';
import type { Recipe } from '../../train/recipe.ts';
import type { AppState, Screen } from './state.ts';
import { defaultsFor, type NumericField } from '../train/train-fields.ts';
import { fieldPatch, recheckPatch, sourcePatch } from '../train/settings.ts';
import { formOfKey, keptFolder, reopenFolder, sourceIdOf } from '../model/source-form.ts';
import type { TrainingContext } from './context.ts';
import type { Store } from './page-store.ts';

export interface PageOptions {
  /** ?engine=cpu|webgpu forces an engine (tests without WebGPU use it). */
  engine?: EngineKind;
  /** ?preset=e2e: a few fast steps for the browser tests. */
  preset?: 'e2e';
  /** ?quant=none|nf4|auto picks the base weights (a page that re-imports a QLoRA adapter). */
  quant?: QuantChoice;
}

/** Short training that still shows a falling loss on the tiny model in a software-GPU browser. */
// Max length stays above the sample rows' longest (~220 tokens with the tiny vocabulary) so no
// answer is cut away; the tests import a few rows, so the run is a handful of steps.
export const E2E_TRAIN: Partial<Recipe> = {
  epochs: 2,
  batchSize: 2,
  gradAccum: 1,
  lr: 3e-3,
  maxLength: 256,
  evalEvery: 2,
  checkpointEvery: 2,
};

export class Controller implements TrainingContext {
  tokenizer?: ChatTokenizer;
  readonly data: DataController;
  readonly results: ResultsController;
  readonly training: TrainingController;
  readonly loop: LoopController;
  readonly runs: RunsController;
  readonly estimate: EstimateController;
  readonly models: ModelLoader;
  /** Starts runs (fresh, resumed, continued, a control) and keeps them when they end. */
  private readonly launcher: RunLauncher;
  /** The run whose adapter was in use before the reload, until it is put back (init). */
  private savedRun?: string;
  private restoring = true;
  private persistedRun?: string;

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
    this.models = new ModelLoader(this);
    this.launcher = new RunLauncher(this);
    store.subscribe(() => this.estimate.onState());
    // The adapter in use is part of the saved page: kept whenever it changes (a run ends, one is loaded).
    store.subscribe(() => {
      if (this.restoring || this.state.runs.current === this.persistedRun) return;
      this.persistedRun = this.state.runs.current;
      void this.persist();
    });
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
    try {
      await this.initSteps();
    } finally {
      this.restoring = false;
      this.persistedRun = this.state.runs.current;
      await this.persist();
    }
  }

  private async initSteps(): Promise<void> {
    await this.restoreSession();
    await this.loop.restore();
    await this.runs.refresh();
    if (this.options.engine) this.patch(() => ({ engineChoice: this.options.engine! }));
    if (this.options.quant) this.patch(() => ({ quantChoice: this.options.quant! }));
    if (this.options.preset === 'e2e')
      this.patch((s) => ({ train: { ...s.train, ...E2E_TRAIN }, chat: { ...s.chat, maxNewTokens: 16 } }));
    try {
      const probe = await this.worker.probe();
      this.patch(() => ({ probe }));
      this.patch(recheckPatch);
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
    if (
      f.kind === 'builtin' ||
      (f.kind === 'local' && f.files.length) ||
      this.state.cachedModels.some((m) => m.complete && m.sourceKey === id)
    ) {
      if (await this.loadModel()) await this.restoreAdapter();
    }
  }

  /**
   * The adapter in use before the reload is in use again, on every screen: the kept run it came
   * from goes back into the engine when it was trained on this model (issue 22, point 1). A
   * continued run that was interrupted is offered for Resume instead of its parent's result.
   */
  private async restoreAdapter(): Promise<void> {
    const id = this.savedRun;
    const summary = this.state.model.summary;
    const rec = id ? this.state.runs.list.find((r) => r.id === id) : undefined;
    if (!rec || !summary || rec.modelKey !== (summary.sourceKey || summary.name)) return;
    if (!(await this.runs.load(rec.id))) return;
    if (this.state.continuing) {
      this.patch((s) => ({
        training: { ...s.training, state: 'idle', progress: undefined, losses: [], evalLosses: [] },
      }));
      await this.training.findCheckpoint();
    }
  }

  /** The form for a cached model or the kept folder; false when there is none to load. */
  private async sourceFor(a: Extract<Action, { type: 'loadCached' | 'reopenFolder' }>): Promise<boolean> {
    const patch =
      a.type === 'loadCached'
        ? formOfKey(a.sourceKey)
        : await reopenFolder().then((o) => o && { kind: 'local' as const, files: o.files, folderName: o.folder });
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
        this.patch(recheckPatch);
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
        if (tr.trained && !(a.type === 'loadModel' && a.confirmed))
          return this.patch(() => ({ confirmLoad: { steps: tr.progress?.step ?? 0 } }));
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
      case 'setColumn':
        return this.data.table.setColumn(a.field, a.column);
      case 'cancelMapping':
        return this.data.table.cancel();
      case 'importMapped':
        await this.data.table.importMapped();
        return this.training.findCheckpoint();
      case 'importSample':
        await this.data.importSample();
        return this.training.findCheckpoint();
      case 'useSplit':
      case 'useEvalFile':
      case 'importGood':
        await (a.type === 'useSplit'
          ? this.data.useSplit()
          : a.type === 'useEvalFile'
            ? this.data.useParked()
            : this.data.importGood());
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
        return void (await this.launcher.train(a.fresh));
      case 'pauseTraining':
        // Said at once; the worker finishes the optimizer step under way, then holds.
        this.patch((s) => ({
          training: { ...s.training, state: s.training.state === 'running' ? 'pausing' : s.training.state },
        }));
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
    if (a.type === 'continueTraining' && a.control) return continueWithControl(this.launcher.loopControl());
    if (a.type === 'continueTraining')
      return void (await this.launcher.train(false, this.state.runs.current ?? 'current adapter'));
    if (a.type === 'selectRun' || a.type === 'loadRun' || a.type === 'exportRun' || a.type === 'deleteRun')
      return this.runs.handle(a);
    return this.loop.handle(a);
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
      this.savedRun = saved.adapterRun;
      this.patch(restoredPatch(saved));
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
    const session = sessionOf(this.state, this.restoring ? this.savedRun : this.state.runs.current);
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

  // ---- model (model-load.ts) -------------------------------------------------------------

  recountTokens(): Promise<void> {
    return this.data.recountTokens();
  }

  findCheckpoint(): Promise<void> {
    return this.training.findCheckpoint();
  }

  forgetRun(): void {
    this.runs.forget();
  }

  loadSettings(): LoadSettings {
    return this.models.loadSettings();
  }

  loadModel(): Promise<boolean> {
    return this.models.load();
  }

  private refreshCachedModels(): Promise<void> {
    return this.models.refreshCached();
  }

  loadedMatches(): boolean {
    return this.models.loadedMatches();
  }

  ensureLora(l: LoraSettings): Promise<boolean> {
    return this.models.ensureLora(l);
  }

  importAdapter(files: File[], folder = ''): Promise<void> {
    return this.models.importAdapter(files, folder);
  }

  // ---- data (DataController), as the screen controllers see it ----------------------------

  splitRows(): { train: DatasetRow[]; eval: DatasetRow[] } {
    return this.data.splitRows();
  }

  trainSpread(n: number): { count: number; rows: DatasetRow[] } {
    return this.data.trainSpread(n);
  }

  exampleSet(rows: DatasetRow[]): Promise<ExampleSet> {
    return this.data.exampleSet(rows);
  }

  trainData(): { name?: string; rows?: number } {
    return this.data.trainData();
  }
}
