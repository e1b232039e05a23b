// The one writer of the store: turns component actions into worker calls and state updates.
// Model math stays in the worker; here live only tokenization (fast, needed for the
// histogram) and bookkeeping. Every failure lands as a UiError on the screen where it happened.

import { describeFit } from '../engine/fit.ts';
import { unfitChoice } from './catalog-view.ts';
import { ChatTokenizer } from '../tokenizer/tokenizer.ts';
import { DatasetError } from '../core/errors.ts';
import type { TrainExample } from '../engine/engine.ts';
import type { LoadSettings, ModelSource } from '../worker/api.ts';
import type { TrainingWorker } from '../worker/client.ts';
import type { Action } from './actions.ts';
import { importDatasetBlob, splitDataset, type DatasetRow, type ImportResult as Dataset } from '../data/dataset.ts';
import { encodePrompt, keepLabelled, labelCount, toTrainExample, type ExampleSet } from '../data/examples.ts';
import { importPeftAdapter, pickAdapterFiles } from '../export/peft-import.ts';
import { saveLang } from './i18n.ts';
import { loadDataset, loadSession, saveDataset, saveSession, type SavedSession } from './persist.ts';
import { ResultsController } from './results.ts';
import { TrainingController } from './training.ts';
import { defaultRecipe, loraOf, type Recipe } from '../train/recipe.ts';
import { PREVIEW_ROWS, initialState, uiError, type AppState, type LoadedDataset, type Screen, type UiError } from './state.ts';
import type { TrainingContext } from './context.ts';
import type { Store } from './store.ts';

export interface PageOptions {
  /** ?engine=cpu|webgpu forces an engine (tests without WebGPU use it). */
  engine?: 'cpu' | 'webgpu';
  /** ?preset=e2e: a few fast steps for the browser tests. */
  preset?: 'e2e';
}

/** Short training that still shows a falling loss on the tiny model in a software-GPU browser. */
// Max length stays above the sample rows' longest (~220 tokens with the tiny vocabulary) so no
// answer is cut away; the tests import a few rows, so the run is a handful of steps.
export const E2E_TRAIN: Partial<Recipe> = { epochs: 2, batchSize: 2, gradAccum: 1, lr: 3e-3, maxLength: 256, evalEvery: 2, checkpointEvery: 2 };

/** Array.map that yields to the event loop every `slice` items (about 15 ms of tokenizing). */
export async function mapInSlices<T, R>(items: readonly T[], fn: (item: T) => R, slice = 64): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += slice) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 0));
    for (const item of items.slice(i, i + slice)) out.push(fn(item));
  }
  return out;
}

export class Controller implements TrainingContext {
  tokenizer?: ChatTokenizer;
  /** Parsed datasets; the state holds only their views. */
  trainSet?: Dataset;
  evalSet?: Dataset;
  private names: { train?: string; eval?: string } = {};
  private readonly importSeq = { train: 0, eval: 0 };
  readonly results: ResultsController;
  readonly training: TrainingController;

  constructor(
    readonly store: Store,
    readonly worker: TrainingWorker,
    readonly options: PageOptions = {},
  ) {
    this.results = new ResultsController(this);
    this.training = new TrainingController(this);
  }

  get state(): AppState {
    return this.store.state;
  }

  patch(fn: (s: AppState) => Partial<AppState>): void {
    this.store.update((s) => ({ ...s, ...fn(s) }));
  }

