// The browser flows' checks on the app's numbers (e2e/lib-checks.mjs), each against the input
// its old check let through: a loss that barely moves (the chart's axis rescales to the data, so
// in pixels it fell), a WebGPU loss history that is empty (comparing each of its zero steps
// passed), a one-row evaluation at 0% (its right + wrong = rows whatever the model does).
import { describe, expect, it } from 'vitest';
import { evalReportProblem, lossFallProblem, sameLossesProblem } from '../e2e/lib-checks.mjs';
import { lossDomain } from '../src/ui/shared/chart-math.ts';

/** The old app-flow check: first and last quarter of the drawn points, in pixels (y down), 10 px apart. */
function oldPixelCheckPasses(losses: number[], height = 200): boolean {
  const [lo, hi] = lossDomain(losses);
  const y = (l: number) => height - ((l - lo) / (hi - lo)) * height;
  const k = Math.max(1, Math.floor(losses.length / 4));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return mean(losses.slice(-k).map(y)) > mean(losses.slice(0, k).map(y)) + 10;
}

describe('the loss falls (e2e/app-flow.mjs)', () => {
  it('a curve that barely moves passed in pixels and fails on the numbers', () => {
    const flat = [11.93, 11.931, 11.929, 11.928];
    expect(oldPixelCheckPasses(flat)).toBe(true);
    expect(lossFallProblem(flat)).toMatch(/should fall by 10% at least/);
  });
  it('a rising, empty, single-step or NaN history fails; a real fall passes', () => {
    expect(lossFallProblem([2, 2.5, 3, 3.5])).toMatch(/should fall/);
    expect(lossFallProblem([])).toMatch(/at least 2 steps/);
    expect(lossFallProblem([3])).toMatch(/at least 2 steps/);
    expect(lossFallProblem([3, NaN, 1, 1])).toMatch(/non-finite/);
    expect(lossFallProblem([11.9, 10.2, 8.1, 6.5])).toBeUndefined();
    // the last quarter against the first: noise in between does not decide
    expect(lossFallProblem([5, 5.2, 4.8, 5.1, 4, 4.3, 3.9, 3.2])).toBeUndefined();
  });
});

describe('WebGPU and CPU train the same losses (e2e/io-browser.ts)', () => {
  it('an empty WebGPU history passed the old per-step comparison and fails now', () => {
    const cpu = [3.1, 2.9, 2.7];
    const oldPasses = ([] as number[]).every((v, i) => Math.abs(v - cpu[i]) <= 1e-3 * Math.abs(cpu[i]));
    expect(oldPasses).toBe(true);
    expect(sameLossesProblem([], cpu, 3)).toMatch(/should hold 3 steps: got 0/);
  });
  it('a short or differing history fails; the same losses pass', () => {
    expect(sameLossesProblem([3.1, 2.9], [3.1, 2.9, 2.7], 3)).toMatch(/got 2, reference 3/);
    expect(sameLossesProblem([3.1, 2.9, 2.8], [3.1, 2.9, 2.7], 3)).toMatch(/step 3/);
    expect(sameLossesProblem([], [], 0)).toMatch(/should have steps/);
    expect(sameLossesProblem([3.1, 2.9001, 2.7], [3.1, 2.9, 2.7], 3)).toBeUndefined();
  });
});

describe('an evaluation report that can be wrong (e2e/app-flow.mjs)', () => {
  it('one row at 0% passed the old check and fails now', () => {
    expect(evalReportProblem(1, '0%', 1)).toMatch(/1 row\(s\) proves nothing/);
  });
  it('counts must add up to the rows', () => {
    expect(evalReportProblem(4, '50%', 2)).toBeUndefined();
    expect(evalReportProblem(4, '50%', 1)).toMatch(/should be the 4 rows/);
    expect(evalReportProblem(3, '33.3%', 2)).toBeUndefined();
    expect(evalReportProblem(4, '40%', 2)).toMatch(/not a whole number/);
    expect(evalReportProblem(4, 'n/a', 2)).toMatch(/percentage/);
  });
});

describe('a machine without python3 (e2e/app-isolation.mjs)', () => {
  it('the static host fails to start with a missing-tool error instead of an unhandled event', async () => {
    // @ts-expect-error plain JS flow module, no types
    const { pythonServer } = await import('../e2e/app-isolation.mjs');
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(pythonServer('.')).rejects.toMatchObject({
        missingTool: true,
        message: expect.stringMatching(/python3 -m http.server could not start/),
      });
    } finally {
      process.env.PATH = path;
    }
  });
});
