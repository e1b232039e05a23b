// What the model catalog shows for the current settings: each model's download, its memory plan
// and whether that plan fits the engine this page would use. Pure, so the component only renders
// it and the controller refuses an unfit choice with the same verdict.

import { CATALOG, catalogConfig, catalogModel, downloadBytes, type CatalogModel } from '../../core/catalog.ts';
import type { LoadOptions } from '../../engine/engine.ts';
import { checkFit, cpuLimits, type DeviceLimits, type FitReport } from '../../engine/fit.ts';
import { nf4Applies, planMemory } from '../../engine/plan.ts';
import type { QuantChoice } from '../../worker/api.ts';
import { engineFor } from '../../worker/engine-choice.ts';
import { paramCount } from '../../core/config.ts';
import type { AppState } from '../app/state.ts';

export interface CatalogPlan {
  /** 16-bit base, or the 4-bit NF4 base (QLoRA; absent when the shapes cannot take it). */
  weights: '16-bit' | '4-bit';
  total: number;
  fit: FitReport;
}

export interface CatalogRow {
  model: CatalogModel;
  download: number;
  plans: CatalogPlan[];
}

/**
 * The limits of the engine a load of a model of `params` parameters would get, Automatic resolved
 * first (engineFor: a software adapter runs the CPU engine): WebGPU with the adapter's limits, or
 * the CPU's. Before the probe answers, the CPU's (the engine every browser has).
 */
export function fitLimits(s: Pick<AppState, 'engineChoice' | 'probe'>, params = Infinity): DeviceLimits {
  const p = s.probe;
  if (p && engineFor(s.engineChoice, p, params) === 'webgpu')
    return { kind: 'webgpu', maxBufferSize: p.maxBufferSize, maxBindingSize: p.maxStorageBufferBindingSize };
  return cpuLimits();
}

export function loadOptionsOf(t: AppState['train']): LoadOptions {
  return {
    maxBatch: t.batchSize,
    maxSeq: t.maxLength,
    lora: { r: t.r, alpha: t.alpha, dropout: t.dropout, targets: t.targets, rslora: t.rslora },
  };
}

export function catalogRow(m: CatalogModel, s: Pick<AppState, 'engineChoice' | 'probe' | 'train'>): CatalogRow {
  const cfg = catalogConfig(m);
  const limits = fitLimits(s, paramCount(cfg));
  const plans: CatalogPlan[] = [];
  for (const quant of nf4Applies(cfg) ? (['none', 'nf4'] as const) : (['none'] as const)) {
    const opts = { ...loadOptionsOf(s.train), quant };
    const plan = planMemory(limits.kind, cfg, opts, 'bf16');
    plans.push({
      weights: quant === 'nf4' ? '4-bit' : '16-bit',
      total: plan.total,
      fit: checkFit(cfg, opts, plan, limits),
    });
  }
  return { model: m, download: downloadBytes(m), plans };
}

/** The plans a base-weights choice may load: Automatic takes 4-bit when 16-bit does not fit. */
export function allowedPlans(row: CatalogRow, quant: QuantChoice): CatalogPlan[] {
  return row.plans.filter((p) => quant === 'auto' || (p.weights === '4-bit') === (quant === 'nf4'));
}

export function catalogRows(s: Pick<AppState, 'engineChoice' | 'probe' | 'train'>): CatalogRow[] {
  return CATALOG.map((m) => catalogRow(m, s));
}

/** The catalog row of the chosen hub repo when no plan of it fits: loading is refused with its reason. */
export function unfitChoice(
  s: Pick<AppState, 'engineChoice' | 'probe' | 'train' | 'source' | 'quantChoice'>,
): CatalogRow | undefined {
  if (s.source.kind !== 'hf' && s.source.kind !== 'modelscope') return undefined;
  const m = catalogModel(s.source.repo);
  if (!m) return undefined;
  const row = catalogRow(m, s);
  const allowed = allowedPlans(row, s.quantChoice);
  return allowed.some((p) => p.fit.fits) ? undefined : { ...row, plans: allowed.length ? allowed : row.plans };
}
