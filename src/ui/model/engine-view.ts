// What the header and the Model step say about the engine: which one runs (or would run, before
// a model is loaded) and why Automatic picked it, from the worker's EngineDecision.

import type { EngineKind } from '../../engine/engine.ts';
import type { EngineDecision } from '../../worker/api.ts';
import { engineFor } from '../../worker/engine-choice.ts';
import { formatNumber, type Lang, type Translate } from '../shared/i18n.ts';
import type { AppState } from '../app/state.ts';

/**
 * "WebGPU · SwiftShader", or the CPU engine's own description when it already names itself. The
 * engine writes its thread count in English ("…, 2 threads)"): with `t` it is said in the page's
 * language.
 */
export function engineLabel(e: { kind: EngineKind; device: string }, t?: Translate): string {
  const kind = e.kind === 'webgpu' ? 'WebGPU' : 'CPU';
  const device = t
    ? e.device.replace(/\b(\d+) threads?\b/, (_, n: string) => t('engine.threads', { count: Number(n) }))
    : e.device;
  return device.startsWith(kind) ? device : `${kind} · ${device}`;
}

/** The header badge's short form: the engine, its threads, why; the long description is its tooltip. */
function badgeText(t: Translate, e: { kind: EngineKind; threads: number; device: string }, short: string): string {
  const parts = [kindName(e.kind)];
  if (e.kind === 'cpu' && e.threads > 0) parts.push(t('engine.threads', { count: e.threads }));
  if (e.kind === 'webgpu') parts.push(e.device);
  if (short) parts.push(short);
  return parts.join(' · ');
}

const kindName = (k: EngineKind) => (k === 'webgpu' ? 'WebGPU' : 'CPU');
const ms = (lang: Lang, x: number) => `${formatNumber(lang, x, x < 10 ? 1 : 0)} ms`;

/** The sentence that says why this engine runs. */
export function engineWhy(t: Translate, lang: Lang, d: EngineDecision): string {
  // the worker names an unnamed fallback adapter in English: said in the page's language
  const software = d.software === 'a fallback adapter' ? t('engine.fallbackAdapter') : d.software;
  const p = {
    engine: kindName(d.kind),
    adapter: d.adapter ?? '?',
    software: software ?? d.adapter ?? '?',
    detail: d.detail ?? '',
  };
  if (d.reason === 'measured')
    return t('engine.why.measured', { ...p, cpu: ms(lang, d.cpuMs ?? NaN), gpu: ms(lang, d.gpuMs ?? NaN) });
  return t(`engine.why.${d.reason}`, p);
}

/** The engine a load would get with the current choice, before one is loaded (the worker decides for real). */
export function expectedEngine(s: Pick<AppState, 'engineChoice' | 'probe'>): EngineKind | undefined {
  return engineFor(s.engineChoice, s.probe);
}

/** The header's engine: the one that runs, with a short why; before a load, the one that would. */
export function headerEngine(t: Translate, s: AppState): { text: string; title: string } | undefined {
  const sm = s.model.status === 'ready' ? s.model.summary : undefined;
  if (sm) {
    const d = sm.engineDecision;
    const short = d ? t(`engine.short.${d.reason}`) : '';
    const label = engineLabel(sm.engine, t);
    return { text: badgeText(t, sm.engine, short), title: d ? `${label}. ${engineWhy(t, s.lang, d)}` : label };
  }
  const k = expectedEngine(s);
  if (!k) return undefined;
  const name = k === 'webgpu' ? `WebGPU · ${s.probe?.adapter ?? ''}` : 'CPU';
  return { text: t('engine.expected', { engine: name }), title: name };
}
