// The mapping step of a CSV/TSV import: each seed field (user text, answer, and optionally the
// instruction and system prompt) takes a column, guessed from the header's names; the first rows
// show what each column holds. Import stays off until the user text and the answer are chosen.

import { LitElement, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { MAPPED_FIELDS, type ColumnMapping } from '../../data/delimited.ts';
import { emit } from '../app/actions.ts';
import { formatNumber, translator, type MessageKey } from '../shared/i18n.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

function problemKey(m: ColumnMapping): MessageKey | undefined {
  if (m.input === undefined) return 'data.mapping.needInput';
  if (m.output === undefined) return 'data.mapping.needOutput';
  const used = Object.values(m);
  return new Set(used).size !== used.length ? 'data.mapping.twice' : undefined;
}

@customElement('wt-column-mapping')
export class ColumnMappingCard extends LitElement {
  static override styles = panelStyles;
  @property({ attribute: false }) state!: AppState;

  override render() {
    const cm = this.state.columnMapping;
    if (!cm) return nothing;
    const t = translator(this.state.lang);
    const problem = problemKey(cm.mapping);
    return html`<section class="card" data-testid="column-mapping" aria-labelledby="mapping-h">
      <h3 id="mapping-h">${t('data.mapping.title', { name: cm.name, rows: formatNumber(this.state.lang, cm.rows) })}</h3>
      <p class="small muted">${t('data.mapping.help')}</p>
      <div class="columns">
        ${MAPPED_FIELDS.map(
          (f) => html`<label class="small"
            >${t(`data.mapping.field.${f}`)}
            <select data-field=${f} @change=${(e: Event) => emit(this, { type: 'setColumn', field: f, column: Number((e.target as HTMLSelectElement).value) })}>
              <option value="-1" ?selected=${cm.mapping[f] === undefined}>${t('data.mapping.none')}</option>
              ${cm.header.map((h, i) => html`<option value=${i} ?selected=${cm.mapping[f] === i}>${h || t('data.mapping.column', { n: i + 1 })}</option>`)}
            </select></label
          >`,
        )}
      </div>
      <table class="stack" style="margin-top:8px">
        <thead><tr>${cm.header.map((h) => html`<th>${h}</th>`)}</tr></thead>
        <tbody>${cm.preview.map((r) => html`<tr>${r.map((c, i) => html`<td data-label=${cm.header[i]}>${c}</td>`)}</tr>`)}</tbody>
      </table>
      ${problem ? html`<p class="small error" data-testid="mapping-problem">${t(problem)}</p>` : nothing}
      <div class="row" style="margin-top:8px">
        <button class="primary" data-action="import-mapped" ?disabled=${!!problem} @click=${() => emit(this, { type: 'importMapped' })}>
          ${t('data.mapping.import', { rows: formatNumber(this.state.lang, cm.rows) })}
        </button>
        <button data-action="cancel-mapping" @click=${() => emit(this, { type: 'cancelMapping' })}>${t('data.mapping.cancel')}</button>
      </div>
    </section>`;
  }
}
