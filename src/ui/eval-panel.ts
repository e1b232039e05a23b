// Screen 4: accuracy of greedy answers on the eval rows, overall and per intent, and every
// wrong answer next to the expected one.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { noSlotsToScore, type GroupScores } from '../eval/metrics.ts';
import { emit } from './actions.ts';
import './error-box.ts';
import { formatLoss, formatPercent, translator, type Translate } from './i18n.ts';
import type { AppState } from './state.ts';
import { panelStyles } from './styles.ts';

@customElement('wt-eval-panel')
export class EvalPanel extends LitElement {
  static override styles = [
    panelStyles,
    css`
      td.mono {
        white-space: pre-wrap;
        word-break: break-all;
      }
      .wrong {
        max-height: 340px;
        overflow: auto;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  private scores(t: Translate, g: GroupScores) {
    const pct = (x: number) => formatPercent(this.state.lang, x);
    const slot = (x: number) => (noSlotsToScore(g) ? '—' : pct(x));
    const stat = (label: string, v: string, id: string) => html`<div class="stat"><div class="label">${label}</div><div class="value" data-testid=${id}>${v}</div></div>`;
    return html`<div class="stats">
      ${stat(t('eval.exact'), pct(g.exactMatch), 'eval-exact')} ${stat(t('eval.intent'), pct(g.intentAccuracy), 'eval-intent')}
      ${stat(t('eval.slotF1'), slot(g.slotF1), 'eval-f1')} ${stat(t('eval.slotPrecision'), slot(g.slotPrecision), 'eval-p')}
      ${stat(t('eval.slotRecall'), slot(g.slotRecall), 'eval-r')} ${stat(t('eval.invalidJson'), pct(g.invalidJsonRate), 'eval-invalid')}
    </div>`;
  }

  private report(t: Translate) {
    const ev = this.state.evaluation;
    const r = ev.report;
    if (!r) return nothing;
    const pct = (x: number) => formatPercent(this.state.lang, x);
    return html`<section class="card" data-testid="eval-report" aria-labelledby="report-h">
        <h3 id="report-h">${t('eval.title')}</h3>
        ${r.tool ? this.scores(t, r.tool) : html`<div class="stats"><div class="stat"><div class="label">${t('eval.exact')}</div><div class="value" data-testid="eval-exact">${pct(r.accuracy)}</div></div></div>`}
        ${ev.loss !== undefined ? html`<p class="small muted" style="margin-top:8px">${t('eval.loss')}: ${formatLoss(this.state.lang, ev.loss)}</p>` : nothing}
        ${Object.keys(r.perIntent).length
          ? html`<h3 style="margin-top:14px">${t('eval.perIntent')}</h3>
              <table>
                <thead>
                  <tr>
                    <th>${t('eval.col.intent')}</th>
                    <th class="num">${t('eval.col.count')}</th>
                    <th class="num">${t('eval.intent')}</th>
                    <th class="num">${t('eval.slotF1')}</th>
                    <th class="num">${t('eval.exact')}</th>
                    <th class="num">${t('eval.invalidJson')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${Object.entries(r.perIntent).map(
                    ([name, g]) => html`<tr>
                      <td><code>${name}</code></td>
                      <td class="num">${g.rows}</td>
                      <td class="num">${pct(g.intentAccuracy)}</td>
                      <td class="num">${noSlotsToScore(g) ? html`<span title=${t('eval.noSlots')}>—</span>` : pct(g.slotF1)}</td>
                      <td class="num">${pct(g.exactMatch)}</td>
                      <td class="num">${pct(g.invalidJsonRate)}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>`
          : nothing}
      </section>
      <section class="card" aria-labelledby="wrong-h">
        <h3 id="wrong-h">${t('eval.wrong', { count: r.wrong.length })}</h3>
        ${r.wrong.length === 0
          ? html`<p class="ok">${t('eval.noneWrong')}</p>`
          : html`<div class="wrong">
              <table data-testid="wrong-answers">
                <thead>
                  <tr>
                    <th>${t('eval.col.input')}</th>
                    <th>${t('eval.col.expected')}</th>
                    <th>${t('eval.col.got')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${r.wrong.map(
                    (w) => html`<tr>
                      <td>${ev.inputs[w.index] ?? ''}</td>
                      <td class="mono">${w.expected}</td>
                      <td class="mono">${w.generated}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>
            </div>`}
      </section>`;
  }

  override render() {
    const s = this.state;
    const t = translator(s.lang);
    const ev = s.evaluation;
    const st = s.training.state;
    const blocked = s.model.status !== 'ready' || !s.dataset || st === 'running' || st === 'paused' || st === 'starting';
    return html`<h2>${t('screen.eval')}</h2>
      <p class="lead">${t('eval.adapterNote')}</p>
      <section class="card">
        <div class="row">
          <button class="primary" data-action="evaluate" ?disabled=${blocked || ev.busy} @click=${() => emit(this, { type: 'evaluate' })}>${t('eval.run')}</button>
          ${ev.busy
            ? html`<span role="status" aria-live="polite">${t('eval.running', { done: ev.done, total: ev.total })}</span>
                <progress style="max-width:240px" max=${ev.total} .value=${ev.done} aria-label=${t('eval.running', { done: ev.done, total: ev.total })}></progress>`
            : nothing}
        </div>
        ${s.model.status !== 'ready' || !s.dataset ? html`<p class="notice">${t('eval.needModel')}</p>` : nothing}
        ${ev.skipped
          ? html`<p class="notice" data-testid="eval-skipped">
              ${t('eval.skipped', { count: ev.skipped.count, positions: s.model.summary?.config.maxPositionEmbeddings ?? 0, rows: ev.skipped.rows })}
            </p>`
          : nothing}
        <wt-error .error=${ev.error} language=${s.lang}></wt-error>
      </section>
      ${this.report(t)}`;
  }
}
