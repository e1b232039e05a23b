// The page's handle on the training worker. It implements WorkerApi itself and wraps each
// callback in Comlink.proxy, so UI code calls plain async methods with plain functions and
// cannot forget the proxy (a forgotten one fails structured clone with a confusing error).

import * as Comlink from 'comlink';
import type { ModelSource, WorkerApi } from './api.ts';
import { installErrorTransfer } from './error-transfer.ts';
import { builtinModelPath } from '../io/sources.ts';

export interface TrainingWorker extends WorkerApi {
  /** Kills the worker at once (the engine's GPU memory goes with it). */
  terminate(): void;
}

/**
 * threads: CPU engine threads (default all cores); f16: false keeps WebGPU on f32 matmul tiles
 * (the page's ?f16=0). Both pass in the worker's name, which it reads before anything loads.
 */
export function createTrainingWorker(opts: { threads?: number; f16?: boolean } = {}): TrainingWorker {
  const name = ['webtune-trainer', opts.threads ? `threads=${opts.threads}` : '', opts.f16 === false ? 'f16=0' : '']
    .filter(Boolean)
    .join(' ');
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name });
  return wrapWorker(worker);
}

/** Wraps any endpoint running exposeWorkerApi (tests pass their own Worker). */
export function wrapWorker(worker: Worker): TrainingWorker {
  installErrorTransfer();
  const remote = Comlink.wrap<WorkerApi>(worker);
  const cb = <F extends (...a: never[]) => unknown>(f?: F) => (f ? Comlink.proxy(f) : undefined);
  return {
    probe: () => remote.probe(),
    loadModel: async (source, engine, settings, onProgress) => {
      // persist() exists only on the page (not in workers): ask before files land in IndexedDB,
      // so the browser does not evict a 1 GB model under storage pressure.
      if (settings.useCache !== false) await navigator.storage?.persist?.().catch(() => false);
      return remote.loadModel(resolveBuiltin(source), engine, settings, cb(onProgress));
    },
    cancelLoad: () => remote.cancelLoad(),
    setDataset: (train, evalSet) => remote.setDataset(train, evalSet),
    startTraining: (settings, onProgress) => remote.startTraining(settings, cb(onProgress)),
    pause: () => remote.pause(),
    resume: () => remote.resume(),
    stop: () => remote.stop(),
    generate: (ids, options, onToken) => remote.generate(ids, options, cb(onToken)),
    generateBatch: (prompts, options, onToken) => remote.generateBatch(prompts, options, cb(onToken)),
    measureStep: (examples, padId) => remote.measureStep(examples, padId),
    evaluate: (examples) => remote.evaluate(examples),
    getAdapter: () => remote.getAdapter(),
    setAdapter: (tensors, alpha) => remote.setAdapter(tensors, alpha),
    loadedModel: () => remote.loadedModel(),
    listCheckpoints: () => remote.listCheckpoints(),
    matchCheckpoint: (settings) => remote.matchCheckpoint(settings),
    deleteCheckpoint: (runId) => remote.deleteCheckpoint(runId),
    exportFiles: (kind) => remote.exportFiles(kind),
    listCachedModels: () => remote.listCachedModels(),
    deleteCachedModel: (key) => remote.deleteCachedModel(key),
    storage: () => remote.storage(),
    dispose: () => remote.dispose(),
    terminate: () => {
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** The builtin model lives next to the page; only the page knows its base URL. */
export function resolveBuiltin(source: ModelSource): ModelSource {
  if (source.kind !== 'builtin' || source.baseUrl) return source;
  return {
    kind: 'builtin',
    baseUrl: new URL(`${import.meta.env.BASE_URL}${builtinModelPath()}`, document.baseURI).href,
  };
}
