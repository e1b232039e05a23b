// evaluateRows' own work: prompts in, stop tokens cut, answers decoded and scored. The engine is
// a scripted stand-in whose answers are chosen here, so the expected scores are known by hand.
import { describe, expect, it } from 'vitest';
import type { GenerateOptions } from '../src/engine/engine.ts';
import { describeSkippedEval, evaluateRows, type EvalRow } from '../src/eval/evaluate.ts';

const STOP = [90, 91];
// "Tokens" are character codes; the prompt's first code picks the scripted answer.
const answers: Record<string, string> = {
  a: '{"tool_name":"END_MEETING","parameters":{}}',
  b: '{"tool_name":"MUTE_MICROPHONE","parameters":{}}',
  c: 'hello',
};
const engine = {
  prompts: [] as string[],
  options: [] as GenerateOptions[],
  async generate(prompt: Int32Array, opts: GenerateOptions) {
    const p = String.fromCharCode(...prompt);
    this.prompts.push(p);
    this.options.push(opts);
    const text = answers[p[0]];
    return {
      tokens: Int32Array.from([...[...text].map((ch) => ch.charCodeAt(0)), STOP[0]]),
      margins: new Float32Array(text.length + 1),
    };
  },
  batches: [] as number[],
  async generateBatch(prompts: Int32Array[], opts: GenerateOptions) {
    this.batches.push(prompts.length);
    return Promise.all(prompts.map((p) => this.generate(p, opts)));
  },
};

describe('evaluateRows', () => {
  it('generates greedily for each prompt, cuts the stop token, and scores the answers', async () => {
    const rows: EvalRow[] = [
      {
        user: 'a1',
        answer: '{"tool_name":"END_MEETING","parameters":{}}',
        expected: { tool_name: 'END_MEETING', parameters: {} },
      },
      {
        user: 'b1',
        answer: '{"tool_name":"END_MEETING","parameters":{}}',
        expected: { tool_name: 'END_MEETING', parameters: {} },
      },
      { user: 'c1', answer: 'hello', expected: null },
    ];
    const seen: number[] = [];
    const { report, predictions } = await evaluateRows(engine, rows, {
      encodePrompt: (r) => Int32Array.from([...r.user].map((c) => c.charCodeAt(0))),
      decode: (ids) => String.fromCharCode(...ids),
      stopTokens: STOP,
      maxNewTokens: 40,
      batchSize: 2,
      onProgress: (done) => seen.push(done),
    });
    expect(engine.batches).toEqual([2, 1]);
    expect(engine.prompts).toEqual(['a1', 'b1', 'c1']);
    expect(engine.options[0]).toMatchObject({ temperature: 0, maxNewTokens: 40, stopTokens: STOP });
    expect(predictions.map((p) => p.generated)).toEqual([answers.a, answers.b, 'hello']);
    expect(seen).toEqual([1, 2, 3]);
    expect(report.tool!.intentAccuracy).toBe(0.5);
    expect(report.textExactMatch).toBe(1);
    expect(report.accuracy).toBeCloseTo(2 / 3, 12);
    expect(report.wrong).toEqual([{ index: 1, expected: answers.a, generated: answers.b, reason: 'wrong-intent' }]);
  });

  it('stops when aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(
      evaluateRows(engine, [{ user: 'a', answer: 'x', expected: null }], {
        encodePrompt: () => new Int32Array(1),
        decode: () => '',
        stopTokens: [],
        signal: ctl.signal,
      }),
    ).rejects.toThrow();
  });
});

describe('an over-long eval row', () => {
  it('is skipped by its cheap lower bound, never tokenized, and counted with "at least"', async () => {
    const long: EvalRow = { user: 'a'.repeat(1_000_000), answer: 'hello', expected: null, origin: { line: 2 } };
    const short: EvalRow = { user: 'c1', answer: 'hello', expected: null, origin: { line: 1 } };
    const encoded: number[] = [];
    const { skipped, predictions } = await evaluateRows(engine, [short, long], {
      encodePrompt: (r) => (encoded.push(r.user.length), Int32Array.from([...r.user].map((c) => c.charCodeAt(0)))),
      decode: (ids) => String.fromCharCode(...ids),
      stopTokens: STOP,
      maxNewTokens: 8,
      maxPositions: 64,
      minPromptTokens: (r) => Math.floor(r.user.length / 4),
    });
    expect(encoded).toEqual([2]);
    expect(predictions.map((p) => p.generated)).toEqual(['hello']);
    // Only the start of a skipped row's text is kept (eval streams a file of any size: a 10 MB row is not held).
    expect(skipped).toEqual([
      { user: long.user.slice(0, 80), origin: { line: 2 }, promptTokens: 250_000, atLeast: true },
    ]);
    expect(describeSkippedEval(skipped, 8, 64)).toContain('line 2 (at least 250000 prompt tokens)');
  });
});
