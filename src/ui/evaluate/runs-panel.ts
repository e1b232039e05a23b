// The kept training runs: one row each (rows, steps, final loss, the latest exact match free
// and constrained), with its adapter to load, export or delete; two picked runs overlay their
// loss curves and line their evaluations up per intent.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { compareReports, sameSetReports } from '../../eval/compare.ts';
import { emit } from '../app/actions.ts';
import '../shared/error-box.ts';
import { formatDateTime, formatLoss, formatNumber, formatPercent, translator, type Translate } from '../shared/i18n.ts';
import '../train/loss-chart.ts';
import { latestReport } from './run-history.ts';
import { runName } from './run-name.ts';
import type { AppState, RunView } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

@customElement('wt-runs-panel')
export class RunsPanel extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .delta-up {
        color: var(--wt-ok);
      }
      .delta-down {
        color: var(--wt-error, #b3261e);
      }
      tr.current td:first-child {
        font-weight: 600;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  private pct(x?: number) {
    return x === undefined ? '–' : formatPercent(this.state.lang, x);
  }

  private row(t: Translate, r: RunView) {
    const s = this.state;
    const busy =
      s.runs.busy ||
      s.evaluation.busy ||
      !!s.controlPhase ||
      ['running', 'starting', 'paused'].includes(s.training.state);
    const parentRun = r.parent ? s.runs.list.find((x) => x.id === r.parent) : undefined;
    const parent = r.parent ? (parentRun ? runName(t, parentRun) : r.parent.slice(0, 8)) : '';
    return html`<tr class=${s.runs.current === r.id ? 'current' : ''} data-run=${r.id}>
      <td>
        <input type="checkbox" aria-label=${t('runs.select', { name: runName(t, r) })} .checked=${s.runs.selected.includes(r.id)} @change=${() => emit(this, { type: 'selectRun', id: r.id })} />
        ${runName(t, r)} ${r.control ? html`<span class="small muted" data-testid="run-control" title=${t('runs.controlHelp')}>${t('runs.control')}</span>` : nothing}
        ${s.runs.current === r.id ? html`<span class="small ok">${t('runs.current')}</span>` : nothing}
      </td>
      <td class="small" data-label=${t('runs.col.when')}>${formatDateTime(s.lang, r.createdAt)}</td>
      <td class="num" data-label=${t('runs.col.rows')}>${r.trainRows}</td>
      <td class="num" data-label=${t('runs.col.steps')}>${r.history.at(-1)?.step ?? 0}</td>
      <td class="num" data-label=${t('runs.col.loss')}>${r.history.length ? formatLoss(s.lang, r.history.at(-1)!.loss) : '–'}</td>
      <td class="num" data-label=${t('runs.col.free')}>${this.pct(latestReport(r, 'free')?.tool?.exactMatch ?? latestReport(r, 'free')?.accuracy)}</td>
      <td class="num" data-label=${t('runs.col.constrained')}>${this.pct(latestReport(r, 'constrained')?.tool?.exactMatch)}</td>
      <td class="small" data-label=${parent ? t('runs.col.from') : nothing}>${parent}</td>
      <td>
        <div class="row">
          <button class="small" data-action="load-run" ?disabled=${busy} @click=${() => emit(this, { type: 'loadRun', id: r.id })}>${t('runs.load')}</button>
          <button class="small" ?disabled=${busy} @click=${() => emit(this, { type: 'exportRun', id: r.id })}>${t('runs.export')}</button>
          <button class="small" ?disabled=${busy} @click=${() => emit(this, { type: 'deleteRun', id: r.id })}>${t('runs.delete')}</button>
        </div>
      </td>
    </tr>`;
  }

  private compare(t: Translate, a: RunView, b: RunView) {
    const s = this.state;
    const curve = (r: RunView) => r.history.map((h) => ({ step: h.step, loss: h.loss }));
    // Only reports measured on the same evaluation set are compared (issue 21: a set that shrank is not a gain).
    const free = sameSetReports(a.evals, b.evals, 'free'),
      con = sameSetReports(a.evals, b.evals, 'constrained');
    const differ = free === 'different-sets' || con === 'different-sets';
    const ra = typeof free === 'object' ? free.a : undefined,
      rb = typeof free === 'object' ? free.b : undefined;
    const ca = typeof con === 'object' ? con.a : undefined,
      cb = typeof con === 'object' ? con.b : undefined;
    const rows = ra && rb ? compareReports(ra, rb) : [];
    const cons = ca && cb ? new Map(compareReports(ca, cb).map((c) => [c.intent, c])) : undefined;
    const delta = (d?: number) =>
      d === undefined
        ? '–'
        : html`<span class=${d > 0 ? 'delta-up' : d < 0 ? 'delta-down' : ''}>${t('runs.points', { sign: d > 0 ? '+' : d < 0 ? '−' : '', n: formatNumber(s.lang, Math.abs(d) * 100, 0) })}</span>`;
    return html`<div data-testid="runs-compare">
      <h3>${t('runs.compare', { a: runName(t, a), b: runName(t, b) })}</h3>
      <wt-loss-chart .losses=${curve(a)} .evalLosses=${curve(b)} .labels=${[runName(t, a), runName(t, b)]} language=${s.lang}
        totalSteps=${Math.max(a.history.at(-1)?.step ?? 0, b.history.at(-1)?.step ?? 0)}></wt-loss-chart>
      ${
        rows.length
          ? html`<table data-testid="runs-compare-table">
            <thead>
              <tr>
                <th>${t('eval.col.intent')}</th>
                <th class="num">${runName(t, a)}</th>
                <th class="num">${runName(t, b)}</th>
                <th class="num">${t('runs.delta')}</th>
                ${cons ? html`<th class="num">${t('eval.constrained')}: ${runName(t, a)}</th><th class="num">${runName(t, b)}</th>` : nothing}
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (c) => html`<tr>
                  <td><code>${c.intent}</code></td>
                  <td class="num">${this.pct(c.a?.exactMatch)}</td>
                  <td class="num">${this.pct(c.b?.exactMatch)}</td>
                  <td class="num">${delta(c.exactDelta)}</td>
                  ${cons ? html`<td class="num">${this.pct(cons.get(c.intent)?.a?.exactMatch)}</td><td class="num">${this.pct(cons.get(c.intent)?.b?.exactMatch)}</td>` : nothing}
                </tr>`,
              )}
            </tbody>
          </table>`
          : differ
            ? html`<p class="notice small" data-testid="runs-different-sets">${t('runs.differentSets')}</p>`
            : html`<p class="muted small">${t('runs.noEval', { name: runName(t, latestReport(a, 'free') ? b : a) })}</p>`
      }
    </div>`;
  }

  override render() {
    const s = this.state;
    const t = translator(s.lang);
    const runs = s.runs;
    const picked = runs.selected.map((id) => runs.list.find((r) => r.id === id)).filter((r): r is RunView => !!r);
    // Oldest first in the comparison, so "change" reads as what the later run did.
    picked.sort((x, y) => x.createdAt - y.createdAt);
    return html`<section class="card" aria-labelledby="runs-h" data-testid="runs">
      <h3 id="runs-h">${t('runs.title')}</h3>
      <p class="muted small">${t('runs.lead')}</p>
      <wt-error .error=${runs.error} language=${s.lang}></wt-error>
      ${
        runs.list.length === 0
          ? html`<p class="muted">${t('runs.none')}</p>`
          : html`<table class="stack" data-testid="runs-table">
            <thead>
              <tr>
                <th>${t('runs.col.name')}</th>
                <th>${t('runs.col.when')}</th>
                <th class="num">${t('runs.col.rows')}</th>
                <th class="num">${t('runs.col.steps')}</th>
                <th class="num">${t('runs.col.loss')}</th>
                <th class="num">${t('runs.col.free')}</th>
                <th class="num">${t('runs.col.constrained')}</th>
                <th>${t('runs.col.from')}</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${runs.list.map((r) => this.row(t, r))}
            </tbody>
          </table>`
      }
      ${picked.length === 2 ? this.compare(t, picked[0], picked[1]) : runs.list.length > 1 ? html`<p class="muted small">${t('runs.compareHint')}</p>` : nothing}
    </section>`;
  }
}
