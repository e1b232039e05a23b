// The page shell: header with language and engine, the six steps as a side navigation, and the
// current step's panel. The only element that knows the controller; panels get plain state.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { ACTION_EVENT, type Action } from './actions.ts';
import '../playground/chat-panel.ts';
import type { Controller } from './controller.ts';
import '../data/data-panel.ts';
import '../evaluate/eval-panel.ts';
import '../export/export-panel.ts';
import { LANGS, translator, type Translate } from '../shared/i18n.ts';
import { headerEngine } from '../model/engine-view.ts';
import '../model/model-panel.ts';
import { SCREENS, type AppState, type Screen } from './state.ts';
import { StoreController } from './page-store.ts';
import { panelStyles } from '../shared/styles.ts';
import '../train/train-panel.ts';

/** The element with the focus, looking into shadow roots. */
function deepFocus(): HTMLElement | undefined {
  let a: Element | null = document.activeElement;
  while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
  return a instanceof HTMLElement ? a : undefined;
}

@customElement('webtune-app')
export class WebtuneApp extends LitElement {
  static override styles = [
    panelStyles,
    css`
      :host {
        display: grid;
        /* minmax(0, …): the engine badge's one long line must not widen the page. */
        grid-template-columns: minmax(0, 1fr);
        grid-template-rows: auto 1fr;
        min-height: 100vh;
      }
      header {
        position: sticky;
        top: 0;
        z-index: 2;
        height: 50px;
        display: flex;
        align-items: center;
        gap: 16px;
        padding: 10px 20px;
        background: var(--wt-header);
        color: #fff;
      }
      header h1 {
        font-size: 18px;
        margin: 0;
        letter-spacing: 0.2px;
      }
      header .tag {
        color: #b8c4d9;
        font-size: 13px;
        flex: 1;
        /* the tagline gives way first: the engine badge is what tells the user something */
        min-width: 0;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      header select {
        background: #24324a;
        color: #fff;
        border-color: #3b4c69;
      }
      header label {
        font-weight: 400;
        color: #b8c4d9;
        font-size: 13px;
      }
      .engine {
        font-size: 12px;
        border: 1px solid #3b4c69;
        border-radius: 999px;
        padding: 2px 10px;
        color: #dbe4f3;
        flex: 0 1 auto;
        max-width: 50%;
        min-width: 0;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      .body {
        display: grid;
        grid-template-columns: 190px minmax(0, 1fr);
      }
      nav {
        position: sticky;
        top: 50px;
        align-self: start;
        height: calc(100vh - 50px);
        border-right: 1px solid var(--wt-border);
        padding: 16px 10px;
        background: var(--wt-surface);
      }
      nav ol {
        list-style: none;
        padding: 0;
        margin: 0;
        counter-reset: step;
      }
      nav button {
        display: flex;
        align-items: center;
        gap: 10px;
        width: 100%;
        text-align: left;
        border: none;
        background: none;
        padding: 8px 10px;
        margin-bottom: 2px;
        border-radius: 8px;
        color: var(--wt-text);
      }
      nav button[aria-current='step'] {
        background: #e6edfb;
        color: var(--wt-accent-dark);
        font-weight: 600;
      }
      .num {
        display: inline-grid;
        place-items: center;
        width: 22px;
        height: 22px;
        border-radius: 50%;
        border: 1.5px solid var(--wt-border-strong);
        font-size: 12px;
        font-weight: 600;
        flex: none;
      }
      button[aria-current='step'] .num {
        border-color: var(--wt-accent);
      }
      .num.done {
        background: var(--wt-ok);
        border-color: var(--wt-ok);
        color: #fff;
      }
      main {
        outline: none;
        padding: 18px 24px 40px;
        min-width: 0;
        background: var(--wt-bg);
      }
      /* A phone: the header wraps, the steps become a compact bar under it (numbers, and the
         current step's name), the content takes the whole width. */
      @media (max-width: 720px) {
        header {
          position: static;
          height: auto;
          flex-wrap: wrap;
          gap: 6px 10px;
          padding: 8px 12px;
        }
        header .tag,
        header label {
          display: none;
        }
        .engine {
          order: 3;
          max-width: 100%;
          flex: 1 1 100%;
        }
        header select {
          margin-left: auto;
        }
        .body {
          grid-template-columns: minmax(0, 1fr);
        }
        nav {
          position: sticky;
          top: 0;
          z-index: 1;
          height: auto;
          padding: 6px 8px;
          border-right: none;
          border-bottom: 1px solid var(--wt-border);
        }
        nav ol {
          display: flex;
          gap: 2px;
          justify-content: space-between;
        }
        nav button {
          width: auto;
          padding: 6px;
          margin: 0;
          white-space: nowrap;
        }
        nav button:not([aria-current='step']) .label {
          display: none;
        }
        main {
          padding: 12px 10px 32px;
        }
      }
    `,
  ];

