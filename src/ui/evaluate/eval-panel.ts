// Screen 4: accuracy of greedy answers on the eval rows, overall and per intent, and every
// wrong answer next to the expected one.

import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { noSlotsToScore, type EvalReport, type GroupScores } from '../../eval/metrics.ts';
import { emit } from '../app/actions.ts';
import '../shared/error-box.ts';
import {
  formatLoss,
  formatNumber,
  formatPercent,
  formatRelativeTime,
  translator,
  type Translate,
} from '../shared/i18n.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';
import './runs-panel.ts';
import './wrong-answers.ts';

@customElement('wt-eval-panel')
export class EvalPanel extends LitElement {
  static override styles = [panelStyles];

  @property({ attribute: false }) state!: AppState;
  /** Whose wrong answers are listed. */
  @state() private showing: 'free' | 'constrained' = 'free';
  /** Continue training also runs the control (evaluate/loop-control.ts). */
  @state() private withControl = false;

  private scores(t: Translate, g: GroupScores, testId = 'eval') {
    const pct = (x: number) => formatPercent(this.state.lang, x);
    const slot = (x: number) => (noSlotsToScore(g) ? '—' : pct(x));
    const stat = (label: string, v: string, id: string) =>
      html`<div class="stat"><div class="label">${label}</div><div class="value" data-testid=${id}>${v}</div></div>`;
    return html`<div class="stats">
      ${stat(t('eval.exact'), pct(g.exactMatch), `${testId}-exact`)} ${stat(t('eval.intent'), pct(g.intentAccuracy), `${testId}-intent`)}
      ${stat(t('eval.slotF1'), slot(g.slotF1), `${testId}-f1`)} ${stat(t('eval.slotPrecision'), slot(g.slotPrecision), `${testId}-p`)}
      ${stat(t('eval.slotRecall'), slot(g.slotRecall), `${testId}-r`)} ${stat(t('eval.invalidJson'), pct(g.invalidJsonRate), `${testId}-invalid`)}
    </div>`;
  }

  private perIntent(t: Translate, r: EvalReport, c?: EvalReport) {
    const pct = (x: number) => formatPercent(this.state.lang, x);
    const schema = this.state.schema.applied;
    // Rows added during a continue-with-control sequence would change what its runs are measured on.
    const busy = this.state.evaluation.busy || !!this.state.controlPhase;
    return html`<h3 style="margin-top:14px">${t('eval.perIntent')}</h3>
      <table class="stack" data-testid="per-intent">
        <thead>
          <tr>
            <th>${t('eval.col.intent')}</th>
            <th class="num">${t('eval.col.count')}</th>
            <th class="num">${t('eval.intentFree')}</th>
            <th class="num">${t('eval.slotF1')}</th>
            <th class="num">${c ? t('eval.exactBoth') : t('eval.exact')}</th>
            <th class="num">${t('eval.invalidJson')}</th>
            ${schema ? html`<th></th>` : nothing}
          </tr>
        </thead>
        <tbody>
          ${Object.entries(r.perIntent).map(
            ([name, g]) => html`<tr data-intent=${name}>
              <td><code>${name}</code></td>
              <td class="num" data-label=${t('eval.col.count')}>${g.rows}</td>
              <td class="num" data-label=${t('eval.intentFree')}>${pct(g.intentAccuracy)}</td>
              <td class="num" data-label=${t('eval.slotF1')}>${noSlotsToScore(g) ? html`<span title=${t('eval.noSlots')}>—</span>` : pct(g.slotF1)}</td>
              <td class="num" data-label=${c ? t('eval.exactBoth') : t('eval.exact')}>${pct(g.exactMatch)}${c?.perIntent[name] ? html` / ${pct(c.perIntent[name].exactMatch)}` : nothing}</td>
              <td class="num" data-label=${t('eval.invalidJson')}>${pct(g.invalidJsonRate)}</td>
              ${
                schema
                  ? html`<td>${
                      schema.tools.some((x) => x.name === name)
                        ? html`<button class="small" data-action="more-rows" ?disabled=${busy} title=${t('eval.moreRowsTitle', { count: this.state.schema.moreRows, tool: name })}
                        @click=${() => emit(this, { type: 'moreRows', tool: name })}>${t('eval.moreRows')}</button>`
                        : nothing
                    }</td>`
                  : nothing
              }
            </tr>`,
          )}
        </tbody>
      </table>
      ${
        this.state.schema.added
          ? html`<p class="notice small" data-testid="rows-added" aria-live="polite">${t('eval.rowsAdded', {
              rows: this.state.schema.added.rows,
              tool: this.state.schema.added.tool,
              total: formatNumber(this.state.lang, this.state.dataset?.rows.length ?? 0),
            })}</p>`
          : nothing
      }
      ${
        schema
          ? html`<label class="small">${t('eval.moreRowsCount')}
            <input type="number" min="1" style="width:5em" .value=${String(this.state.schema.moreRows)}
              @change=${(e: Event) => emit(this, { type: 'setMoreRows', count: Number((e.target as HTMLInputElement).value) })} /></label>`
          : nothing
      }`;
  }

