// The hub models Webtune knows, with what each costs at the current batch and max length and
// whether it fits the engine this page would use; choosing one fills in the repository field.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { FitProblem } from '../../engine/fit.ts';
import { modelPreset } from '../../train/recipe.ts';
import { emit } from '../app/actions.ts';
import { catalogRows, fitLimits, type CatalogPlan } from './catalog-view.ts';
import { formatBytes, translator, type Translate } from '../shared/i18n.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

@customElement('wt-model-catalog')
export class ModelCatalog extends LitElement {
  static override styles = [
    panelStyles,
    css`
      table {
        margin: 4px 0 10px;
      }
      td.fit {
        font-size: 0.85em;
      }
      tr.chosen td {
        background: #eef3fd;
      }
      .warn {
        color: #8a1c1c;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  private problem(t: Translate, p: FitProblem): string {
    const b = (n: number) => formatBytes(this.state.lang, n);
    return p.kind === 'memory'
      ? t('catalog.noMemory', { need: b(p.need), limit: b(p.limit) })
      : t('catalog.noBinding', { tensor: p.tensor, need: b(p.need), limit: b(p.limit) });
  }

  /** The repo goes into the form, and its preset into the Train step's batch split. */
  private choose(repo: string) {
    emit(this, { type: 'setSource', patch: { repo } });
    const preset = modelPreset(repo);
    if (preset) emit(this, { type: 'setTrain', patch: preset });
  }

  private planCell(t: Translate, plan: CatalogPlan, label: string) {
    const b = (n: number) => formatBytes(this.state.lang, n);
    return html`<td class="fit" data-label=${label}>
      ${b(plan.total)}
      ${
        plan.fit.fits
          ? html`<span class="ok"> ✓ ${t('catalog.fits')}</span>`
          : html`<div class="warn" data-testid="catalog-why">✗ ${plan.fit.problems.map((p) => this.problem(t, p)).join('; ')}</div>`
      }
    </td>`;
  }

  override render() {
    const s = this.state;
    const t = translator(s.lang);
    const b = (n: number) => formatBytes(s.lang, n);
    const kind = fitLimits(s).kind;
    const chosen = s.source.repo.trim().toLowerCase();
    return html`<p class="small" id="catalog-h">${t('catalog.title', { batch: s.train.batchSize, seq: s.train.maxLength, engine: t(`engine.${kind}`) })}</p>
      <table class="stack" aria-labelledby="catalog-h">
        <thead>
          <tr><th></th><th>${t('catalog.model')}</th><th class="num">${t('catalog.download')}</th><th>${t('catalog.memory16')}</th><th>${t('catalog.memory4')}</th></tr>
        </thead>
        <tbody>
          ${catalogRows(s).map((row) => {
            const repo = row.model.repo;
            const plan = row.plans[0],
              nf4 = row.plans.find((p) => p.weights === '4-bit');
            const preset = modelPreset(repo);
            return html`<tr data-testid="catalog-row" data-repo=${repo} data-fits=${String(plan.fit.fits)} data-fits-nf4=${String(nf4?.fit.fits ?? false)}
              class=${repo.toLowerCase() === chosen ? 'chosen' : ''}>
              <td><input type="radio" name="catalog" aria-label=${repo} .checked=${repo.toLowerCase() === chosen} @change=${() => this.choose(repo)} /></td>
              <td>
                ${repo}${row.model.thinking ? html`<div class="muted small">${t('catalog.thinkingOff')}</div>` : nothing}
                ${preset ? html`<div class="muted small">${t('catalog.preset', { batch: preset.batchSize, accum: preset.gradAccum })}</div>` : nothing}
              </td>
              <td class="num" data-label=${t('catalog.download')}>${b(row.download)}</td>
              ${row.plans.map((p) => this.planCell(t, p, t(p.weights === '4-bit' ? 'catalog.memory4' : 'catalog.memory16')))}${nf4 ? nothing : html`<td class="fit muted" data-label=${t('catalog.memory4')}>—</td>`}
            </tr>`;
          })}
        </tbody>
      </table>
      <p class="muted small">${t(kind === 'webgpu' ? 'catalog.gpuNote' : 'catalog.cpuNote')}</p>`;
  }
}
