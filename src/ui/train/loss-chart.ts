// The live loss curve: train loss per optimizer step and eval loss where it was measured, in
// plain SVG. The x axis spans the whole planned run so progress is visible at a glance.

import { LitElement, css, html, svg, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { linePath, lossDomain, niceTicks, plotScales, type ChartFrame } from '../shared/chart-math.ts';
import { formatLoss, formatNumber, translator, type Lang } from '../shared/i18n.ts';
import type { LossPoint } from '../app/state.ts';
import { chartStyles } from '../shared/styles.ts';

const FRAME: ChartFrame = { W: 640, H: 230, M: { left: 46, right: 14, top: 12, bottom: 30 } };
const { W, H, M } = FRAME;

@customElement('wt-loss-chart')
export class LossChart extends LitElement {
  static override styles = [
    chartStyles,
    css`
    .grid {
      stroke: #e7ebf1;
    }
    .train {
      fill: none;
      stroke: var(--wt-accent);
      stroke-width: 1.8;
    }
    .eval {
      fill: none;
      stroke: #e0892b;
      stroke-width: 1.8;
    }
    .eval-dot {
      fill: #e0892b;
    }
    .legend {
      display: flex;
      gap: 16px;
      font: 12px var(--wt-font);
      color: var(--wt-muted);
      margin-left: ${M.left}px;
    }
    .swatch {
      display: inline-block;
      width: 14px;
      height: 3px;
      vertical-align: middle;
      margin-right: 5px;
    }
    .empty {
      color: var(--wt-muted);
      font: 13px var(--wt-font);
    }
  `,
  ];

  @property({ attribute: false }) losses: LossPoint[] = [];
  @property({ attribute: false }) evalLosses: LossPoint[] = [];
  @property({ type: Number }) totalSteps = 0;
  @property() language: Lang = 'en';
  /** Legend names instead of train / eval loss: two runs' curves overlaid (runs-panel.ts). */
  @property() labels?: [string, string];

  override render() {
    const t = translator(this.language);
    const last = this.losses.at(-1);
    const lastEval = this.evalLosses.at(-1);
    const label = t('train.chartLabel', {
      train: last ? formatLoss(this.language, last.loss) : '–',
      eval: lastEval ? formatLoss(this.language, lastEval.loss) : '–',
    });
    const maxStep = Math.max(1, this.totalSteps, last?.step ?? 0);
    const [lo, hi] = lossDomain([...this.losses, ...this.evalLosses].map((p) => p.loss));
    const { sx, sy } = plotScales(FRAME, [0, maxStep], [lo, hi]);
    const xTicks = niceTicks(0, maxStep, 8).filter(Number.isInteger);
    const yTicks = niceTicks(lo, hi, 5);
    const pts = (ps: LossPoint[]) => ps.map((p) => ({ x: p.step, y: p.loss }));
    return html`<svg viewBox="0 0 ${W} ${H}" role="img" aria-label=${label} data-points=${this.losses.length}>
        ${yTicks.map(
          (v) => svg`<line class="grid" x1=${M.left} x2=${W - M.right} y1=${sy(v)} y2=${sy(v)}></line>
            <text class="tick" x=${M.left - 6} y=${sy(v) + 4} text-anchor="end">${formatLoss(this.language, v)}</text>`,
        )}
        ${xTicks.map((v) => svg`<text class="tick" x=${sx(v)} y=${H - 10} text-anchor="middle">${formatNumber(this.language, v)}</text>`)}
        <path class="train" d=${linePath(pts(this.losses), sx, sy)}></path>
        <path class="eval" d=${linePath(pts(this.evalLosses), sx, sy)}></path>
        ${this.labels ? nothing : this.evalLosses.map((p) => svg`<circle class="eval-dot" cx=${sx(p.step)} cy=${sy(p.loss)} r="3"></circle>`)}
      </svg>
      <div class="legend" aria-hidden="true">
        <span><span class="swatch" style="background:var(--wt-accent)"></span>${this.labels?.[0] ?? t('train.trainLoss')}</span>
        <span><span class="swatch" style="background:#e0892b"></span>${this.labels?.[1] ?? t('train.evalLoss')}</span>
      </div>
      ${this.losses.length === 0 ? html`<p class="empty">${t('train.chartEmpty')}</p>` : nothing}`;
  }
}
