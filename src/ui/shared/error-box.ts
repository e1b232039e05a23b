// An error where it happened: the localized sentence, then the typed error's own detail
// (file, line, tensor), announced to screen readers.

import { LitElement, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { emit } from '../app/actions.ts';
import { translate, type Lang } from './i18n.ts';
import { wayOutKey, type UiError } from '../app/state.ts';
import { panelStyles } from './styles.ts';

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
          ${wayOutKey(e) ? html`<div data-testid="model-offline">${translate(this.language, wayOutKey(e)!)}</div>` : nothing}
          ${e.net ? html`<details><summary>${translate(this.language, 'net.details')}</summary>${e.detail}</details>` : nothing}
        </span>
        <button class="small" @click=${() => emit(this, { type: 'dismissError', where: e.where })}>${translate(this.language, 'error.dismiss')}</button>
      </div>
    </div>`;
  }
}
