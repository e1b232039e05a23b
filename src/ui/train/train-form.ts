// The Train step's settings: every hyperparameter with its help and allowed range. A value out
// of range stays as typed with its error under the field (the controller keeps it out of the
// recipe); Restore defaults brings back the model's preset.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { live } from 'lit/directives/live.js';
import { LORA_TARGETS, type LoraTarget } from '../../core/config.ts';
import type { Recipe } from '../../train/recipe.ts';
import { emit } from '../app/actions.ts';
import { translator, type Translate } from '../shared/i18n.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';
import { FIELDS, type FieldSpec } from './train-fields.ts';
import { SCHEDULES } from '../../train/settings-spec.ts';

@customElement('wt-train-form')
export class TrainForm extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .fields {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(min(100%, 200px), 1fr));
        gap: 10px 16px;
      }
      .field {
        display: grid;
        grid-template-rows: auto auto 1fr;
        gap: 3px;
        align-content: start;
        min-width: 0;
      }
      .field input,
      .field select {
        width: 100%;
      }
      .field input[aria-invalid='true'] {
        border-color: #c0392b;
        background: #fdf2f2;
      }
      .field .help {
        color: var(--wt-muted);
        font-size: 12px;
        line-height: 1.35;
      }
      .field .invalid {
        color: #8a1c1c;
        font-size: 12px;
        font-weight: 500;
      }
      fieldset {
        border: none;
        padding: 0;
        margin: 12px 0 0;
        min-width: 0;
      }
      legend {
        font-weight: 500;
        padding: 0;
      }
      .targets label {
        font-weight: 400;
        margin-right: 10px;
        white-space: nowrap;
        display: inline-block;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;
  @property({ type: Boolean }) locked = false;

  /**
   * The value is bound without live(): a re-render while the user types (the estimate, progress)
   * must not put the old value back; the field changes only when the value it shows changes.
   */
  private field(t: Translate, f: FieldSpec) {
    const id = `f-${f.key}`;
    const err = this.state.trainErrors[f.key];
    return html`<div class="field">
      <label for=${id}>${t(f.label)}</label>
      <input
        id=${id}
        name=${f.key}
        type="number"
        inputmode="decimal"
        min=${f.min}
        max=${f.max ?? ''}
        step=${f.step}
        .value=${err ? err.raw : String(this.state.train[f.key])}
        ?disabled=${this.locked}
        aria-invalid=${err ? 'true' : 'false'}
        aria-describedby=${err ? `${id}-error ${id}-help` : `${id}-help`}
        @change=${(e: Event) => emit(this, { type: 'setTrainField', key: f.key, raw: (e.target as HTMLInputElement).value })}
      />
      ${err ? html`<div class="invalid" id=${`${id}-error`} role="alert">${err.messages.map((m) => t(m.key, m.params)).join(' ')}</div>` : nothing}
      <div class="help" id=${`${id}-help`}>${t(f.help)}</div>
    </div>`;
  }

  private toggleTarget(target: LoraTarget, on: boolean) {
    const current = this.state.train.targets;
    const targets = LORA_TARGETS.filter((x) => (x === target ? on : current.includes(x)));
    if (targets.length) emit(this, { type: 'setTrain', patch: { targets } });
    else this.requestUpdate();
  }

  override render() {
    const t = translator(this.state.lang);
    const tr = this.state.train;
    return html`<section class="card" aria-labelledby="hyper-h">
      <div class="row" style="justify-content:space-between;margin-bottom:8px">
        <h3 id="hyper-h" style="margin:0">${t('train.hyper')}</h3>
        <button class="small" ?disabled=${this.locked} @click=${() => emit(this, { type: 'resetTrain' })}>${t('train.reset')}</button>
      </div>
      <div class="fields">
        ${FIELDS.map((f) => this.field(t, f))}
        <div class="field">
          <label for="f-schedule">${t('train.schedule')}</label>
          <select
            id="f-schedule"
            ?disabled=${this.locked}
            aria-describedby="f-schedule-help"
            @change=${(e: Event) => emit(this, { type: 'setTrain', patch: { schedule: (e.target as HTMLSelectElement).value as Recipe['schedule'] } })}
          >
            ${SCHEDULES.map((k) => html`<option value=${k} ?selected=${tr.schedule === k}>${t(`train.schedule.${k}`)}</option>`)}
          </select>
          <div class="help" id="f-schedule-help">${t('train.schedule.help')}</div>
        </div>
      </div>
      <fieldset class="targets" aria-describedby="targets-help">
        <legend>${t('train.targets')}</legend>
        ${LORA_TARGETS.map(
          (k) => html`<label
            ><input type="checkbox" .checked=${live(tr.targets.includes(k))} ?disabled=${this.locked} @change=${(e: Event) => this.toggleTarget(k, (e.target as HTMLInputElement).checked)} />
            <code>${k}</code></label
          >`,
        )}
        <div class="help muted small" id="targets-help">${t('train.targets.help')}</div>
      </fieldset>
    </section>`;
  }
}
