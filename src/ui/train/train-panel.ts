// Screen 3: the run first (Start, the time it will take, the live curve, tokens/s, ETA, pause,
// resume, stop), then the hyperparameters (train-form.ts). The run's controls keep one element
// for the main action, so the focus stays on it as Start turns into Pause and Pause into Resume.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { emit, type Action } from '../app/actions.ts';
import '../shared/error-box.ts';
import {
  formatDuration,
  formatLoss,
  formatNumber,
  formatRelativeTime,
  formatScientific,
  translator,
  type Translate,
} from '../shared/i18n.ts';
import './loss-chart.ts';
import { stepCount } from '../../train/recipe.ts';
import { runKeyOf } from './run-key.ts';
import { estimatedSeconds } from './estimate.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';
import { fieldSpec, type NumericField } from './train-fields.ts';
import './train-form.ts';

const ACTIVE = ['running', 'paused', 'pausing', 'starting'];

/**
 * The saved or stopped run when it was made with other settings or data than the current ones:
 * Start cannot continue it, and its steps are not the plan's.
 */
export function otherRun(s: AppState): { step: number; totalSteps: number } | undefined {
  const tr = s.training;
  if (ACTIVE.includes(tr.state) || tr.runKey === undefined || tr.runKey === runKeyOf(s)) return undefined;
  const p = tr.progress ?? tr.checkpoint;
  return p && 'totalSteps' in p ? { step: p.step, totalSteps: p.totalSteps } : undefined;
}

