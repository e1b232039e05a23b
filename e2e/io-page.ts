// Test page for e2e/io-browser.ts: a real training worker (client.ts) and the real IndexedDB,
// driven from playwright through window.ioTest. Everything returned is plain data.

import { createTrainingWorker } from '../src/worker/client.ts';
import { useBuiltinModel } from '../src/io/sources.ts';
import { getRecord, MODEL_DB, MODEL_STORE } from '../src/io/cache.ts';
import { idbStore } from '../src/io/store.ts';
import { DownloadError, WebtuneError } from '../src/core/errors.ts';
import type {
  EngineChoice,
  LoadProgress,
  LoadSettings,
  ModelSource,
  RunOptions,
  TrainProgress,
  TrainSettings,
} from '../src/worker/api.ts';
import { randomExamples } from '../test/helpers/examples.ts';

// The tiny built-in model: the checks below name its vocabulary and folder.
useBuiltinModel('tiny');
const worker = createTrainingWorker();
const store = idbStore(MODEL_DB, MODEL_STORE);
const loadEvents: LoadProgress[] = [];
const trainEvents: TrainProgress[] = [];
// Main-thread heartbeat: a gap between 10 ms ticks is time the thread was blocked. (Headless
// Chromium reports no 'longtask' entries, so the gap is the measure.)
let lastTick = performance.now();
let maxGap = 0;
setInterval(() => {
  const now = performance.now();
  maxGap = Math.max(maxGap, now - lastTick);
  lastTick = now;
}, 10);

function plainError(e: unknown) {
  const err = e as Error & { kind?: string };
  return {
    name: err.name,
    message: err.message,
    kind: err.kind,
    isDownloadError: e instanceof DownloadError,
    isWebtuneError: e instanceof WebtuneError,
  };
}

const api = {
  async load(source: ModelSource, settings: LoadSettings, engine: EngineChoice = 'cpu') {
    try {
      const s = await worker.loadModel(source, engine, settings, (p) => void loadEvents.push(p));
      return {
        ok: true,
        name: s.name,
        sourceKey: s.sourceKey,
        files: s.files,
        vocab: s.config.vocabSize,
        engine: s.engine.kind,
      };
    } catch (e) {
      return { ok: false, error: plainError(e) };
    }
  },
  /** Starts a load and returns at once (the test reloads the page mid-download). */
  startLoad(source: ModelSource, settings: LoadSettings) {
    void api.load(source, settings);
  },
  loadEvents: () => loadEvents,
  record: (sourceKey: string, file: string) => getRecord(store, sourceKey, file),
  cached: () => worker.listCachedModels(),
  async setData(n: number, seed: number, vocab: number) {
    return worker.setDataset(randomExamples(n, seed, vocab), randomExamples(2, seed + 1, vocab));
  },
  async train(settings: TrainSettings & RunOptions) {
    try {
      return { ok: true, outcome: await worker.startTraining(settings, (p) => void trainEvents.push(p)) };
    } catch (e) {
      return { ok: false, error: plainError(e) };
    }
  },
  startTrain(settings: TrainSettings & RunOptions) {
    void api.train(settings);
  },
  trainEvents: () => trainEvents,
  clearTrainEvents: () => void trainEvents.splice(0),
  resetGap: () => {
    maxGap = 0;
    lastTick = performance.now();
  },
  maxGap: () => maxGap,
  checkpoints: () => worker.listCheckpoints(),
  probe: () => worker.probe(),
};

(window as unknown as { ioTest: typeof api }).ioTest = api;
document.getElementById('status')!.textContent = 'ready';
