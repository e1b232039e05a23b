// The Model step's work from the page's side: loading a model into the worker (refused early
// when the catalog's plan cannot fit the engine that will run), the cached-models list, whether
// the loaded engine can run the current settings, and importing a PEFT adapter folder. A failed
// load keeps the model that was in use (the worker still holds it) instead of unloading it.

import { describeFit } from '../../engine/fit.ts';
import type { LoraSettings } from '../../engine/engine.ts';
import { importPeftAdapter, pickAdapterFiles } from '../../export/peft-import.ts';
import { ChatTokenizer } from '../../tokenizer/tokenizer.ts';
import { loraOf } from '../../train/recipe.ts';
import type { LoadSettings } from '../../worker/api.ts';
import { unfitChoice } from './catalog-view.ts';
import { recheckPatch } from '../train/settings.ts';
import type { PageContext } from '../app/context.ts';
import { modelSourceOf, sourceIdOf } from './source-form.ts';
import { initialState, uiError, type UiError } from '../app/state.ts';

/** What loading needs of the page besides the worker and the state. */
export interface ModelContext extends PageContext {
  tokenizer?: ChatTokenizer;
  persist(): Promise<void>;
  recountTokens(): Promise<void>;
  findCheckpoint(): Promise<void>;
  /** The engine's adapter came from elsewhere: no kept run is in use now. */
  forgetRun(): void;
}

export class ModelLoader {
  constructor(private readonly c: ModelContext) {}

  loadSettings(): LoadSettings {
    const t = this.c.state.train;
    return {
      maxBatch: t.batchSize,
      maxSeq: t.maxLength,
      lora: loraOf(t),
      quant: this.c.state.quantChoice,
    };
  }

  async load(): Promise<boolean> {
    await this.c.quiet();
    const source = modelSourceOf(this.c.state.source, document.baseURI);
    if (!('kind' in source)) {
      this.c.patch((s) => ({ model: { ...s.model, error: source } }));
      return false;
    }
    // a catalog model whose plan cannot fit is refused here, before anything downloads
    const unfit = unfitChoice(this.c.state);
    if (unfit) {
      const detail = describeFit(
        unfit.plans[0].fit,
        `${unfit.model.repo} at batch ${this.c.state.train.batchSize} x max length ${this.c.state.train.maxLength}`,
      );
      this.c.patch((s) => ({ model: { ...s.model, error: { where: 'model', key: 'model.tooBig', detail } } }));
      return false;
    }
    const settings = this.loadSettings();
    const engine = this.c.state.engineChoice;
    const prev = this.c.state.model;
    this.c.patch(() => ({ model: { status: 'loading' } }));
    try {
      const summary = await this.c.worker.loadModel(source, engine, settings, (progress) =>
        this.c.patch((s) => ({ model: { ...s.model, progress } })),
      );
      this.c.tokenizer = ChatTokenizer.fromJson(summary.tokenizerJson, summary.tokenizerConfigJson ?? {});
      const t = this.c.state.train;
      this.c.patch(() => ({
        model: {
          status: 'ready',
          summary,
          loadedWith: {
            r: t.r,
            alpha: t.alpha,
            dropout: t.dropout,
            rslora: t.rslora,
            targets: [...t.targets],
            batch: t.batchSize,
            seq: t.maxLength,
            engine,
            quant: settings.quant ?? 'none',
            source: sourceIdOf(this.c.state.source, document.baseURI),
          },
        },
        training: { state: 'idle', losses: [], evalLosses: [], trained: false },
        // A new engine starts from a fresh LoRA init: any applied adapter is gone, and results of
        // the previous model would mislead.
        adapter: { busy: this.c.state.adapter.busy },
        evaluation: { busy: false, done: 0, total: 0, inputs: [], added: [] },
        runs: { ...this.c.state.runs, current: undefined },
        chat: {
          ...this.c.state.chat,
          base: { text: '', tokens: 0, busy: false },
          tuned: { text: '', tokens: 0, busy: false },
        },
        exports: initialState(this.c.state.lang).exports,
      }));
    } catch (e) {
      const error: UiError = { ...uiError('model', 'model.failed', e), via: source.kind };
      // A load that failed before the engine was replaced (no network, a refused file) leaves
      // the previous model in the worker: it stays in use, with its adapter (issue 22, point 3).
      const held = prev.status === 'ready' ? await this.c.worker.loadedModel().catch(() => undefined) : undefined;
      if (held && prev.summary && held.sourceKey === prev.summary.sourceKey && held.name === prev.summary.name) {
        this.c.patch(() => ({ model: { ...prev, error } }));
        return false;
      }
      this.c.tokenizer = undefined;
      this.c.patch(() => ({ model: { status: 'error', error } }));
      return false;
    }
    this.c.patch(recheckPatch);
    await this.c.persist();
    await Promise.all([this.refreshCached(), this.c.recountTokens(), this.c.findCheckpoint()]);
    return true;
  }

