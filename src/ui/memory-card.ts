// The memory the current settings need, part by part, from the engine's own plan (the numbers
// the engine checks before it allocates), and what the loaded model actually allocated.

import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { formatBytes, translator } from './i18n.ts';
import { planMemory } from '../engine/plan.ts';
import { loraOf } from '../train/recipe.ts';
import type { AppState } from './state.ts';
import { panelStyles } from './styles.ts';

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
    const storageLine = storage ? html`<p class="muted small">${t('memory.storage', { used: bytes(storage.usage), quota: bytes(storage.quota) })}</p>` : '';
    if (!summary)
      return html`<section class="card" aria-labelledby="mem-h"><h3 id="mem-h">${t('memory.title')}</h3><p class="muted">${t('memory.noModel')}</p>${storageLine}</section>`;
    const tr = s.train;
    const kind = summary.engine.kind;
    const plan = planMemory(kind, summary.config, {
      maxBatch: tr.batchSize,
      maxSeq: tr.maxLength,
      lora: loraOf(tr),
    }, summary.weightDType);
    const p = plan.parts;
    const loaded = s.model.loadedWith;
    const sameShape = loaded && loaded.batch === tr.batchSize && loaded.seq === tr.maxLength && loaded.r === tr.r;
    return html`<section class="card" aria-labelledby="mem-h">
      <h3 id="mem-h">${t('memory.title')}</h3>
      <table>
        <tbody>
          <tr><td>${t('memory.weights')}</td><td class="num">${bytes(p.weights)}</td></tr>
          <tr><td>${t('memory.lora')}</td><td class="num">${bytes(p.lora)}</td></tr>
          <tr><td>${t('memory.activations', { batch: tr.batchSize, seq: tr.maxLength })}</td><td class="num">${bytes(p.activations + (p.savedActivations ?? 0))}</td></tr>
          <tr><td>${t('memory.residuals')}</td><td class="num">${bytes(p.residuals)}</td></tr>
          <tr><th>${t('memory.total')}</th><th class="num" data-testid="memory-total">${bytes(plan.total)}</th></tr>
        </tbody>
      </table>
      <p class="muted small" style="margin-top:8px">${t(plan.recompute ? 'memory.checkpointingOn' : 'memory.checkpointingOff')}</p>
      ${sameShape && summary.memory.allocated
        ? html`<p class="ok small" data-testid="memory-allocated">${t('memory.allocated', { size: bytes(summary.memory.allocated), planned: bytes(summary.memory.total) })}</p>`
        : ''}
      ${kind === 'webgpu' ? html`<p class="muted small">${t('memory.gpuUnknown')}</p>` : ''}
      ${storageLine}
    </section>`;
  }
}
