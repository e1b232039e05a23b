// Every wrong answer of one decoding next to the expected one, each turned into a training row
// in one click: "Correct" (edit the answer, the expected one to start with) or "Accept" (the
// generated answer was right and becomes the label).

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { EvalReport } from '../../eval/metrics.ts';
import { emit } from '../app/actions.ts';
import { translator } from '../shared/i18n.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

@customElement('wt-wrong-answers')
export class WrongAnswers extends LitElement {
  static override styles = [
    panelStyles,
    css`
      td.mono {
        white-space: pre-wrap;
        overflow-wrap: anywhere;
        overflow: hidden;
      }
      .wrong {
        max-height: 380px;
        overflow: auto;
      }
      /* A runaway answer wraps inside its column instead of pushing the buttons out of view. */
      table {
        table-layout: fixed;
        width: 100%;
      }
      col.input {
        width: 24%;
      }
      col.actions {
        width: 180px;
      }
      textarea {
        width: 100%;
        font-family: var(--wt-mono);
        font-size: 12px;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;
  @property({ attribute: false }) report?: EvalReport;
  @property() decoding: 'free' | 'constrained' = 'free';
  /** The row being corrected and its draft answer. */
  @state() private editing?: { index: number; text: string };

  override render() {
    const t = translator(this.state.lang);
    const r = this.report;
    if (!r) return nothing;
    const ev = this.state.evaluation;
    // A continue-with-control sequence measures both its runs on these rows: none may move meanwhile.
    const locked = ev.busy || !!this.state.controlPhase;
    if (r.wrong.length === 0) return html`<p class="ok">${t('eval.noneWrong')}</p>`;
    const moved = ev.movedOut?.length ?? 0;
    return html`<div class="wrong">
      ${moved ? html`<p class="notice small" data-testid="eval-shrank">${t('eval.shrank', { count: moved })}</p>` : nothing}
      <table class="stack" data-testid="wrong-answers" data-decoding=${this.decoding}>
        <colgroup><col class="input" /><col /><col /><col class="actions" /></colgroup>
        <thead>
          <tr>
            <th>${t('eval.col.input')}</th>
            <th>${t('eval.col.expected')}</th>
            <th>${t('eval.col.got')}</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${r.wrong.map((w) => {
            const done = ev.added.includes(`${this.decoding}:${w.index}`);
            const open = this.editing?.index === w.index;
            return html`<tr data-index=${w.index}>
              <td data-label=${t('eval.col.input')}>${ev.inputs[w.index] ?? ''}</td>
              <td class="mono" data-label=${t('eval.col.expected')}>${w.expected}</td>
              <td class="mono" data-label=${t('eval.col.got')}>${w.generated}</td>
              <td>
                ${
                  done
                    ? html`<span class="ok small">${t((ev.movedOut ?? []).includes(`${this.decoding}:${w.index}`) ? 'eval.movedOut' : 'eval.sibling')}</span>`
                    : open
                      ? html`<textarea rows="3" aria-label=${t('eval.correctLabel', { index: w.index + 1 })} .value=${this.editing!.text}
                          @input=${(e: Event) => (this.editing = { index: w.index, text: (e.target as HTMLTextAreaElement).value })}></textarea>
                        <button class="small primary" data-action="add-corrected" ?disabled=${locked}
                          @click=${() => {
                            emit(this, {
                              type: 'correctAnswer',
                              decoding: this.decoding,
                              index: w.index,
                              answer: this.editing!.text,
                            });
                            this.editing = undefined;
                          }}>${t('eval.addCorrected')}</button>`
                      : html`<div class="row" style="flex-wrap:nowrap">
                        <button class="small" data-action="correct" ?disabled=${locked} @click=${() => (this.editing = { index: w.index, text: w.expected })}>${t('eval.correct')}</button>
                        <button class="small" data-action="accept" title=${t('eval.acceptTitle')} ?disabled=${locked}
                          @click=${() => emit(this, { type: 'acceptAnswer', decoding: this.decoding, index: w.index })}>${t('eval.accept')}</button>
                      </div>`
                }
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>`;
  }
}
