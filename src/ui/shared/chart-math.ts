// Geometry for the two small charts (loss curve, token-length histogram), kept apart from the
// components so the numbers can be checked without a browser.

export interface Point {
  x: number;
  y: number;
}

/** The finest ticks at 1, 2 or 5 times a power of ten that stay within maxTicks, as a person would label an axis. */
export function niceTicks(min: number, max: number, maxTicks = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) return [min];
  const eps = 1e-9;
  let power = 10 ** Math.floor(Math.log10((max - min) / maxTicks));
  for (;;) {
    for (const m of [1, 2, 5]) {
      const step = m * power;
      const first = Math.ceil(min / step - eps);
      const last = Math.floor(max / step + eps);
      if (last - first + 1 <= maxTicks) {
        const ticks: number[] = [];
        for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
        return ticks;
      }
    }
    power *= 10;
  }
}

export interface LinearScale {
  (v: number): number;
  domain: [number, number];
  range: [number, number];
}

export function linearScale(domain: [number, number], range: [number, number]): LinearScale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  const f = ((v: number) => r0 + ((v - d0) / span) * (r1 - r0)) as LinearScale;
  f.domain = domain;
  f.range = range;
  return f;
}

/** An SVG chart's size and the margins around its plot area (axis labels go in the margins). */
export interface ChartFrame {
  W: number;
  H: number;
  M: { left: number; right: number; top: number; bottom: number };
}

/** Scales from data to the frame's plot area: x left to right, y bottom to top. */
export function plotScales(
  f: ChartFrame,
  x: [number, number],
  y: [number, number],
): { sx: LinearScale; sy: LinearScale } {
  return { sx: linearScale(x, [f.M.left, f.W - f.M.right]), sy: linearScale(y, [f.H - f.M.bottom, f.M.top]) };
}

/** SVG path through the points in order; non-finite values break the line instead of drawing to NaN. */
export function linePath(points: Point[], sx: (v: number) => number, sy: (v: number) => number): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${round(sx(p.x))},${round(sy(p.y))}`;
    pen = true;
  }
  return d;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

/** Loss y-range: from the lowest to the highest finite value, padded so the line never touches the frame. */
export function lossDomain(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  // A loop, not a spread into Math.min: a long run has more points than a call takes arguments.
  let lo = finite.reduce((a, b) => Math.min(a, b), Infinity);
  let hi = finite.reduce((a, b) => Math.max(a, b), -Infinity);
  if (hi - lo < 1e-6) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.05;
  return [Math.max(0, lo - pad), hi + pad];
}

export interface HistogramBin {
  from: number; // inclusive
  to: number; // exclusive
  count: number;
}

/**
 * Equal-width bins from 0 to max(longest, maxLength), so the max-length marker always lies on
 * the axis and lengths beyond it stand out on its right.
 */
export function histogramBins(lengths: number[], maxLength: number, binCount = 24): HistogramBin[] {
  const top = lengths.reduce((a, b) => Math.max(a, b), Math.max(maxLength, 1));
  const width = Math.max(1, Math.ceil((top + 1) / binCount));
  const n = Math.ceil((top + 1) / width);
  const bins: HistogramBin[] = Array.from({ length: n }, (_, i) => ({
    from: i * width,
    to: (i + 1) * width,
    count: 0,
  }));
  for (const len of lengths) bins[Math.min(n - 1, Math.floor(len / width))].count++;
  return bins;
}
