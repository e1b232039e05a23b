// Screen 3: hyperparameters (the PEFT recipe's defaults, each explained), then the run: loss
// curve, step/epoch, tokens/s, ETA, with pause, resume and stop.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { LORA_TARGETS, type LoraTarget } from '../core/config.ts';
import { emit } from './actions.ts';
import './error-box.ts';
import { formatDuration, formatLoss, formatNumber, formatRelativeTime, formatScientific, translator, type MessageKey, type Translate } from './i18n.ts';
import './loss-chart.ts';
import { stepCount, type Recipe } from '../train/recipe.ts';
import type { AppState } from './state.ts';
import { panelStyles } from './styles.ts';

type NumericField = { [K in keyof Recipe]: Recipe[K] extends number ? K : never }[keyof Recipe];

interface FieldSpec {
  key: NumericField;
  label: MessageKey;
  help: MessageKey;
  min: number;
  max?: number;
  step: number | 'any';
  integer: boolean;
}

const FIELDS: FieldSpec[] = [
  { key: 'r', label: 'train.r', help: 'train.r.help', min: 1, max: 256, step: 1, integer: true },
  { key: 'alpha', label: 'train.alpha', help: 'train.alpha.help', min: 0, step: 'any', integer: false },
  { key: 'dropout', label: 'train.dropout', help: 'train.dropout.help', min: 0, max: 0.9, step: 0.05, integer: false },
  { key: 'batchSize', label: 'train.batch', help: 'train.batch.help', min: 1, max: 256, step: 1, integer: true },
  { key: 'gradAccum', label: 'train.accum', help: 'train.accum.help', min: 1, max: 256, step: 1, integer: true },
  { key: 'lr', label: 'train.lr', help: 'train.lr.help', min: 0, step: 'any', integer: false },
  { key: 'epochs', label: 'train.epochs', help: 'train.epochs.help', min: 1, max: 1000, step: 1, integer: true },
  { key: 'maxLength', label: 'train.maxLength', help: 'train.maxLength.help', min: 8, max: 32768, step: 1, integer: true },
  { key: 'warmupSteps', label: 'train.warmup', help: 'train.warmup.help', min: 0, step: 1, integer: true },
  { key: 'weightDecay', label: 'train.weightDecay', help: 'train.weightDecay.help', min: 0, step: 'any', integer: false },
  { key: 'maxGradNorm', label: 'train.maxGradNorm', help: 'train.maxGradNorm.help', min: 0, step: 'any', integer: false },
  { key: 'seed', label: 'train.seed', help: 'train.seed.help', min: 0, step: 1, integer: true },
  { key: 'evalEvery', label: 'train.evalEvery', help: 'train.evalEvery.help', min: 0, step: 1, integer: true },
];