@customElement('wt-train-panel')
export class TrainPanel extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .layout {
        --wt-left: 1.15fr;
      }
      .state {
        font-weight: 600;
      }
      .controls button.primary {
        min-width: 9em;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  private get running(): boolean {
    const st = this.state.training.state;
    return st === 'running' || st === 'paused' || st === 'starting' || st === 'pausing';
  }

  /** Fields typed out of range, by label: Start waits for them. */
  private blockers(t: Translate): string[] {
    return (Object.keys(this.state.trainErrors) as NumericField[]).map((k) => t(fieldSpec(k)!.label));
  }

  /** The main button: one element whose action follows the run's state. */
  private primary(t: Translate): { action: string; label: string; send?: Action; disabled: boolean } {
    const s = this.state;
    const st = s.training.state;
    // A continue-with-control sequence owns the engine between its runs (evaluate/loop-control.ts).
    const ready = s.model.status === 'ready' && !!s.dataset && this.blockers(t).length === 0 && !s.controlPhase;
    switch (st) {
      case 'running':
        return { action: 'pause', label: t('train.pause'), send: { type: 'pauseTraining' }, disabled: false };
      case 'pausing':
        return { action: 'pause', label: t('train.state.pausing'), disabled: true };
      case 'paused':
        return { action: 'resume', label: t('train.resume'), send: { type: 'resumeTraining' }, disabled: false };
      case 'starting':
        return { action: 'start', label: t('train.state.starting'), disabled: true };
      case 'done':
        return {
          action: 'restart',
          label: t('train.restart'),
          send: { type: 'startTraining', fresh: true },
          disabled: !ready,
        };
      default:
        return {
          action: 'start',
          label: this.resumable() ? t('train.resume') : t('train.start'),
          send: { type: 'startTraining', fresh: false },
          disabled: !ready,
        };
    }
  }

  /** A saved run of these settings and data that Start continues. */
  private resumable(): boolean {
    const s = this.state;
    const st = s.training.state;
    if (otherRun(s)) return false;
    return (!!s.training.checkpoint && (st === 'idle' || st === 'error')) || st === 'stopped';
  }

  private controls(t: Translate) {
    const s = this.state;
    const st = s.training.state;
    const p = this.primary(t);
    const blockers = this.blockers(t);
    return html`<div class="row controls" role="group" aria-label=${t('train.title')}>
        <button
          class="primary"
          data-action=${p.action}
          aria-disabled=${p.disabled ? 'true' : 'false'}
          ?disabled=${p.disabled && p.action === 'start' && st !== 'starting'}
          @click=${() => !p.disabled && p.send && emit(this, p.send)}
        >
          ${p.label}
        </button>
        ${
          st === 'running' || st === 'paused' || st === 'pausing'
            ? html`<button data-action="stop" @click=${() => emit(this, { type: 'stopTraining' })}>${t('train.stop')}</button>`
            : nothing
        }
        ${
          this.resumable()
            ? html`<button data-action="restart" ?disabled=${p.disabled} @click=${() => emit(this, { type: 'startTraining', fresh: true })}>${t('train.restart')}</button>`
            : nothing
        }
        <span class="state" data-testid="train-state" aria-live="polite">${st === 'idle' && this.resumable() ? t('train.state.saved') : t(`train.state.${st}`)}</span>
      </div>
      ${blockers.length ? html`<p class="small error" data-testid="start-blocked">${t('train.blocked', { fields: blockers.join(', ') })}</p>` : nothing}`;
  }

  private estimate(t: Translate) {
    const s = this.state;
    const e = s.estimate;
    if (!e || this.running || (s.training.state === 'done' && !otherRun(s))) return nothing;
    const engine = e.engine === 'webgpu' ? 'WebGPU' : 'CPU';
    const model = s.model.summary ? s.model.summary.sourceKey || s.model.summary.name : undefined;
    const { seconds, corrected } = estimatedSeconds(e, model, s.measuredSpeed);
    const text =
      e.status === 'done' && e.microMs !== undefined
        ? t(corrected ? 'train.estimateMeasured' : 'train.estimate', {
            time: formatDuration(s.lang, seconds),
            steps: e.steps,
            engine,
            batch: e.batch,
            tokens: e.tokens,
            ms: `${formatNumber(s.lang, e.microMs, 0)} ms`,
          })
        : e.status === 'measuring'
          ? t('train.estimating', { engine })
          : '';
    return text ? html`<p class="small" data-testid="train-estimate">${text}</p>` : nothing;
  }

  private stats(t: Translate, first: boolean) {
    const s = this.state;
    const p = s.training.progress;
    const lang = s.lang;
    const lastEval = s.training.evalLosses.at(-1);
    const live = s.training.state === 'running';
    const stat = (label: string, value: string, id: string) =>
      html`<div class="stat"><div class="label">${label}</div><div class="value" data-testid=${id}>${value}</div></div>`;
    return html`<div class="stats" style="margin:10px 0">
      ${stat(t('train.loss'), p && !first && Number.isFinite(p.loss) ? formatLoss(lang, p.loss) : '–', 'stat-loss')}
      ${stat(t('train.evalLoss'), lastEval ? formatLoss(lang, lastEval.loss) : '–', 'stat-eval')}
      ${stat(t('train.tokensPerSec'), p?.tokensPerSec && !first ? formatNumber(lang, p.tokensPerSec) : '–', 'stat-tps')}
      ${stat(t('train.eta'), first && live ? t('train.measuring') : p && live ? formatDuration(lang, p.etaSec) : '–', 'stat-eta')}
      ${stat(t('train.lrNow'), p?.lr && !first ? formatScientific(lang, p.lr) : '–', 'stat-lr')}
      ${stat(t('train.gradNorm'), p && !first && Number.isFinite(p.gradNorm) ? formatLoss(lang, p.gradNorm) : '–', 'stat-grad')}
    </div>`;
  }

  private notices(t: Translate) {
    const s = this.state;
    const tr = s.training;
    const lw = s.model.loadedWith;
    const sizeChanged =
      s.model.status === 'ready' && lw && (lw.batch !== s.train.batchSize || lw.seq !== s.train.maxLength);
    const when = (at: number) => formatRelativeTime(s.lang, at, Date.now());
    const other = otherRun(s);
    return html`${
      sizeChanged && !this.running
        ? html`<div class="notice" data-testid="reload-needed">
            ${t('train.reloadNeeded', { loadedBatch: lw!.batch, loadedSeq: lw!.seq, batch: s.train.batchSize, seq: s.train.maxLength })}
            <div style="margin-top:6px"><button class="small" @click=${() => emit(this, { type: 'loadModel' })}>${t('train.reloadNow')}</button></div>
          </div>`
        : nothing
    }
      ${
        tr.state === 'done' && !other
          ? html`<p class="notice" data-testid="next-evaluate">${t('train.next')}
            <button class="small primary" data-action="go-eval" @click=${() => emit(this, { type: 'go', screen: 'eval' })}>${t('train.goEval')}</button></p>`
          : nothing
      }
      ${
        tr.checkpoint && tr.state === 'idle' && !other
          ? html`<p class="notice" data-testid="checkpoint-found">
            ${t('train.checkpointFound', {
              step: tr.checkpoint.step,
              total: tr.checkpoint.totalSteps,
              when: when(tr.checkpoint.savedAt),
              rows: formatNumber(s.lang, tr.checkpoint.identity?.rows ?? s.splitCounts.train),
              lr: s.train.lr,
              epochs: s.train.epochs,
            })}
          </p>`
          : nothing
      }
      ${
        other
          ? html`<p class="notice" data-testid="checkpoint-other">${t('train.checkpointOther', { step: other.step, total: other.totalSteps })}</p>`
          : nothing
      }
      ${tr.skipped ? html`<p class="notice" data-testid="train-skipped">${t('train.skipped', { count: tr.skipped, max: s.train.maxLength })}</p>` : nothing}
      ${tr.resumedFrom !== undefined ? html`<p class="notice" data-testid="resumed">${t('train.resumedFrom', { step: tr.resumedFrom })}</p>` : nothing}`;
  }

  private runCard(t: Translate) {
    const s = this.state;
    const tr = s.training;
    const rows = s.splitCounts.train;
    const planned = stepCount(rows, s.train).totalSteps;
    // Counters belong to one run: the one in progress or the one Start continues, else the plan.
    const p = otherRun(s) ? undefined : tr.progress;
    const total = p?.totalSteps ?? planned;
    const done = p?.step ?? 0;
    const first = (tr.state === 'running' || tr.state === 'starting') && done === (tr.resumedFrom ?? 0);
    const stepText =
      first && tr.state === 'running' ? t('train.firstStep', { total }) : t('train.step', { step: done, total });
    return html`<section class="card" aria-labelledby="run-h">
      <h3 id="run-h">${t('train.title')}</h3>
      ${s.model.status !== 'ready' ? html`<p class="notice">${t('train.needModel')}</p>` : !s.dataset ? html`<p class="notice">${t('train.needData')}</p>` : nothing}
      ${this.controls(t)} ${this.estimate(t)}
      <p class="small muted" style="margin-top:8px" data-testid="steps-planned">
        ${t('train.stepsPlanned', { steps: planned, rows, epochs: s.train.epochs, batch: s.train.batchSize, accum: s.train.gradAccum })}
      </p>
      ${this.notices(t)}
      <wt-error .error=${tr.error} language=${s.lang}></wt-error>
      <div class="row small" style="justify-content:space-between">
        <span data-testid="train-step">${stepText}</span>
        <span>${t('train.epoch', { epoch: formatNumber(s.lang, p?.epoch ?? 0, 2), total: s.train.epochs })}</span>
      </div>
      <progress max=${Math.max(1, total)} .value=${done} aria-label=${stepText}></progress>
      <wt-loss-chart .losses=${p ? tr.losses : []} .evalLosses=${p ? tr.evalLosses : []} totalSteps=${total} language=${s.lang}></wt-loss-chart>
      ${this.stats(t, first)}
      ${tr.checkpointSavedAt !== undefined ? html`<p class="muted small">${t('train.checkpointSaved', { step: tr.checkpointSavedAt })}</p>` : nothing}
      ${
        tr.checkpointFailed
          ? html`<p class="small" role="alert" data-testid="checkpoint-failed">${t('train.checkpointNoSpace', { step: tr.checkpointFailed.step, mib: (tr.checkpointFailed.bytes / 2 ** 20).toFixed(1) })}
            <button class="small" data-action="export-now" @click=${() => emit(this, { type: 'export', kind: 'peft' })}>${t('train.exportNow')}</button></p>`
          : nothing
      }
    </section>`;
  }

  override render() {
    const t = translator(this.state.lang);
    return html`<h2>${t('train.title')}</h2>
      <div class="layout">
        <div>${this.runCard(t)}</div>
        <div><wt-train-form .state=${this.state} ?locked=${this.running}></wt-train-form></div>
      </div>`;
  }
}
