// Screen 5: one message, two answers streaming side by side: the base model and the tuned one.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { emit } from '../app/actions.ts';
import { translator, type Translate } from '../shared/i18n.ts';
import type { AppState, ChatSide } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';
import { commonInstruct, visibleWhitespace } from './chat-prefix.ts';

@customElement('wt-chat-panel')
export class ChatPanel extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .answer {
        min-height: 120px;
        max-height: 360px;
        overflow: auto;
        white-space: pre-wrap;
        word-break: break-word;
        font-family: var(--wt-mono);
        font-size: 13px;
        background: #fbfcfe;
        border: 1px solid var(--wt-border);
        border-radius: 8px;
        padding: 10px;
      }
      .compose {
        display: grid;
        grid-template-columns: minmax(0, 1fr) auto;
        gap: 10px;
        align-items: end;
      }
      .opts label {
        font-weight: 400;
      }
      .opts input {
        width: 80px;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  private side(t: Translate, which: 'base' | 'tuned', v: ChatSide) {
    const title = which === 'base' ? t('chat.base') : t('chat.tuned');
    return html`<section class="card" aria-labelledby=${`${which}-h`}>
      <div class="row" style="justify-content:space-between">
        <h3 id=${`${which}-h`}>${title}</h3>
        <span class="muted small">${v.tokens ? t('chat.tokens', { count: v.tokens }) : ''}</span>
      </div>
      <div class="answer" data-testid=${`answer-${which}`} aria-live="polite" aria-busy=${v.busy}>${this.answer(t, v)}</div>
      ${v.error ? html`<p class="error" role="alert">${t('chat.failed', { message: v.error })}</p>` : nothing}
    </section>`;
  }

  /** The answer as text; one of only whitespace shows its line breaks and spaces, and says so. */
  private answer(t: Translate, v: ChatSide) {
    const ws = visibleWhitespace(v.text);
    if (ws)
      return html`<span class="muted">${t('chat.whitespace', { count: ws.breaks, spaces: ws.spaces })}</span>
${ws.shown}`;
    return v.text || (v.busy ? t('chat.waiting') : v.tokens ? t('chat.emptyAnswer') : t('chat.empty'));
  }

  /** What goes before the typed text: the system prompt and, when on, the training rows' instruction. */
  private sentAs(t: Translate) {
    const s = this.state;
    const instruct = commonInstruct(s.dataset?.rows);
    const on = instruct && s.chat.instruct !== false;
    return html`<p class="small muted" data-testid="chat-prefix" style="margin:0 0 6px">
      ${t('chat.prefix', { system: s.systemPrompt })} ${on ? t('chat.prefixInstruct', { instruct }) : t('chat.prefixNone')}
      ${
        instruct
          ? html`<label style="font-weight:400;margin-left:6px"
            ><input type="checkbox" data-field="instruct" .checked=${!!on} @change=${(e: Event) => emit(this, { type: 'setChat', patch: { instruct: (e.target as HTMLInputElement).checked } })} />
            ${t('chat.addInstruct')}</label
          >`
          : nothing
      }
    </p>`;
  }

  private send(e: Event) {
    e.preventDefault();
    emit(this, { type: 'sendChat' });
  }

  override render() {
    const s = this.state;
    const t = translator(s.lang);
    const c = s.chat;
    const st = s.training.state;
    const busy = c.base.busy || c.tuned.busy;
    const blocked = s.model.status !== 'ready' || st === 'running' || st === 'paused' || st === 'starting';
    return html`<h2>${t('chat.title')}</h2>
      <section class="card">
        <form class="compose" @submit=${this.send}>
          <div>
            ${this.sentAs(t)}
            <label for="prompt">${t('chat.prompt')}</label>
            <textarea
              id="prompt"
              rows="2"
              placeholder=${t('chat.placeholder')}
              .value=${c.prompt}
              @change=${(e: Event) => emit(this, { type: 'setChat', patch: { prompt: (e.target as HTMLTextAreaElement).value } })}
              @keydown=${(e: KeyboardEvent) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  (e.target as HTMLTextAreaElement).dispatchEvent(new Event('change'));
                  this.send(e);
                }
              }}
            ></textarea>
          </div>
          <button class="primary" type="submit" ?disabled=${blocked || busy || !c.prompt.trim()}>${t('chat.send')}</button>
        </form>
        <div class="row opts small" style="margin-top:8px">
          <label
            >${t('chat.maxTokens')}
            <input type="number" min="1" max="1024" .value=${String(c.maxNewTokens)} @change=${(e: Event) => emit(this, { type: 'setChat', patch: { maxNewTokens: Math.max(1, Number((e.target as HTMLInputElement).value) || 1) } })}
          /></label>
          <label
            >${t('chat.temperature')}
            <input type="number" min="0" max="2" step="0.1" .value=${String(c.temperature)} @change=${(e: Event) => emit(this, { type: 'setChat', patch: { temperature: Math.max(0, Number((e.target as HTMLInputElement).value) || 0) } })}
          /></label>
          ${
            s.schema.applied
              ? html`<label><input type="checkbox" data-field="constrained" .checked=${!!c.constrained}
                  @change=${(e: Event) => emit(this, { type: 'setChat', patch: { constrained: (e.target as HTMLInputElement).checked } })} />
                ${t('chat.constrained')}</label>`
              : nothing
          }
        </div>
        ${s.model.status !== 'ready' ? html`<p class="notice">${t('chat.needModel')}</p>` : nothing}
      </section>
      <div class="grid2" style="align-items:start">${this.side(t, 'base', c.base)} ${this.side(t, 'tuned', c.tuned)}</div>`;
  }
}
