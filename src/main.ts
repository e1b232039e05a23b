// Page entry: starts the training worker, builds the store and controller, mounts the app and
// registers the offline service worker in production builds.

import { createTrainingWorker } from './worker/client.ts';
import { builtinFromQuery, useBuiltinModel } from './io/sources.ts';
import { clampThreads } from './worker/threads.ts';
import { registerWithUpdates } from './ui/app/update-offer.ts';
import { Controller, type PageOptions } from './ui/app/controller.ts';
import { loadLang } from './ui/shared/i18n.ts';
import { initialState } from './ui/app/state.ts';
import { Store } from './ui/app/page-store.ts';
import type { WebtuneApp } from './ui/app/app.ts';
import './ui/app/app.ts';

function pageOptions(): PageOptions {
  const q = new URLSearchParams(location.search);
  const engine = q.get('engine'),
    quant = q.get('quant');
  return {
    engine: engine === 'cpu' || engine === 'webgpu' ? engine : undefined,
    quant: quant === 'auto' || quant === 'none' || quant === 'nf4' ? quant : undefined,
    preset: q.get('preset') === 'e2e' ? 'e2e' : undefined,
  };
}

// ?builtin=tiny or demo: which built-in model the page serves (the browser tests name tiny).
useBuiltinModel(builtinFromQuery(new URLSearchParams(location.search).get('builtin')));
const lang = loadLang();
document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
const store = new Store(initialState(lang));
const threads = clampThreads(new URLSearchParams(location.search).get('threads'), navigator.hardwareConcurrency);
const f16 = new URLSearchParams(location.search).get('f16') !== '0';
const controller = new Controller(store, createTrainingWorker({ threads, f16 }), pageOptions());
const app = document.createElement('webtune-app') as WebtuneApp;
app.controller = controller;
document.body.append(app);
void controller.init();

if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  // The worker also makes the page cross-origin isolated (public/sw.js); Chromium's
  // `credentialless` embedder policy is chosen where the browser shows it knows it.
  const coep = 'credentialless' in window ? 'credentialless' : 'require-corp';
  // A new build's worker installs on the next visit and waits; the page offers a reload (update-offer.ts).
  registerWithUpdates(`./sw.js?coep=${coep}`).catch(() => {
    // Without a service worker the app still works online; offline use is what is lost.
  });
}
