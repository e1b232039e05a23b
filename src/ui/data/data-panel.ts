// Screen 2: import a dataset (file, drop, paste), see every problem with its line and field,
// preview the rows as plain text, check token lengths against the max length, split.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { DatasetIssue } from '../../core/errors.ts';
import { emit } from '../app/actions.ts';
import type { FilesDetail } from '../shared/drop-zone.ts';
import '../shared/drop-zone.ts';
import './histogram.ts';
import './schema-editor.ts';
import './column-mapping.ts';
import { formatNumber, formatPercent, translator, type Translate } from '../shared/i18n.ts';
import { formatName, issueMessage } from './issue-text.ts';
import { PREVIEW_ROWS, type AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

const MAX_ISSUES = 200;

@customElement('wt-data-panel')
export class DataPanel extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .issues {
        max-height: 220px;
        overflow: auto;
        margin: 6px 0 0;
        padding-left: 20px;
      }
      .issues li {
        margin: 2px 0;
      }
      .where {
        font-weight: 600;
      }
      details.detail {
        display: inline;
      }
      details.detail summary {
        display: inline;
        cursor: pointer;
        color: var(--wt-muted);
      }
      td.text {
        white-space: pre-wrap;
        word-break: break-word;
      }
      td.answer {
        font-family: var(--wt-mono);
        font-size: 12px;
      }
      .preview {
        max-height: 330px;
        overflow: auto;
      }
      .layout {
        --wt-left: 1.35fr;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;
  @state() private pasting = false;
  @state() private pasted = '';

  private async importFiles(e: CustomEvent<FilesDetail>, role: 'train' | 'eval') {
    const file = e.detail.files[0];
    // The bytes go as they are: the controller finds the encoding and streams the rows.
    emit(this, { type: 'importData', name: file.name, file, role });
  }

  private issueText(t: Translate, i: DatasetIssue) {
    const where = [
      i.line !== undefined
        ? t('data.issueLine', { line: i.line })
        : i.index !== undefined
          ? t('data.issueRow', { index: i.index + 1 })
          : '',
      i.field ? t('data.issueField', { field: i.field }) : '',
    ].filter(Boolean);
    const m = issueMessage(t, i.message);
    return html`${where.length ? html`<span class="where">${where.join(', ')}</span>: ` : nothing}${m.text}
      ${m.detail ? html`<details class="detail"><summary>${t('net.details')}</summary>${m.detail}</details>` : nothing}`;
  }

  private importProgress(t: Translate) {
    const p = this.state.importing;
    if (!p) return nothing;
    const lang = this.state.lang;
    return html`<p class="notice" role="status" data-testid="import-progress">
      ${t('data.importing', { name: p.name, rows: formatNumber(lang, p.rows), percent: formatPercent(lang, p.totalBytes ? p.bytes / p.totalBytes : 0) })}
      <progress max=${p.totalBytes || 1} .value=${p.bytes}></progress>
    </p>`;
  }

  /** How the last import was read, when there is something to say: not UTF-8, duplicates left out. */
  private importNotes(t: Translate) {
    const imp = this.state.lastImport;
    if (!imp || imp.failed) return nothing;
    const notes = [];
    if (imp.encoding && imp.encoding !== 'UTF-8')
      notes.push(html`<div data-testid="import-encoding">${t('data.encoding', { encoding: imp.encoding })}</div>`);
    if (imp.normalized)
      notes.push(
        html`<div data-testid="import-normalized">${t('data.normalized', { count: formatNumber(this.state.lang, imp.normalized) })}</div>`,
      );
    const d = imp.duplicates;
    if (d?.count)
      notes.push(html`<div data-testid="import-duplicates">${t('data.duplicates', { count: formatNumber(this.state.lang, d.count) })}
      <ol class="issues">${d.examples.slice(0, 20).map((i) => html`<li>${this.issueText(t, i)}</li>`)}</ol></div>`);
    return notes.length ? html`<div class="notice" role="status">${notes}</div>` : nothing;
  }

  private importReport(t: Translate) {
    const imp = this.state.lastImport;
    if (!imp || (!imp.failed && imp.issues.length === 0)) return nothing;
    const rowsKept =
      this.state.dataset?.name === imp.name
        ? this.state.dataset.rows.length
        : (this.state.evalDataset?.rows.length ?? 0);
    const d = this.state.dataset;
    const good = imp.goodRows;
    const headline = good
      ? d
        ? t('data.keepCurrent', { name: d.name, rows: formatNumber(this.state.lang, d.rows.length) })
        : ''
      : imp.failed
        ? d
          ? t('data.failedKept', { name: imp.name })
          : t('data.failed', { name: imp.name })
        : t('data.issuesKept', { rows: formatNumber(this.state.lang, rowsKept) });
    return html`<div class=${imp.failed ? 'error' : 'notice'} role=${imp.failed ? 'alert' : 'status'} data-testid="import-issues">
      <strong>${headline}</strong>
      ${imp.issues.length ? html`<div>${t('data.issues', { count: formatNumber(this.state.lang, imp.issues.length), name: imp.name })}</div>` : nothing}
      ${imp.message ? html`<div>${imp.message}</div>` : nothing}
      <ol class="issues">
        ${imp.issues.slice(0, MAX_ISSUES).map((i) => html`<li>${this.issueText(t, i)}</li>`)}
      </ol>
      <div class="row">
        ${good ? html`<button class="small primary" data-action="import-good" @click=${() => emit(this, { type: 'importGood' })}>${t('data.importGood', { rows: formatNumber(this.state.lang, good) })}</button>` : nothing}
        <button class="small" @click=${() => emit(this, { type: 'dismissError', where: 'data' })}>${t('error.dismiss')}</button>
      </div>
    </div>`;
  }

  private importCard(t: Translate) {
    return html`<section class="card" aria-labelledby="import-h">
      <h3 id="import-h">${t('data.import')}</h3>
      <p class="muted small">${t('data.help')}</p>
      <wt-drop-zone label=${t('data.pick')} hint=${t('data.drop')} accept=".json,.jsonl,.csv,.tsv,application/json,text/csv,text/tab-separated-values" @wt-files=${(e: CustomEvent<FilesDetail>) => this.importFiles(e, 'train')}></wt-drop-zone>
      <wt-column-mapping .state=${this.state}></wt-column-mapping>
      <div class="row" style="margin-top:10px">
        <button @click=${() => (this.pasting = !this.pasting)} aria-expanded=${this.pasting}>${t('data.paste')}</button>
        <button @click=${() => emit(this, { type: 'importSample' })}>${t('data.sample')}</button>
      </div>
      ${
        this.pasting
          ? html`<div style="margin-top:10px">
            <label for="paste">${t('data.pasteLabel')}</label>
            <textarea id="paste" rows="6" spellcheck="false" .value=${this.pasted} @input=${(e: Event) => (this.pasted = (e.target as HTMLTextAreaElement).value)}></textarea>
            <button class="primary" ?disabled=${!this.pasted.trim()} @click=${() => emit(this, { type: 'importData', name: 'pasted', text: this.pasted, role: 'train' })}>
              ${t('data.importPasted')}
            </button>
          </div>`
          : nothing
      }
      ${this.importProgress(t)} ${this.importReport(t)} ${this.importNotes(t)}
    </section>`;
  }

  private previewCard(t: Translate) {
    const s = this.state;
    const d = s.dataset;
    if (!d) return html`<section class="card"><p class="muted">${t('data.none')}</p></section>`;
    const lengths = s.tokenLengths;
    return html`<section class="card" aria-labelledby="preview-h">
      <h3 id="preview-h">${t('data.preview')}</h3>
      <p class="small" data-testid="dataset-summary">${t('data.loadedFrom', { name: d.name === 'pasted' ? t('data.pastedName') : d.name, rows: formatNumber(s.lang, d.rows.length), format: formatName(t, d.format) })}</p>
      <div class="preview">
        <table>
          <thead>
            <tr>
              <th class="num">${t('data.col.index')}</th>
              <th>${t('data.col.user')}</th>
              <th>${t('data.col.answer')}</th>
              <th class="num">${t('data.col.tokens')}</th>
            </tr>
          </thead>
          <tbody>
            ${d.rows.slice(0, PREVIEW_ROWS).map(
              (r, i) => html`<tr>
                <td class="num">${i + 1}</td>
                <td class="text">${r.user}</td>
                <td class="text answer">${r.answer}</td>
                <td class="num">${lengths[i] ?? ''}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${d.rows.length > PREVIEW_ROWS ? html`<p class="muted small">${t('data.moreRows', { count: formatNumber(s.lang, d.rows.length - PREVIEW_ROWS) })}</p>` : nothing}
    </section>`;
  }

  private splitCard(t: Translate) {
    const s = this.state;
    if (!s.dataset) return nothing;
    const { train: trainRows, eval: evalRows } = s.splitCounts;
    return html`<section class="card" aria-labelledby="split-h">
      <h3 id="split-h">${t('data.split')}</h3>
      ${
        s.evalDataset
          ? html`<p class="small">${t('data.evalFromFile', { name: s.evalDataset.name, rows: formatNumber(s.lang, s.evalDataset.rows.length) })}</p>
            <button class="small" @click=${() => emit(this, { type: 'useSplit' })}>${t('data.useSplit')}</button>`
          : html`<div class="row">
            <label for="evalfrac">${t('data.evalFraction')}</label>
            <input
              id="evalfrac"
              type="range"
              min="0"
              max="0.5"
              step="0.05"
              .value=${String(s.evalFraction)}
              @change=${(e: Event) => emit(this, { type: 'setSplit', evalFraction: Number((e.target as HTMLInputElement).value) })}
            />
            <span>${formatPercent(s.lang, s.evalFraction)}</span>
          </div>`
      }
      <p class="small" data-testid="split-counts" style="margin-top:6px">${t('data.splitCounts', { train: formatNumber(s.lang, trainRows), eval: formatNumber(s.lang, evalRows) })}</p>
      ${this.evalNotes(t)}
      <p class="muted small">${t('data.evalFile')}</p>
      <wt-drop-zone label=${t('data.pick')} hint="" accept=".json,.jsonl,.csv,.tsv,application/json,text/csv,text/tab-separated-values" @wt-files=${(e: CustomEvent<FilesDetail>) => this.importFiles(e, 'eval')}></wt-drop-zone>
    </section>`;
  }

  /** The eval file against the training rows: intents it asks for that training never shows, or the file set aside. */
  private evalNotes(t: Translate) {
    const s = this.state;
    const fit = s.evalFit;
    const mismatch =
      s.evalDataset && fit
        ? html`<p class="small error" data-testid="eval-mismatch">
            ${fit.rows === fit.total ? t('data.evalMismatch', { eval: fit.tools.join(', '), train: s.dataset?.name ?? '' }) : t('data.evalPartlyUnseen', { count: fit.rows, intents: fit.tools.join(', ') })}
          </p>`
        : nothing;
    const parked =
      s.parkedEval && !s.evalDataset
        ? html`<p class="small notice" data-testid="eval-parked">
          ${t('data.evalParked', { name: s.parkedEval, train: s.dataset?.name ?? '' })}
          <button class="small" data-action="use-eval-file" @click=${() => emit(this, { type: 'useEvalFile' })}>${t('data.useEvalFile', { name: s.parkedEval })}</button>
        </p>`
        : nothing;
    return html`${mismatch}${parked}`;
  }

  private lengthsCard(t: Translate) {
    const s = this.state;
    if (!s.dataset) return nothing;
    const lengths = s.tokenLengths;
    const max = s.train.maxLength;
    if (lengths.length === 0)
      return html`<section class="card"><h3>${t('data.histogram')}</h3><p class="muted small">${t('data.needModel')}</p></section>`;
    let longest = 0,
      sum = 0,
      over = 0,
      noAnswer = 0;
    lengths.forEach((n, i) => {
      longest = Math.max(longest, n);
      sum += n;
      if (n > max) over++;
      if ((s.promptLengths[i] ?? 0) >= max) noAnswer++;
    });
    const mean = sum / lengths.length;
    const share = (n: number) => formatPercent(s.lang, n / lengths.length);
    return html`<section class="card" aria-labelledby="hist-h">
      <h3 id="hist-h">${t('data.histogram')}</h3>
      <wt-histogram .lengths=${lengths} max=${max} language=${s.lang} label=${t('data.histogramLabel', { max })}></wt-histogram>
      <p class="small muted">${t('data.meanTokens', { mean: formatNumber(s.lang, mean, 1), max: longest })}</p>
      ${s.tokenSampleOf ? html`<p class="small muted" data-testid="token-sample">${t('data.sampled', { rows: formatNumber(s.lang, lengths.length), total: formatNumber(s.lang, s.tokenSampleOf) })}</p>` : nothing}
      <p class="small" data-testid="truncation">
        ${over ? (s.tokenSampleOf ? t('data.truncatedShare', { share: share(over), max }) : t('data.truncated', { count: formatNumber(s.lang, over), max })) : t('data.noneTruncated', { max })}
      </p>
      ${
        noAnswer
          ? html`<p class="small error" data-testid="no-answer">
            ${s.tokenSampleOf ? t('data.noAnswerShare', { share: share(noAnswer), max }) : t('data.noAnswer', { count: formatNumber(s.lang, noAnswer), max })}
          </p>`
          : nothing
      }
    </section>`;
  }

  private systemCard(t: Translate) {
    const s = this.state;
    return html`<section class="card">
      <label for="system">${t('data.system')}</label>
      <input
        id="system"
        type="text"
        style="width:100%;margin:4px 0"
        .value=${s.systemPrompt}
        @change=${(e: Event) => emit(this, { type: 'setSystemPrompt', text: (e.target as HTMLInputElement).value })}
      />
      <p class="muted small">${t('data.systemHelp')}</p>
      <label class="small"><input type="checkbox" data-testid="allow-control-text" .checked=${s.allowControlText}
        @change=${(e: Event) => emit(this, { type: 'setAllowControlText', allow: (e.target as HTMLInputElement).checked })} /> ${t('data.allowControlText')}</label>
    </section>`;
  }

  override render() {
    const t = translator(this.state.lang);
    return html`<h2>${t('data.title')}</h2>
      <div class="layout">
        <div>${this.importCard(t)} ${this.previewCard(t)}</div>
        <div>${this.lengthsCard(t)} ${this.splitCard(t)} ${this.systemCard(t)}</div>
      </div>
      <wt-schema-editor .state=${this.state}></wt-schema-editor>`;
  }
}
