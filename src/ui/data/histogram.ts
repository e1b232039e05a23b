// Token lengths of the training examples as bars, with the max length as a red line: what lies
// right of it gets truncated.

import { LitElement, css, html, svg } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { histogramBins, niceTicks, plotScales, type ChartFrame } from '../shared/chart-math.ts';
import { formatNumber, type Lang } from '../shared/i18n.ts';
import { chartStyles } from '../shared/styles.ts';

const FRAME: ChartFrame = { W: 560, H: 170, M: { left: 36, right: 10, top: 10, bottom: 26 } };
const { W, H, M } = FRAME;

@customElement('wt-histogram')
export class Histogram extends LitElement {
  static override styles = [
    chartStyles,
    css`
    svg {
      max-width: ${W}px;
    }
    .bar {
      fill: var(--wt-accent);
      opacity: 0.75;
    }
    .bar.over {
      fill: #d64545;
    }
    .axis {
      stroke: var(--wt-border-strong);
    }
    .max {
      stroke: #d64545;
      stroke-width: 1.5;
      stroke-dasharray: 4 3;
    }
  `,
  ];

  @property({ attribute: false }) lengths: number[] = [];
  @property({ type: Number }) max = 384;
  @property() language: Lang = 'en';
  @property() label = '';

  override render() {
    const bins = histogramBins(this.lengths, this.max);
    const top = bins.at(-1)!.to;
    const peak = bins.reduce((m, b) => Math.max(m, b.count), 1);
    const { sx, sy } = plotScales(FRAME, [0, top], [0, peak]);
    const xTicks = niceTicks(0, top, 7);
    const yTicks = niceTicks(0, peak, 4).filter((v) => Number.isInteger(v));
    return html`<svg viewBox="0 0 ${W} ${H}" role="img" aria-label=${this.label}>
      ${bins.map(
        (
          b,
        ) => svg`<rect class="bar ${b.from >= this.max ? 'over' : ''}" x=${sx(b.from) + 0.5} width=${Math.max(0.5, sx(b.to) - sx(b.from) - 1)}
          y=${sy(b.count)} height=${sy(0) - sy(b.count)}><title>${b.from}–${b.to - 1}: ${b.count}</title></rect>`,
      )}
      <line class="axis" x1=${M.left} x2=${W - M.right} y1=${sy(0)} y2=${sy(0)}></line>
      ${xTicks.map((v) => svg`<text class="tick" x=${sx(v)} y=${H - 8} text-anchor="middle">${formatNumber(this.language, v)}</text>`)}
      ${yTicks.map((v) => svg`<text class="tick" x=${M.left - 6} y=${sy(v) + 4} text-anchor="end">${formatNumber(this.language, v)}</text>`)}
      <line class="max" x1=${sx(this.max)} x2=${sx(this.max)} y1=${M.top} y2=${sy(0)}></line>
    </svg>`;
  }
}
