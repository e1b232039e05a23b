import { describe, expect, it } from 'vitest';
import { histogramBins, linePath, linearScale, lossDomain, niceTicks } from '../src/ui/shared/chart-math.ts';

describe('niceTicks', () => {
  it('labels a loss axis in round steps', () => {
    expect(niceTicks(0, 10, 6)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(2.13, 9.07, 5)).toEqual([4, 6, 8]);
    expect(niceTicks(0.3, 0.72, 5)).toEqual([0.3, 0.4, 0.5, 0.6, 0.7]);
    expect(niceTicks(1, 1)).toEqual([1]);
  });
  it('counts steps in integers when the run is short', () => {
    expect(niceTicks(1, 4, 5)).toEqual([1, 2, 3, 4]);
  });
});

describe('linePath', () => {
  it('maps data to pixels, y growing downwards', () => {
    const sx = linearScale([0, 10], [0, 100]);
    const sy = linearScale([0, 1], [50, 0]);
    expect(
      linePath(
        [
          { x: 0, y: 0 },
          { x: 5, y: 0.5 },
          { x: 10, y: 1 },
        ],
        sx,
        sy,
      ),
    ).toBe('M0,50L50,25L100,0');
  });
  it('breaks the line at a non-finite loss', () => {
    const s = linearScale([0, 1], [0, 1]);
    expect(
      linePath(
        [
          { x: 0, y: 0 },
          { x: 0.5, y: NaN },
          { x: 1, y: 1 },
        ],
        s,
        s,
      ),
    ).toBe('M0,0M1,1');
  });
});

describe('lossDomain', () => {
  it('pads 5% around the values', () => {
    expect(lossDomain([2, 4])).toEqual([1.9, 4.1]);
  });
  it('never goes below zero and survives a flat or empty series', () => {
    expect(lossDomain([0.01, 10])[0]).toBe(0);
    expect(lossDomain([3, 3])).toEqual([2.45, 3.55]);
    expect(lossDomain([NaN])).toEqual([0, 1]);
  });
});

describe('histogramBins', () => {
  it('counts each length once, in bins of equal width up to the max length', () => {
    const bins = histogramBins([0, 3, 4, 9, 10, 11], 11, 4);
    // top 11 -> 12 values in 4 bins of width 3: [0,3) [3,6) [6,9) [9,12)
    expect(bins).toEqual([
      { from: 0, to: 3, count: 1 },
      { from: 3, to: 6, count: 2 },
      { from: 6, to: 9, count: 0 },
      { from: 9, to: 12, count: 3 },
    ]);
  });
  it('extends past the max length when examples are longer', () => {
    const bins = histogramBins([50, 130], 100, 10);
    expect(bins.at(-1)!.to).toBeGreaterThan(130);
    expect(bins.reduce((a, b) => a + b.count, 0)).toBe(2);
  });
});
