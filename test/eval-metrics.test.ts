// Expected scores below are counted by hand from the rows, not produced by the code under test.
import { describe, expect, it } from 'vitest';
import { canonicalJson, scorePredictions, type Prediction } from '../src/eval/metrics.ts';

const call = (tool_name: string, parameters: Record<string, unknown> = {}) => ({ tool_name, parameters });

const rows: Prediction[] = [
  // 0: exact, surrounded by whitespace
  {
    expected: call('INSTANT_MEETING', { meeting_name: '汇报会' }),
    generated: '  {"tool_name":"INSTANT_MEETING","parameters":{"meeting_name":"汇报会"}}\n',
  },
  // 1: missing parameter
  {
    expected: call('INSTANT_MEETING', { meeting_name: '周会' }),
    generated: '{"tool_name":"INSTANT_MEETING","parameters":{}}',
  },
  // 2: extra parameter
  {
    expected: call('SCHEDULE_MEETING', { meeting_name: '评审会', time: '明天下午三点' }),
    generated:
      '{"tool_name":"SCHEDULE_MEETING","parameters":{"meeting_name":"评审会","time":"明天下午三点","room":"A1"}}',
  },
  // 3: wrong intent
  { expected: call('END_MEETING'), generated: '{"tool_name":"MUTE_MICROPHONE","parameters":{}}' },
  // 4: not JSON at all
  { expected: call('MUTE_MICROPHONE'), generated: '好的，已静音' },
  // 5: JSON followed by text is invalid
  {
    expected: call('INVITE_PARTICIPANT', { name: '张三' }),
    generated: '{"tool_name":"INVITE_PARTICIPANT","parameters":{"name":"张三"}} 谢谢',
  },
  // 6: the number 3 is not the string "3"
  { expected: call('SET_VOLUME', { level: 3 }), generated: '{"tool_name":"SET_VOLUME","parameters":{"level":"3"}}' },
  // 7, 8: free text
  { expected: '你好', generated: ' 你好\n' },
  { expected: '再见', generated: '拜拜' },
  // 9: exact with keys in another order
  {
    expected: call('SCHEDULE_MEETING', { meeting_name: '周会', time: '周五' }),
    generated: '{"parameters":{"time":"周五","meeting_name":"周会"},"tool_name":"SCHEDULE_MEETING"}',
  },
];