  private report(t: Translate) {
    const ev = this.state.evaluation;
    const r = ev.report;
    if (!r) return nothing;
    const c = ev.constrained;
    const pct = (x: number) => formatPercent(this.state.lang, x);
    const showing = c ? this.showing : 'free';
    const shown = showing === 'free' ? r : c!;
    return html`<section class="card" data-testid="eval-report" aria-labelledby="report-h">
        <h3 id="report-h">${t('eval.title')}</h3>
        ${this.provenance(t)}
        ${c ? html`<p class="muted small">${t('eval.bothNote')}</p><h4>${t('eval.free')}</h4>` : nothing}
        ${r.tool ? this.scores(t, r.tool) : html`<div class="stats"><div class="stat"><div class="label">${t('eval.exact')}</div><div class="value" data-testid="eval-exact">${pct(r.accuracy)}</div></div></div>`}
        ${c?.tool ? html`<h4 data-testid="eval-constrained">${t('eval.constrained')}</h4>${this.scores(t, c.tool, 'eval-c')}` : nothing}
        ${ev.loss !== undefined ? html`<p class="small muted" style="margin-top:8px">${t('eval.loss')}: ${formatLoss(this.state.lang, ev.loss)}</p>` : nothing}
        ${Object.keys(r.perIntent).length ? this.perIntent(t, r, c) : nothing}
      </section>
      <section class="card" aria-labelledby="wrong-h">
        <h3 id="wrong-h">${t('eval.wrong', { count: shown.wrong.length })}</h3>
        ${
          c
            ? html`<div class="row small" role="radiogroup" aria-label=${t('eval.showing')}>
              ${t('eval.showing')}
              ${(['free', 'constrained'] as const).map(
                (
                  d,
                ) => html`<label><input type="radio" name="showing" .checked=${showing === d} @change=${() => (this.showing = d)} />
                  ${t(d === 'free' ? 'eval.free' : 'eval.constrained')} (${(d === 'free' ? r : c).wrong.length})</label>`,
              )}
            </div>`
            : nothing
        }
        <wt-wrong-answers .state=${this.state} .report=${shown} decoding=${showing}></wt-wrong-answers>
        ${this.continueRow(t)}
      </section>`;
  }

  /** Training now (a continued run): these results are of the adapter before it. */
  private training(): boolean {
    return ['starting', 'running', 'paused', 'pausing'].includes(this.state.training.state);
  }

  /** Whose report this is: a loaded run's stored one, or one of an adapter no longer in use. */
  private provenance(t: Translate) {
    const s = this.state;
    const ev = s.evaluation;
    const stale = this.training() || ev.ofRun !== s.runs.current;
    if (stale) return html`<p class="notice" data-testid="eval-stale">${t('eval.stale')}</p>`;
    if (ev.storedAt !== undefined)
      return html`<p class="muted small" data-testid="eval-stored">${t('eval.stored', { when: formatRelativeTime(s.lang, ev.storedAt, Date.now()) })}</p>`;
    return nothing;
  }

  private continueRow(t: Translate) {
    const s = this.state;
    const blocked = s.model.status !== 'ready' || s.evaluation.busy || this.training();
    const p = s.training.progress;
    // Continue training runs here too: its progress is said where the button was pressed.
    const steps = { step: formatNumber(s.lang, p?.step ?? 0), total: formatNumber(s.lang, p?.totalSteps ?? 0) };
    const busy = this.training() || s.controlPhase !== undefined;
    const progress = busy
      ? html`<span role="status" aria-live="polite" data-testid="continue-progress">
            ${s.controlPhase ? t(s.controlPhase === 'control' ? 'eval.control.running' : 'eval.control.treatment', steps) : t('eval.continuing', steps)}</span>
          <progress style="max-width:200px" max=${p?.totalSteps ?? 1} .value=${p?.step ?? 0}></progress>
          <button class="small" data-action="watch-training" @click=${() => emit(this, { type: 'go', screen: 'train' })}>${t('eval.watchTraining')}</button>`
      : html`<span class="muted small">${t('eval.continueHelp', { rows: s.splitCounts.train })}</span>`;
    // A control needs a kept run in use to start both runs from.
    const control = s.runs.current
      ? html`<label class="small" title=${t('eval.control.help')}>
          <input type="checkbox" data-field="with-control" .checked=${this.withControl} ?disabled=${busy} @change=${(e: Event) => (this.withControl = (e.target as HTMLInputElement).checked)} />
          ${t('eval.control.option')}</label>`
      : nothing;
    return html`<div class="row" style="margin-top:10px">
      <button class="primary" data-action="continue-training" ?disabled=${blocked || busy} @click=${() => emit(this, { type: 'continueTraining', control: this.withControl && !!s.runs.current })}>${t('eval.continue')}</button>
      ${control} ${progress}
    </div>`;
  }

  override render() {
    const s = this.state;
    const t = translator(s.lang);
    const ev = s.evaluation;
    const st = s.training.state;
    const blocked =
      s.model.status !== 'ready' || !s.dataset || st === 'running' || st === 'paused' || st === 'starting';
    return html`<h2>${t('screen.eval')}</h2>
      <p class="lead">${t('eval.adapterNote')}</p>
      <section class="card">
        <div class="row">
          <button class="primary" data-action="evaluate" ?disabled=${blocked || ev.busy} @click=${() => emit(this, { type: 'evaluate' })}>${t('eval.run')}</button>
          ${
            ev.busy
              ? html`<span role="status" aria-live="polite">${t('eval.running', { done: ev.done, total: ev.total })}</span>
                <progress style="max-width:240px" max=${ev.total} .value=${ev.done} aria-label=${t('eval.running', { done: ev.done, total: ev.total })}></progress>`
              : nothing
          }
        </div>
        ${s.model.status !== 'ready' || !s.dataset ? html`<p class="notice">${t('eval.needModel')}</p>` : nothing}
        ${
          ev.skipped
            ? html`<p class="notice" data-testid="eval-skipped">
              ${t('eval.skipped', { count: ev.skipped.count, positions: s.model.summary?.config.maxPositionEmbeddings ?? 0, rows: ev.skipped.rows })}
            </p>`
            : nothing
        }
        <wt-error .error=${ev.error} language=${s.lang}></wt-error>
      </section>
      ${this.report(t)}
      <wt-runs-panel .state=${s}></wt-runs-panel>`;
  }
}