  @property({ attribute: false }) controller!: Controller;
  private store?: StoreController;

  override connectedCallback(): void {
    super.connectedCallback();
    this.store ??= new StoreController(this, this.controller.store);
    this.addEventListener(ACTION_EVENT, (e: CustomEvent<Action>) => {
      e.stopPropagation();
      void this.controller.handle(e.detail);
    });
  }

  private shownScreen?: Screen;

  /** A new step's content is announced from its top, as a new page would be. */
  override updated(): void {
    const s = this.controller.store.state;
    if (this.shownScreen !== undefined && s.screen !== this.shownScreen)
      this.renderRoot.querySelector<HTMLElement>('main')?.focus();
    this.shownScreen = s.screen;
    // A question the user must answer takes the focus; answered, the focus goes back where it was.
    if (s.confirmLoad && !this.asked) {
      this.asked = deepFocus();
      this.renderRoot.querySelector<HTMLElement>('[data-action="confirm-replace"]')?.focus();
    } else if (!s.confirmLoad && this.asked) {
      const back = this.asked;
      this.asked = undefined;
      if (back.isConnected) back.focus();
    }
  }

  private asked?: HTMLElement;

  private done(s: AppState, screen: Screen): boolean {
    // What was done with a model is gone with it: no ticks after it failed to load or while another loads.
    if (screen !== 'data' && s.model.status !== 'ready') return false;
    switch (screen) {
      case 'model':
        return s.model.status === 'ready';
      case 'data':
        return !!s.dataset;
      case 'train':
        return s.training.trained;
      case 'eval':
        return !!s.evaluation.report;
      case 'chat':
        return !!s.chat.tuned.text;
      case 'export':
        return Object.values(s.exports).some((e) => e.files);
    }
  }

  private panel(s: AppState) {
    switch (s.screen) {
      case 'model':
        return html`<wt-model-panel .state=${s}></wt-model-panel>`;
      case 'data':
        return html`<wt-data-panel .state=${s}></wt-data-panel>`;
      case 'train':
        return html`<wt-train-panel .state=${s}></wt-train-panel>`;
      case 'eval':
        return html`<wt-eval-panel .state=${s}></wt-eval-panel>`;
      case 'chat':
        return html`<wt-chat-panel .state=${s}></wt-chat-panel>`;
      case 'export':
        return html`<wt-export-panel .state=${s}></wt-export-panel>`;
    }
  }

  /** The engine that runs (or would run): its name, and why in the tooltip. */
  private engineBadge(t: Translate, s: AppState) {
    const e = headerEngine(t, s);
    return e ? html`<span class="engine" data-testid="engine-badge" title=${e.title}>${e.text}</span>` : nothing;
  }

  override render() {
    const s = this.controller.store.state;
    const t = translator(s.lang);
    return html`<header>
        <h1>${t('app.title')}</h1>
        <span class="tag">${t('app.tagline')}</span>
        ${this.engineBadge(t, s)}
        <label for="lang">${t('app.language')}</label>
        <select id="lang" @change=${(e: Event) => this.controller.handle({ type: 'setLang', lang: (e.target as HTMLSelectElement).value as 'en' | 'zh' })}>
          ${LANGS.map((l) => html`<option value=${l} ?selected=${s.lang === l}>${l === 'zh' ? '中文' : 'English'}</option>`)}
        </select>
      </header>
      <div class="body">
        <nav aria-label=${t('app.steps')}>
          <ol>
            ${SCREENS.map(
              (screen, i) => html`<li>
                <button aria-current=${s.screen === screen ? 'step' : 'false'} data-screen=${screen} aria-label=${t(`screen.${screen}`)} @click=${() => this.controller.handle({ type: 'go', screen })}>
                  <span class="num ${this.done(s, screen) ? 'done' : ''}" aria-hidden="true">${this.done(s, screen) ? '✓' : i + 1}</span>
                  <span class="label">${t(`screen.${screen}`)}</span>
                </button>
              </li>`,
            )}
          </ol>
        </nav>
        <main tabindex="-1">
          ${s.workerError ? html`<p class="error" role="alert">${t('app.workerFailed', { message: s.workerError })}</p>` : nothing}
          ${
            s.confirmLoad
              ? html`<div class="notice" role="alertdialog" aria-labelledby="confirm-load-text" data-testid="confirm-replace">
                <p id="confirm-load-text">${t('model.confirmReplace', { steps: s.confirmLoad.steps })}</p>
                <div class="row">
                  <button class="primary" data-action="confirm-replace" @click=${() => this.controller.handle({ type: 'loadModel', confirmed: true })}>${t('model.confirmLoad')}</button>
                  <button data-action="cancel-replace" @click=${() => this.controller.handle({ type: 'cancelReplace' })}>${t('model.cancelReplace')}</button>
                </div>
              </div>`
              : nothing
          }
          ${this.panel(s)}
        </main>
      </div>`;
  }
}
