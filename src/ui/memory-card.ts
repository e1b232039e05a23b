// The memory the current settings need, part by part, against the adapter's buffer limit.

import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { formatBytes, translator } from './i18n.ts';
import { estimateMemory } from './memory.ts';
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
    const e = estimateMemory({
      config: summary.config,
      weightBytes: summary.weightDType === 'f32' ? 4 : 2,
      r: tr.r,
      targets: tr.targets,
      batch: tr.batchSize,
      seq: tr.maxLength,
    });
    const limit = summary.engine.maxBufferSize;
    const tooBig = Number.isFinite(limit) && e.logits > limit;
    return html`<section class="card" aria-labelledby="mem-h">
      <h3 id="mem-h">${t('memory.title')}</h3>
      <table>
        <tbody>
          <tr><td>${t('memory.weights')}</td><td class="num">${bytes(e.weights)}</td></tr>
          <tr><td>${t('memory.lora')}</td><td class="num">${bytes(e.lora)}</td></tr>
          <tr><td>${t('memory.activations', { batch: tr.batchSize, seq: tr.maxLength })}</td><td class="num">${bytes(e.activations)}</td></tr>
          <tr><td>${t('memory.logits')}</td><td class="num">${bytes(2 * e.logits)}</td></tr>
          <tr><th>${t('memory.total')}</th><th class="num">${bytes(e.total)}</th></tr>
        </tbody>
      </table>
      ${Number.isFinite(limit) ? html`<p class="muted small" style="margin-top:8px">${t('memory.limit', { size: bytes(limit) })}</p>` : ''}
      ${tooBig
        ? html`<p class="error" role="status">${t('memory.tooBig', { size: bytes(e.logits) })}</p>`
        : html`<p class="ok small" data-testid="memory-fits">✓ ${t('memory.fits')}</p>`}
      ${storageLine}
    </section>`;
  }
}
