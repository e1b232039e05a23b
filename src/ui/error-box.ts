// An error where it happened: the localized sentence, then the typed error's own detail
// (file, line, tensor), announced to screen readers.

import { LitElement, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { emit } from './actions.ts';
import { translate, type Lang } from './i18n.ts';
import type { UiError } from './state.ts';
import { panelStyles } from './styles.ts';

/** Download failures another source or mirror can get around. */
const WAY_OUT = ['network', 'cors', 'not-found', 'http'];

@customElement('wt-error')
export class ErrorBox extends LitElement {
  static override styles = panelStyles;
  @property({ attribute: false }) error?: UiError;
  @property() language: Lang = 'en';

  override render() {
    const e = this.error;
    if (!e) return nothing;
    // The sentence names the step ("Training failed: …"); the detail is the typed error's own
    // message, which says which file, line or tensor.
    return html`<div class="error" role="alert" aria-label=${translate(this.language, `error.where.${e.where}`)}>
      <div class="row" style="justify-content: space-between; flex-wrap: nowrap; align-items: flex-start">
        <span>
          ${translate(this.language, e.key, { message: e.net ? translate(this.language, `net.${e.net.kind}`, { file: e.net.file }) : e.detail, example: 'Qwen/Qwen2.5-0.5B-Instruct' })}
          ${e.net && e.where === 'model' && WAY_OUT.includes(e.net.kind) ? html`<div data-testid="model-offline">${translate(this.language, e.via === 'modelscope' ? 'model.offline.modelscope' : 'model.offline')}</div>` : nothing}
          ${e.net ? html`<details><summary>${translate(this.language, 'net.details')}</summary>${e.detail}</details>` : nothing}
        </span>
        <button class="small" @click=${() => emit(this, { type: 'dismissError', where: e.where })}>${translate(this.language, 'error.dismiss')}</button>
      </div>
    </div>`;
  }
}