  async refreshCached(): Promise<void> {
    try {
      const [cachedModels, storage] = await Promise.all([this.c.worker.listCachedModels(), this.c.worker.storage()]);
      this.c.patch((s) => ({ cachedModels, probe: s.probe && storage ? { ...s.probe, storage } : s.probe }));
    } catch {
      // A browser without IndexedDB has no cache to list; loading still works.
    }
  }

  /** Does the loaded engine hold what the current settings need? */
  loadedMatches(): boolean {
    const m = this.c.state.model;
    const t = this.c.state.train;
    const w = m.loadedWith;
    if (m.status !== 'ready' || !w) return false;
    return (
      // alpha and dropout are per run (given with each step): changing them reloads nothing
      w.r === t.r &&
      w.rslora === t.rslora &&
      w.targets.join() === t.targets.join() &&
      // Exactly: an engine sized for a bigger shape runs every step at that size's cost.
      w.batch === t.batchSize &&
      w.seq === t.maxLength &&
      w.engine === this.c.state.engineChoice &&
      w.quant === this.c.state.quantChoice
    );
  }

  /** The settings take an adapter's shape, and the model reloads when the engine was built otherwise. */
  async ensureLora(l: LoraSettings): Promise<boolean> {
    this.c.patch((s) => ({
      train: { ...s.train, r: l.r, alpha: l.alpha, dropout: l.dropout, rslora: l.rslora, targets: [...l.targets] },
    }));
    await this.c.persist();
    return this.loadedMatches() || this.load();
  }

  /**
   * A PEFT adapter folder replaces the engine's LoRA weights. Its shape (r, targets, scaling)
   * becomes the page's settings, and the engine is reloaded for it when it was built otherwise.
   */
  async importAdapter(files: File[], folder = ''): Promise<void> {
    const summary = this.c.state.model.summary;
    if (!summary || this.c.state.model.status !== 'ready') return;
    await this.c.quiet();
    this.c.patch(() => ({ adapter: { busy: true } }));
    try {
      const path = (f: File) => f.webkitRelativePath || f.name;
      const picked = pickAdapterFiles(files.map(path));
      const file = (name: string) => files.find((f) => path(f) === name)!;
      const imported = await importPeftAdapter(await file(picked.config).text(), file(picked.weights), summary.config);
      const l = imported.settings;
      if (!(await this.ensureLora(l))) throw new Error(this.c.state.model.error?.detail ?? 'the model did not reload');
      await this.c.worker.setAdapter(imported.tensors, l.alpha);
      this.c.forgetRun();
      this.c.patch((s) => ({
        adapter: {
          busy: false,
          name: folder || picked.config.split('/')[0],
          r: l.r,
          alpha: l.alpha,
          targets: l.targets.length,
        },
        training: { ...s.training, trained: true },
      }));
    } catch (e) {
      this.c.patch(() => ({ adapter: { busy: false, error: uiError('model', 'adapter.failed', e) } }));
    }
  }
}