@customElement('wt-train-panel')
export class TrainPanel extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .fields {
        --wt-gap: 10px 16px;
      }
      .field {
        display: grid;
        grid-template-rows: auto auto 1fr;
        gap: 3px;
        align-content: start;
      }
      .field input,
      .field select {
        width: 100%;
      }
      .field .help {
        color: var(--wt-muted);
        font-size: 12px;
        line-height: 1.35;
      }
      fieldset {
        border: none;
        padding: 0;
        margin: 12px 0 0;
      }
      legend {
        font-weight: 500;
        padding: 0;
      }
      .targets label {
        font-weight: 400;
        margin-right: 10px;
        white-space: nowrap;
      }
      .layout {
        --wt-right: 1.15fr;
      }
      .state {
        font-weight: 600;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  private get running(): boolean {
    const st = this.state.training.state;
    return st === 'running' || st === 'paused' || st === 'starting';
  }

  private setField(f: FieldSpec, input: HTMLInputElement) {
    const v = Number(input.value);
    const ok = input.value.trim() !== '' && Number.isFinite(v) && v >= f.min && (f.max === undefined || v <= f.max) && (!f.integer || Number.isInteger(v));
    input.setCustomValidity(ok ? '' : `${f.min}${f.max !== undefined ? `–${f.max}` : '+'}`);
    input.reportValidity();
    if (ok) emit(this, { type: 'setTrain', patch: { [f.key]: v } });
  }

  private field(t: Translate, f: FieldSpec) {
    const id = `f-${f.key}`;
    return html`<div class="field">
      <label for=${id}>${t(f.label)}</label>
      <input
        id=${id}
        name=${f.key}
        type="number"
        min=${f.min}
        max=${f.max ?? ''}
        step=${f.step}
        .value=${String(this.state.train[f.key])}
        ?disabled=${this.running}
        aria-describedby=${`${id}-help`}
        @change=${(e: Event) => this.setField(f, e.target as HTMLInputElement)}
      />
      <div class="help" id=${`${id}-help`}>${t(f.help)}</div>
    </div>`;
  }

  private toggleTarget(target: LoraTarget, on: boolean) {
    const current = this.state.train.targets;
    const targets = LORA_TARGETS.filter((x) => (x === target ? on : current.includes(x)));
    if (targets.length) emit(this, { type: 'setTrain', patch: { targets } });
    else this.requestUpdate();
  }

  private settingsCard(t: Translate) {
    const tr = this.state.train;
    return html`<section class="card" aria-labelledby="hyper-h">
      <div class="row" style="justify-content:space-between;margin-bottom:8px">
        <h3 id="hyper-h" style="margin:0">${t('train.hyper')}</h3>
        <button class="small" ?disabled=${this.running} @click=${() => emit(this, { type: 'resetTrain' })}>${t('train.reset')}</button>
      </div>
      <div class="columns fields">
        ${FIELDS.map((f) => this.field(t, f))}
        <div class="field">
          <label for="f-schedule">${t('train.schedule')}</label>
          <select
            id="f-schedule"
            ?disabled=${this.running}
            aria-describedby="f-schedule-help"
            @change=${(e: Event) => emit(this, { type: 'setTrain', patch: { schedule: (e.target as HTMLSelectElement).value as Recipe['schedule'] } })}
          >
            ${(['linear', 'cosine', 'constant'] as const).map((k) => html`<option value=${k} ?selected=${tr.schedule === k}>${t(`train.schedule.${k}`)}</option>`)}
          </select>
          <div class="help" id="f-schedule-help">${t('train.schedule.help')}</div>
        </div>
      </div>
      <fieldset class="targets" aria-describedby="targets-help">
        <legend>${t('train.targets')}</legend>
        ${LORA_TARGETS.map(
          (k) => html`<label
            ><input type="checkbox" .checked=${tr.targets.includes(k)} ?disabled=${this.running} @change=${(e: Event) => this.toggleTarget(k, (e.target as HTMLInputElement).checked)} />
            <code>${k}</code></label
          >`,
        )}
        <div class="help muted small" id="targets-help">${t('train.targets.help')}</div>
      </fieldset>
    </section>`;
  }

  private controls(t: Translate) {
    const s = this.state;
    const st = s.training.state;
    const ready = s.model.status === 'ready' && !!s.dataset;
    // A stopped run keeps its checkpoint in the worker, so Start continues it as after a reload.
    const resumable = (!!s.training.checkpoint && (st === 'idle' || st === 'error')) || st === 'stopped';
    return html`<div class="row" role="group" aria-label=${t('train.title')}>
      ${st === 'done'
        ? nothing
        : st === 'running'
        ? html`<button data-action="pause" @click=${() => emit(this, { type: 'pauseTraining' })}>${t('train.pause')}</button>`
        : st === 'paused'
          ? html`<button class="primary" data-action="resume" @click=${() => emit(this, { type: 'resumeTraining' })}>${t('train.resume')}</button>`
          : html`<button class="primary" data-action="start" ?disabled=${!ready || st === 'starting'} @click=${() => emit(this, { type: 'startTraining', fresh: false })}>
              ${resumable ? t('train.resume') : t('train.start')}
            </button>`}
      ${st === 'running' || st === 'paused' ? html`<button data-action="stop" @click=${() => emit(this, { type: 'stopTraining' })}>${t('train.stop')}</button>` : nothing}
      ${resumable || st === 'done'
        ? html`<button data-action="restart" class=${st === 'done' ? 'primary' : ''} ?disabled=${!ready} @click=${() => emit(this, { type: 'startTraining', fresh: true })}>${t('train.restart')}</button>`
        : nothing}
      <span class="state" data-testid="train-state" aria-live="polite">${t(`train.state.${st}`)}</span>
    </div>`;
  }

  private stats(t: Translate) {
    const s = this.state;
    const p = s.training.progress;
    const lang = s.lang;
    const lastEval = s.training.evalLosses.at(-1);
    const stat = (label: string, value: string, id: string) =>
      html`<div class="stat"><div class="label">${label}</div><div class="value" data-testid=${id}>${value}</div></div>`;
    return html`<div class="stats" style="margin:10px 0">
      ${stat(t('train.loss'), p && Number.isFinite(p.loss) ? formatLoss(lang, p.loss) : '–', 'stat-loss')}
      ${stat(t('train.evalLoss'), lastEval ? formatLoss(lang, lastEval.loss) : '–', 'stat-eval')}
      ${stat(t('train.tokensPerSec'), p?.tokensPerSec ? formatNumber(lang, p.tokensPerSec) : '–', 'stat-tps')}
      ${stat(t('train.eta'), p && s.training.state === 'running' ? formatDuration(lang, p.etaSec) : '–', 'stat-eta')}
      ${stat(t('train.lrNow'), p?.lr ? formatScientific(lang, p.lr) : '–', 'stat-lr')}
      ${stat(t('train.gradNorm'), p && Number.isFinite(p.gradNorm) ? formatLoss(lang, p.gradNorm) : '–', 'stat-grad')}
    </div>`;
  }

  private runCard(t: Translate) {
    const s = this.state;
    const tr = s.training;
    const p = tr.progress;
    const rows = s.splitCounts.train;
    const planned = stepCount(rows, s.train).totalSteps;
    const total = p?.totalSteps ?? planned;
    return html`<section class="card" aria-labelledby="run-h">
      <h3 id="run-h">${t('train.title')}</h3>
      ${s.model.status !== 'ready' ? html`<p class="notice">${t('train.needModel')}</p>` : !s.dataset ? html`<p class="notice">${t('train.needData')}</p>` : nothing}
      ${this.controls(t)}
      <p class="small muted" style="margin-top:8px">
        ${t('train.stepsPlanned', { steps: planned, rows, epochs: s.train.epochs, batch: s.train.batchSize, accum: s.train.gradAccum })}
      </p>
      ${tr.checkpoint && tr.state === 'idle'
        ? html`<p class="notice" data-testid="checkpoint-found">
            ${t('train.checkpointFound', {
              step: tr.checkpoint.step,
              total: tr.checkpoint.totalSteps,
              when: formatRelativeTime(s.lang, tr.checkpoint.savedAt, Date.now()),
              rows: formatNumber(s.lang, tr.checkpoint.identity?.rows ?? s.splitCounts.train),
              lr: s.train.lr,
              epochs: s.train.epochs,
            })}
          </p>`
        : nothing}
      ${tr.skipped ? html`<p class="notice" data-testid="train-skipped">${t('train.skipped', { count: tr.skipped, max: s.train.maxLength })}</p>` : nothing}
      ${tr.resumedFrom !== undefined ? html`<p class="notice" data-testid="resumed">${t('train.resumedFrom', { step: tr.resumedFrom })}</p>` : nothing}
      <wt-error .error=${tr.error} language=${s.lang}></wt-error>
      <div class="row small" style="justify-content:space-between">
        <span data-testid="train-step">${t('train.step', { step: p?.step ?? 0, total })}</span>
        <span>${t('train.epoch', { epoch: formatNumber(s.lang, p?.epoch ?? 0, 2), total: s.train.epochs })}</span>
      </div>
      <progress max=${Math.max(1, total)} .value=${p?.step ?? 0} aria-label=${t('train.step', { step: p?.step ?? 0, total })}></progress>
      <wt-loss-chart .losses=${tr.losses} .evalLosses=${tr.evalLosses} totalSteps=${total} language=${s.lang}></wt-loss-chart>
      ${this.stats(t)}
      ${tr.checkpointSavedAt !== undefined ? html`<p class="muted small">${t('train.checkpointSaved', { step: tr.checkpointSavedAt })}</p>` : nothing}
    </section>`;
  }

  override render() {
    const t = translator(this.state.lang);
    return html`<h2>${t('train.title')}</h2>
      <div class="layout">
        <div>${this.settingsCard(t)}</div>
        <div>${this.runCard(t)}</div>
      </div>`;
  }
}