describe('scorePredictions', () => {
  const r = scorePredictions(rows);

  it('counts rows by kind', () => {
    expect([r.rows, r.toolRows, r.textRows]).toEqual([10, 8, 2]);
  });

  it('scores tool rows overall', () => {
    const t = r.tool!;
    expect(t.intentAccuracy).toBeCloseTo(5 / 8, 12); // rows 0,1,2,6,9
    expect(t.exactMatch).toBeCloseTo(2 / 8, 12); // rows 0,9
    expect(t.invalidJsonRate).toBeCloseTo(2 / 8, 12); // rows 4,5
    // hits 1+0+2+0+0+0+0+2, predicted 1+0+3+0+0+0+1+2, gold 1+1+2+0+0+1+1+2
    expect(t.slots).toEqual({ hits: 5, predicted: 7, gold: 8 });
    expect(t.slotPrecision).toBeCloseTo(5 / 7, 12);
    expect(t.slotRecall).toBeCloseTo(5 / 8, 12);
    expect(t.slotF1).toBeCloseTo(2 / 3, 12); // 2*5 / (7+8)
  });

  it('scores text rows and overall accuracy', () => {
    expect(r.textExactMatch).toBeCloseTo(1 / 2, 12);
    expect(r.accuracy).toBeCloseTo(3 / 10, 12); // two exact calls + one exact text
  });

  it('scores each intent', () => {
    expect(Object.keys(r.perIntent)).toEqual([
      'END_MEETING',
      'INSTANT_MEETING',
      'INVITE_PARTICIPANT',
      'MUTE_MICROPHONE',
      'SCHEDULE_MEETING',
      'SET_VOLUME',
    ]);
    const im = r.perIntent.INSTANT_MEETING;
    expect([im.rows, im.intentAccuracy, im.exactMatch, im.invalidJsonRate]).toEqual([2, 1, 0.5, 0]);
    expect([im.slotPrecision, im.slotRecall]).toEqual([1, 0.5]);
    expect(im.slotF1).toBeCloseTo(2 / 3, 12);
    const sm = r.perIntent.SCHEDULE_MEETING; // hits 4, predicted 5, gold 4
    expect([sm.slotPrecision, sm.slotRecall, sm.exactMatch]).toEqual([0.8, 1, 0.5]);
    expect(sm.slotF1).toBeCloseTo(8 / 9, 12);
    const end = r.perIntent.END_MEETING; // no slots anywhere: nothing to get wrong
    expect([end.intentAccuracy, end.slotPrecision, end.slotRecall, end.slotF1]).toEqual([0, 1, 1, 1]);
    expect(r.perIntent.MUTE_MICROPHONE.invalidJsonRate).toBe(1);
    const inv = r.perIntent.INVITE_PARTICIPANT; // expected a slot, predicted none
    expect([inv.invalidJsonRate, inv.slotPrecision, inv.slotRecall, inv.slotF1]).toEqual([1, 0, 0, 0]);
    const vol = r.perIntent.SET_VOLUME;
    expect([vol.intentAccuracy, vol.slotPrecision, vol.slotRecall, vol.exactMatch]).toEqual([1, 0, 0, 0]);
  });

  it('lists every wrong answer beside the expected one', () => {
    expect(r.wrong.map((w) => [w.index, w.reason])).toEqual([
      [1, 'wrong-slots'],
      [2, 'wrong-slots'],
      [3, 'wrong-intent'],
      [4, 'invalid-json'],
      [5, 'invalid-json'],
      [6, 'wrong-slots'],
      [8, 'wrong-text'],
    ]);
    expect(r.wrong[0].expected).toBe('{"tool_name":"INSTANT_MEETING","parameters":{"meeting_name":"周会"}}');
    expect(r.wrong[0].generated).toBe('{"tool_name":"INSTANT_MEETING","parameters":{}}');
    expect(r.wrong[6]).toMatchObject({ expected: '再见', generated: '拜拜' });
  });

  it('scores JSON that is not a call as a wrong intent, and extra top-level keys as a wrong call', () => {
    const s = scorePredictions([
      { expected: call('END_MEETING'), generated: '"END_MEETING"' },
      { expected: call('END_MEETING'), generated: '{"tool_name":"END_MEETING","parameters":{},"note":"x"}' },
      { expected: call('END_MEETING'), generated: '{"tool_name":"END_MEETING"}' }, // absent parameters = {}
    ]);
    expect(s.tool!.invalidJsonRate).toBe(0);
    expect(s.tool!.intentAccuracy).toBeCloseTo(2 / 3, 12);
    expect(s.tool!.exactMatch).toBeCloseTo(1 / 3, 12);
    expect(s.wrong.map((w) => w.reason)).toEqual(['wrong-intent', 'wrong-call']);
  });

  it('handles an empty list and text-only lists', () => {
    expect(scorePredictions([])).toMatchObject({ rows: 0, accuracy: 0, tool: undefined, textExactMatch: undefined });
    expect(scorePredictions([{ expected: 'a', generated: 'a' }]).accuracy).toBe(1);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps types apart', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, '1'], c: null } })).toBe('{"a":{"c":null,"d":[1,"1"]},"b":1}');
  });
});

describe('intents without slots', () => {
  it('are marked as having nothing to score, and the CLI report prints a dash, not 100%', async () => {
    const { formatReport } = await import('../src/eval/report.ts');
    const { noSlotsToScore } = await import('../src/eval/metrics.ts');
    const end = { tool_name: 'END_MEETING', parameters: {} };
    const r = scorePredictions([{ expected: end, generated: '{"tool_name":' }]);
    const g = r.perIntent.END_MEETING;
    expect(g.invalidJsonRate).toBe(1);
    expect(noSlotsToScore(g)).toBe(true);
    const line = formatReport(r)
      .split('\n')
      .find((l) => l.startsWith('END_MEETING'))!;
    // columns: intent, rows, intent acc, slot P, slot R, slot F1, exact, bad JSON
    expect(line.trim().split(/\s+/)).toEqual(['END_MEETING', '1', '0.0%', '-', '-', '-', '0.0%', '100.0%']);
    const withSlots = scorePredictions([
      { expected: { tool_name: 'X', parameters: { a: 1 } }, generated: '{"tool_name":"X","parameters":{}}' },
    ]);
    expect(noSlotsToScore(withSlots.perIntent.X)).toBe(false);
  });
});
