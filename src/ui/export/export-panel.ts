// Screen 6: the four downloads, each with what it is for.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { emit } from '../app/actions.ts';
import { translator, type MessageKey } from '../shared/i18n.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

const KINDS: { kind: keyof AppState['exports']; title: MessageKey; help: MessageKey }[] = [
  { kind: 'peft', title: 'export.peft', help: 'export.peft.help' },
  { kind: 'merged', title: 'export.merged', help: 'export.merged.help' },
  { kind: 'gguf', title: 'export.gguf', help: 'export.gguf.help' },
  { kind: 'job', title: 'export.job', help: 'export.job.help' },
];

@customElement('wt-export-panel')
export class ExportPanel extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .card {
        display: flex;
        flex-direction: column;
        margin: 0;
      }
      .card p {
        flex: 1;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  override render() {
    const s = this.state;
    const t = translator(s.lang);
    const st = s.training.state;
    const blocked = s.model.status !== 'ready' || st === 'running' || st === 'paused' || st === 'starting';
    return html`<h2>${t('export.title')}</h2>
      <p class="lead">${t('export.help')}</p>
      ${s.model.status !== 'ready' ? html`<p class="notice">${t('export.needModel')}</p>` : !s.training.trained ? html`<p class="notice">${t('export.notTrained')}</p>` : nothing}
      <div class="columns">
        ${KINDS.map(({ kind, title, help }) => {
          const e = s.exports[kind];
          return html`<section class="card" aria-labelledby=${`x-${kind}`}>
            <h3 id=${`x-${kind}`}>${t(title)}</h3>
            <p class="muted small">${t(help)}</p>
            <div class="row">
              <button class="primary" data-export=${kind} ?disabled=${blocked || e.busy} @click=${() => emit(this, { type: 'export', kind })}>
                ${e.busy ? t('export.working') : t('export.download')}
              </button>
              ${e.files ? html`<span class="ok small" role="status">✓ ${t('export.done', { files: e.files.join(', ') })}</span>` : nothing}
            </div>
            ${e.error ? html`<p class="error" role="alert">${t('export.failed', { message: e.error })}</p>` : nothing}
          </section>`;
        })}
      </div>`;
  }
}
