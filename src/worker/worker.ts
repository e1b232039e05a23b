// The dedicated module worker that owns the engine. The page talks to it only through
// WorkerApi (client.ts); no model math ever runs on the main thread.

import * as Comlink from 'comlink';
import { createEngine } from '../engine/create.ts';
import { MODEL_DB, MODEL_STORE } from '../io/cache.ts';
import { idbStore, memoryStore } from '../io/store.ts';
import { CHECKPOINT_DB, CHECKPOINT_STORE } from '../train/checkpoint.ts';
import { installErrorTransfer } from './error-transfer.ts';
import { TrainingSession } from './session.ts';
import { clampThreads } from './threads.ts';

installErrorTransfer();

// ?threads=N on the page (benchmarks compare one thread with all) arrives in the worker's name.
// Clamped again here: the name is the worker's only input and anyone may construct one.
const threads = clampThreads(/threads=(\d+)/.exec(self.name)?.[1], navigator.hardwareConcurrency);
// ?f16=0: the f32 matmul tiles even where the GPU has shader-f16 (to compare, or to rule them out)
const gpu = /\bf16=0\b/.test(self.name) ? { features: { f16: false } } : undefined;

// Without IndexedDB (some private windows) everything still works, only nothing survives a reload.
const hasIdb = typeof indexedDB !== 'undefined';
const session = new TrainingSession({
  modelStore: hasIdb ? idbStore(MODEL_DB, MODEL_STORE) : memoryStore(),
  checkpointStore: hasIdb ? idbStore(CHECKPOINT_DB, CHECKPOINT_STORE) : memoryStore(),
  createEngine: (kind) => createEngine(kind, { threads, gpu }),
});

Comlink.expose(session);