  async init(): Promise<void> {
    await this.restoreSession();
    if (this.options.engine) this.patch(() => ({ engineChoice: this.options.engine! }));
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
    if (!this.trainSet) await this.importSample();
    if (this.state.source.kind === 'builtin') await this.loadModel();
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
      case 'setSource':
        this.patch((s) => ({ source: { ...s.source, ...a.patch } }));
        return this.persist();
      case 'loadModel':
        await this.loadModel();
        return;
      case 'cancelLoad':
        // The pending loadModel rejects with an 'aborted' DownloadError, shown like any failure.
        return this.worker.cancelLoad();
      case 'deleteCachedModel':
        await this.worker.deleteCachedModel(a.sourceKey);
        return this.refreshCachedModels();
      case 'importData':
        return this.importData(a.name, a.file ?? a.text ?? '', a.role);
      case 'importSample':
        return this.importSample();
      case 'useSplit':
        this.evalSet = undefined;
        this.names.eval = undefined;
        await saveDataset('eval', undefined);
        this.patch(() => ({ evalDataset: undefined }));
        return this.recountTokens();
      case 'setSplit':
        this.patch(() => ({ evalFraction: a.evalFraction }));
        await this.persist();
        return this.recountTokens();
      case 'setSystemPrompt':
        this.patch(() => ({ systemPrompt: a.text }));
        await this.persist();
        return this.recountTokens();
      case 'setTrain':
        this.patch((s) => ({ train: { ...s.train, ...a.patch } }));
        await this.persist();
        if (a.patch.maxLength !== undefined) await this.recountTokens();
        return;
      case 'resetTrain':
        this.patch(() => ({ train: defaultRecipe() }));
        return this.persist();
      case 'startTraining':
        return this.training.start(a.fresh);
      case 'pauseTraining':
        return this.worker.pause();
      case 'resumeTraining':
        this.patch((s) => ({ training: { ...s.training, state: 'running' } }));
        return this.worker.resume();
      case 'stopTraining':
        return this.worker.stop();
      case 'importAdapter':
        return this.importAdapter(a.files, a.folder);
      case 'evaluate':
        return this.results.evaluate();
      case 'setChat':
        this.patch((s) => ({ chat: { ...s.chat, ...a.patch } }));
        return this.persist();
      case 'sendChat':
        return this.results.chat();
      case 'export':
        return this.results.export(a.kind);
      case 'dismissError':
        return this.dismissError(a.where);
    }
  }

  // ---- session ---------------------------------------------------------------------------

  private async restoreSession(): Promise<void> {
    const saved = await loadSession();
    if (saved) {
      this.patch((s) => ({
        engineChoice: saved.engineChoice,
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
      if (d && content !== undefined) await this.importData(d.name, content, role);
    }
    // A restored local folder cannot be reloaded (its File handles are gone): fall back.
    if (this.state.source.kind === 'local') this.patch((s) => ({ source: { ...s.source, kind: 'builtin' } }));
  }

  async persist(): Promise<void> {
    const s = this.state;
    const session: SavedSession = {
      engineChoice: s.engineChoice,
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

  modelSource(): ModelSource | UiError {
    const f = this.state.source;
    switch (f.kind) {
      case 'builtin':
        return { kind: 'builtin', baseUrl: new URL('models/tiny/', document.baseURI).href };
      case 'hf':
      case 'modelscope':
        if (!f.repo.trim()) return { where: 'model', key: 'model.needRepo', detail: '' };
        return { kind: f.kind, repo: f.repo.trim(), revision: f.revision.trim() || (f.kind === 'hf' ? 'main' : 'master') };
      case 'url':
        if (!f.baseUrl.trim()) return { where: 'model', key: 'model.needUrl', detail: '' };
        return { kind: 'url', baseUrl: f.baseUrl.trim() };
      case 'local':
        if (f.files.length === 0) return { where: 'model', key: 'model.needFolder', detail: '' };
        return { kind: 'local', files: f.files };
    }
  }

  loadSettings(): LoadSettings {
    const t = this.state.train;
    return {
      maxBatch: t.batchSize,
      maxSeq: t.maxLength,
      lora: loraOf(t),
    };
  }

  async loadModel(): Promise<boolean> {
    const source = this.modelSource();
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
          loadedWith: { r: t.r, alpha: t.alpha, dropout: t.dropout, rslora: t.rslora, targets: [...t.targets], batch: t.batchSize, seq: t.maxLength, engine },
        },
        training: { state: 'idle', losses: [], evalLosses: [], trained: false },
        // A new engine starts from a fresh LoRA init: any applied adapter is gone, and results of
        // the previous model would mislead.
        adapter: { busy: this.state.adapter.busy },
        evaluation: { busy: false, done: 0, total: 0, inputs: [] },
        chat: { ...this.state.chat, base: { text: '', tokens: 0, busy: false }, tuned: { text: '', tokens: 0, busy: false } },
        exports: initialState(this.state.lang).exports,
      }));
    } catch (e) {
      this.tokenizer = undefined;
      this.patch(() => ({ model: { status: 'error', error: uiError('model', 'model.failed', e) } }));
      return false;
    }
    await this.persist();
    await Promise.all([this.refreshCachedModels(), this.recountTokens(), this.training.findCheckpoint()]);
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
      w.batch >= t.batchSize &&
      w.seq >= t.maxLength &&
      w.engine === this.state.engineChoice
    );
  }

  /**
   * A PEFT adapter folder replaces the engine's LoRA weights. Its shape (r, targets, scaling)
   * becomes the page's settings, and the engine is reloaded for it when it was built otherwise.
   */
  async importAdapter(files: File[], folder = ''): Promise<void> {
    const summary = this.state.model.summary;
    if (!summary || this.state.model.status !== 'ready') return;
    this.patch(() => ({ adapter: { busy: true } }));
    try {
      const path = (f: File) => f.webkitRelativePath || f.name;
      const picked = pickAdapterFiles(files.map(path));
      const file = (name: string) => files.find((f) => path(f) === name)!;
      const imported = await importPeftAdapter(await file(picked.config).text(), file(picked.weights), summary.config);
      const l = imported.settings;
      this.patch((s) => ({ train: { ...s.train, r: l.r, alpha: l.alpha, dropout: l.dropout, rslora: l.rslora, targets: [...l.targets] } }));
      await this.persist();
      if (!this.loadedMatches() && !(await this.loadModel())) throw new Error(this.state.model.error?.detail ?? 'the model did not reload');
      await this.worker.setAdapter(imported.tensors);
      this.patch((s) => ({
        adapter: { busy: false, name: folder || picked.config.split('/')[0], r: l.r, alpha: l.alpha, targets: l.targets.length },
        training: { ...s.training, trained: true },
      }));
    } catch (e) {
      this.patch(() => ({ adapter: { busy: false, error: uiError('model', 'adapter.failed', e) } }));
    }
  }

  // ---- data ------------------------------------------------------------------------------

  async importSample(): Promise<void> {
    for (const [role, file] of [
      ['train', 'meeting-train.json'],
      ['eval', 'meeting-eval.json'],
    ] as const) {
      try {
        const res = await fetch(new URL(`samples/${file}`, document.baseURI));
        if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
        await this.importData(file, await res.blob(), role);
      } catch (e) {
        this.patch(() => ({ lastImport: { name: file, issues: [], failed: true, message: e instanceof Error ? e.message : String(e) } }));
        return;
      }
    }
  }

  /**
   * A failed import changes nothing but the report of the attempt: the old dataset stays. The
   * file streams in with progress (a million rows keep the page responsive); text (pasted, the
   * samples) takes the same path as UTF-8 bytes.
   */
  async importData(name: string, content: Blob | string, role: 'train' | 'eval'): Promise<void> {
    const seq = ++this.importSeq[role];
    const blob = typeof content === 'string' ? new Blob([content], { type: 'text/plain' }) : content;
    const current = () => seq === this.importSeq[role];
    this.patch(() => ({ importing: { name, bytes: 0, totalBytes: blob.size, rows: 0 } }));
    let parsed: Dataset;
    try {
      parsed = await importDatasetBlob(blob, { file: name, onProgress: (p) => current() && this.patch(() => ({ importing: { name, ...p } })) });
    } catch (e) {
      if (!current()) return;
      const issues = e instanceof DatasetError ? e.issues : [];
      this.patch(() => ({ importing: undefined, lastImport: { name, issues, failed: true, message: e instanceof DatasetError ? undefined : String((e as Error).message ?? e) } }));
      return;
    }
    // A newer import of the same role finished or is under way: its result wins.
    if (!current()) return;
    const view: LoadedDataset = {
      name, format: parsed.format, encoding: parsed.encoding, duplicates: parsed.duplicates.count,
      rows: parsed.rows.map((r) => ({ user: r.user, answer: r.answer, system: r.system })), issues: parsed.issues,
    };
    if (role === 'train') this.trainSet = parsed;
    else this.evalSet = parsed;
    this.names[role] = name;
    await saveDataset(role, { name, blob });
    this.patch(() => ({
      ...(role === 'train' ? { dataset: view } : { evalDataset: view }),
      importing: undefined,
      lastImport: { name, issues: parsed.issues, failed: false, encoding: parsed.encoding, duplicates: parsed.duplicates },
    }));
    await this.recountTokens();
  }

  trainData(): { name?: string; rows?: number } {
    return { name: this.names.train, rows: this.trainSet?.rows.length };
  }

  /** Rows used for training and evaluation: a separate eval file wins over the split. */
  splitRows(): { train: DatasetRow[]; eval: DatasetRow[] } {
    if (!this.trainSet) return { train: [], eval: [] };
    if (this.evalSet) return { train: this.trainSet.rows, eval: this.evalSet.rows };
    return splitDataset(this.trainSet.rows, { evalFraction: this.state.evalFraction, seed: this.state.splitSeed });
  }

  /** Tokenized in slices so a large dataset never freezes the page. */
  async examples(rows: DatasetRow[], maxLength = this.state.train.maxLength): Promise<TrainExample[]> {
    const tok = this.tokenizer;
    if (!tok) return [];
    const system = this.state.systemPrompt;
    return mapInSlices(rows, (r) => toTrainExample(tok, r, { system, maxLength }));
  }

  /** Examples to train or score loss on: rows that keep no answer token at the max length are left out and counted. */
  async exampleSet(rows: DatasetRow[]): Promise<ExampleSet> {
    const tok = this.tokenizer;
    const examples = await this.examples(rows);
    return keepLabelled(rows, examples, (r) => (tok ? encodePrompt(tok, r, { system: this.state.systemPrompt }).length : 0));
  }

  private async recountTokens(): Promise<void> {
    const split = this.splitRows();
    this.patch(() => ({ splitCounts: { train: split.train.length, eval: split.eval.length } }));
    if (!this.tokenizer || !this.trainSet) {
      this.patch(() => ({ tokenLengths: [], promptLengths: [], tokenSampleOf: undefined }));
      return;
    }
    // Untruncated lengths in dataset order: the histogram shows what the max length cuts off,
    // and the preview table each row's count. A big dataset is measured on an even sample (the
    // preview rows first): counting a million rows would take minutes for the same picture.
    const rows = this.trainSet.rows;
    const picked = rows.length <= TOKEN_SAMPLE * 2 ? rows : sampleRows(rows, TOKEN_SAMPLE);
    const examples = await this.examples(picked, Number.MAX_SAFE_INTEGER);
    // A newer import or setting may have finished first; its counts win.
    if (this.trainSet?.rows !== rows) return;
    this.patch(() => ({
      tokenLengths: examples.map((ex) => ex.ids.length),
      promptLengths: examples.map((ex) => ex.ids.length - labelCount(ex)),
      tokenSampleOf: picked === rows ? undefined : rows.length,
    }));
  }
}

/** Rows whose token lengths stand for a large dataset. */
const TOKEN_SAMPLE = 2000;

/** The first preview rows, then every k-th row, about `n` in all. */
function sampleRows<T>(rows: readonly T[], n: number): T[] {
  const head = Math.min(PREVIEW_ROWS, rows.length);
  const out = rows.slice(0, head);
  const k = Math.max(1, Math.floor((rows.length - head) / n));
  for (let i = head; i < rows.length && out.length < n + head; i += k) out.push(rows[i]);
  return out;
}
