// The estimate before Start learns from the runs it estimated (issue 22, defect 8): a run's own
// speed, measured from its progress events with the start and pauses left out, corrects the next
// estimate on the same model and engine.
import { describe, expect, it } from 'vitest';
import { SpeedMeter, estimatedSeconds, evalMicros, speedRatio } from '../src/ui/train/estimate.ts';
import type { StepEstimate } from '../src/ui/app/state.ts';

const est = (over: Partial<StepEstimate> = {}): StepEstimate => ({
  key: 'k',
  status: 'done',
  engine: 'cpu',
  batch: 4,
  tokens: 64,
  microMs: 50,
  steps: 10,
  micros: 20,
  ...over,
});

describe('SpeedMeter', () => {
  it('times steps between running events, leaving out the start, pauses and repeated events', () => {
    const m = new SpeedMeter();
    m.record({ step: 0, state: 'running' }, 0); // the run starts
    m.record({ step: 1, state: 'running' }, 5000); // first step: the warm-up (5 s), left out
    m.record({ step: 2, state: 'running' }, 5100);
    expect(m.msPerStep()).toBeUndefined(); // one step says little
    m.record({ step: 2, state: 'running' }, 5400); // a checkpoint event at the same step
    m.record({ step: 3, state: 'running' }, 5500);
    m.record({ step: 3, state: 'paused' }, 6000);
    m.record({ step: 3, state: 'running' }, 60_000); // a minute paused
    m.record({ step: 4, state: 'running' }, 62_000); // the first step after the resume, left out
    m.record({ step: 5, state: 'running' }, 62_300);
    // counted: 1->2 100 ms, 2->3 400 ms, 4->5 300 ms
    expect(m.msPerStep()).toBeCloseTo(800 / 3, 6);
  });
});

describe('the corrected estimate', () => {
  it('is the timed micro-batch times the micro-batches when nothing was measured', () => {
    expect(estimatedSeconds(est(), 'builtin:', undefined)).toEqual({ seconds: 1, corrected: false });
  });

  it('counts the evaluations of the run as forward passes', () => {
    // 10 steps, an evaluation every 4 (steps 4 and 8) and one at the end: 3 passes of 5 rows in 2s
    expect(evalMicros(10, 4, 5, 2)).toBe(9);
    expect(evalMicros(8, 4, 5, 2)).toBe(6); // the end is step 8: no extra pass
    expect(evalMicros(10, 0, 5, 2)).toBe(0);
    expect(evalMicros(10, 4, 0, 2)).toBe(0);
    // 20 micro-batches of 50 ms, 9 forward-only ones at a third of that: 1 s + 0.15 s
    expect(estimatedSeconds(est({ evalMicros: 9 }), 'builtin:', undefined).seconds).toBeCloseTo(1.15, 9);
  });

  it('takes the ratio of a run that was twice as slow as its estimate', () => {
    // estimate: 50 ms x 20 micro-batches / 10 steps = 100 ms per step; the run took 200
    const ratio = speedRatio(200, est())!;
    expect(ratio).toBeCloseTo(2, 9);
    const speed = { model: 'builtin:', engine: 'cpu' as const, ratio };
    expect(estimatedSeconds(est({ micros: 40 }), 'builtin:', speed)).toEqual({ seconds: 4, corrected: true });
    // another model or engine is not corrected by it
    expect(estimatedSeconds(est(), 'hf:Qwen/Qwen3-0.6B', speed).corrected).toBe(false);
    expect(estimatedSeconds(est({ engine: 'webgpu' }), 'builtin:', speed).corrected).toBe(false);
  });

  it('learns nothing from a run without an estimate or a disturbed one', () => {
    expect(speedRatio(200, undefined)).toBeUndefined();
    expect(speedRatio(undefined, est())).toBeUndefined();
    expect(speedRatio(200, est({ status: 'error' }))).toBeUndefined();
    expect(speedRatio(100 * 200, est())).toBeUndefined(); // 200x slower: a sleeping laptop
    expect(speedRatio(100 * 40, est())).toBeCloseTo(40, 9); // 40x: measured on a busy machine, taken
  });
});

describe('the measured speed across a reload', () => {
  it('is saved with the page and brought back', async () => {
    const { sessionOf, restoredPatch } = await import('../src/ui/app/page-session.ts');
    const { initialState } = await import('../src/ui/app/state.ts');
    const speed = { model: 'builtin:', engine: 'cpu' as const, ratio: 2.5 };
    const saved = sessionOf({ ...initialState('en'), measuredSpeed: speed }, undefined);
    expect(JSON.parse(JSON.stringify(saved)).measuredSpeed).toEqual(speed);
    expect(restoredPatch(saved)(initialState('en')).measuredSpeed).toEqual(speed);
    // a session saved before this field keeps what the page has
    const { measuredSpeed: _m, ...old } = saved;
    expect(restoredPatch(old)(initialState('en')).measuredSpeed).toBeUndefined();
  });
});
