// The memory the current settings need, part by part, from the engine's own plan (the numbers
// the engine checks before it allocates), for the 16-bit and the 4-bit (QLoRA) base side by
// side, and what the loaded model actually allocated.

import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { formatBytes, translator } from '../shared/i18n.ts';
import { GPU_KEEP_BUDGET, nf4Applies, planMemory } from '../../engine/plan.ts';
import { loraOf } from '../../train/recipe.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

@customElement('wt-memory-card')
export class MemoryCard extends LitElement {
  static override styles = panelStyles;
  @property({ attribute: false }) state!: AppState;

  override render() {
    const s = this.state;
    const t = translator(s.lang);
    const bytes = (n: number) => formatBytes(s.lang, n);
    const summary = s.model.summary;
    const storage = s.probe?.storage;
    const storageLine = storage
      ? html`<p class="muted small">${t('memory.storage', { used: bytes(storage.usage), quota: bytes(storage.quota) })}</p>`
      : '';
    if (!summary)
      return html`<section class="card" aria-labelledby="mem-h"><h3 id="mem-h">${t('memory.title')}</h3><p class="muted">${t('memory.noModel')}</p>${storageLine}</section>`;
    const tr = s.train;
    const kind = summary.engine.kind;
    // The table is the plan the engine runs now; settings changed since the load get a line of their own.
    const loaded = s.model.loadedWith;
    const running = loaded
      ? {
          batch: loaded.batch,
          seq: loaded.seq,
          lora: {
            r: loaded.r,
            alpha: loaded.alpha,
            dropout: loaded.dropout,
            targets: loaded.targets,
            rslora: loaded.rslora,
          },
        }
      : { batch: tr.batchSize, seq: tr.maxLength, lora: loraOf(tr) };
    const opts = { maxBatch: running.batch, maxSeq: running.seq, lora: running.lora };
    const quants = nf4Applies(summary.config) ? (['none', 'nf4'] as const) : (['none'] as const);
    const plans = quants.map((quant) => ({
      quant,
      plan: planMemory(kind, summary.config, { ...opts, quant }, summary.weightDType),
    }));
    const plan = (plans.find((x) => x.quant === summary.quant) ?? plans[0]).plan;
    const cells = (f: (p: Record<string, number>) => number) =>
      plans.map(({ plan: x }) => html`<td class="num">${bytes(f(x.parts))}</td>`);
    const changed =
      !!loaded &&
      (loaded.batch !== tr.batchSize ||
        loaded.seq !== tr.maxLength ||
        loaded.r !== tr.r ||
        loaded.targets.join() !== tr.targets.join());
    const next = changed
      ? planMemory(
          kind,
          summary.config,
          { maxBatch: tr.batchSize, maxSeq: tr.maxLength, lora: loraOf(tr), quant: summary.quant },
          summary.weightDType,
        )
      : undefined;
    const sameShape = !changed;
    return html`<section class="card" aria-labelledby="mem-h">
      <h3 id="mem-h">${t('memory.title')}</h3>
      <table>
        <thead>
          <tr><th></th>${plans.map(({ quant }) => html`<th class="num">${t(`quant.${quant}`)}${quant === summary.quant ? ' ✓' : ''}</th>`)}</tr>
        </thead>
        <tbody>
          <tr><td>${t('memory.weights')}</td>${cells((p) => p.weights)}</tr>
          <tr><td>${t('memory.lora')}</td>${cells((p) => p.lora)}</tr>
          <tr><td>${t('memory.activations', { batch: running.batch, seq: running.seq })}</td>${cells((p) => p.activations + (p.savedActivations ?? 0))}</tr>
          <tr><td>${t('memory.residuals')}</td>${cells((p) => p.residuals)}</tr>
          <tr><th>${t('memory.total')}</th>${plans.map(({ quant, plan: x }) => html`<th class="num" data-testid=${quant === summary.quant ? 'memory-total' : `memory-total-${quant}`}>${bytes(x.total)}</th>`)}</tr>
        </tbody>
      </table>
      ${loaded ? html`<p class="small" data-testid="memory-running">${t('memory.running', { batch: running.batch, seq: running.seq, total: bytes(plan.total) })}</p>` : ''}
      ${
        next
          ? html`<p class="small notice" data-testid="memory-next">${t('memory.afterReload', { batch: tr.batchSize, seq: tr.maxLength })} <strong>${bytes(next.total)}</strong></p>`
          : ''
      }
      <p class="muted small" style="margin-top:8px">${
        !plan.recompute
          ? t('memory.checkpointingOff')
          : plan.keepTokens
            ? t('memory.checkpointingPartial', { tokens: plan.keepTokens, budget: bytes(GPU_KEEP_BUDGET) })
            : t('memory.checkpointingOn')
      }</p>
      ${summary.engine.kernels ? html`<p class="muted small" data-testid="memory-kernels">${t('memory.kernels', { path: summary.engine.kernels })}</p>` : ''}
      ${(summary.engine.notices ?? []).map((n) => html`<p class="small notice" data-testid="memory-self-check">${n}</p>`)}
      ${
        sameShape && summary.memory.allocated
          ? html`<p class="ok small" data-testid="memory-allocated">${t('memory.allocated', { size: bytes(summary.memory.allocated), planned: bytes(summary.memory.total) })}</p>`
          : ''
      }
      ${kind === 'webgpu' ? html`<p class="muted small">${t('memory.gpuUnknown')}</p>` : ''}
      ${storageLine}
    </section>`;
  }
}
