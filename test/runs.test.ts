// Stored runs: records and adapters round-trip bit for bit, a save cut short leaves no record
// without an adapter, and two reports compare per intent. Oracles: the tensors written, the
// metrics recomputed by hand, fingerprints of changed inputs.
import { describe, expect, it } from 'vitest';
import { memoryStore, type KeyValueStore } from '../src/io/store.ts';
import { RunStore, newRunId, type RunRecord } from '../src/train/runs.ts';
import { dataFingerprint, runFingerprint } from '../src/train/fingerprint.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { scorePredictions } from '../src/eval/metrics.ts';
import { compareReports } from '../src/eval/compare.ts';

const adapter = () => ({
  'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': Float32Array.from(
    { length: 24 },
    (_, i) => Math.sin(i) * 1e-3,
  ),
  'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': Float32Array.from({ length: 16 }, (_, i) =>
    i === 3 ? -0 : 1 / (i + 1),
  ),
});
const ex = (ids: number[]) => ({
  ids: Int32Array.from(ids),
  labels: Int32Array.from(ids.map((x, i) => (i < 2 ? -100 : x))),
});

function record<R>(id: string, createdAt: number, parent?: string): Omit<RunRecord<R>, 'adapterBytes'> {
  return {
    id,
    name: `run ${id}`,
    createdAt,
    fingerprint: 'f'.repeat(64),
    dataFingerprint: 'd'.repeat(64),
    modelKey: 'builtin',
    modelName: 'tiny',
    settings: { lr: 1e-3 },
    lora: DEFAULT_LORA,
    ...(parent ? { parent } : {}),
    trainRows: 10,
    evalRows: 4,
    state: 'done',
    history: [
      { step: 1, loss: 3.5 },
      { step: 2, loss: 2.9, evalLoss: 3.1 },
    ],
    evals: [],
  };
}

describe('RunStore', () => {
  it('keeps every run with its adapter, newest first, and evaluation reports added later', async () => {
    const runs = new RunStore<{ accuracy: number }>(memoryStore());
    const a = adapter();
    await runs.save(record('one', 1000), a);
    await runs.save(record('two', 2000, 'one'), adapter());
    expect((await runs.list()).map((r) => r.id)).toEqual(['two', 'one']);
    const back = await runs.adapter('one');
    for (const [k, v] of Object.entries(a)) expect(new Uint32Array(back[k].buffer)).toEqual(new Uint32Array(v.buffer));
    await runs.addEval('one', { decoding: 'constrained', at: 5, report: { accuracy: 0.5 } });
    await runs.addEval('one', { decoding: 'free', at: 6, report: { accuracy: 0.25 } });
    expect((await runs.get('one'))!.evals.map((e) => [e.decoding, e.report.accuracy])).toEqual([
      ['constrained', 0.5],
      ['free', 0.25],
    ]);
    expect((await runs.get('two'))!.parent).toBe('one');
    await runs.delete('one');
    expect((await runs.list()).map((r) => r.id)).toEqual(['two']);
    await expect(runs.adapter('one')).rejects.toThrow(/not in IndexedDB/);
  });

  it('a save cut short between its writes leaves no record, and the orphan adapter is swept', async () => {
    const inner = memoryStore();
    let writes = 0;
    const failing: KeyValueStore = {
      ...inner,
      setMany: async (e) => (++writes === 2 ? Promise.reject(new Error('crash')) : inner.setMany(e)),
    };
    await expect(new RunStore(failing).save(record('x', 1), adapter())).rejects.toThrow('crash');
    const runs = new RunStore(inner);
    expect(await runs.list()).toEqual([]);
    expect(await runs.sweep()).toBe(1);
    expect(await inner.keys()).toEqual([]);
  });

  it('run ids differ per start; data fingerprints follow the data only', async () => {
    expect(newRunId('abcdef0123456789', 1)).not.toBe(newRunId('abcdef0123456789', 2));
    const d1 = [ex([1, 2, 3]), ex([4, 5])];
    expect(await dataFingerprint(d1)).toBe(await dataFingerprint([ex([1, 2, 3]), ex([4, 5])]));
    expect(await dataFingerprint(d1)).not.toBe(await dataFingerprint([ex([1, 2]), ex([3, 4, 5])]));
    expect(await dataFingerprint(d1)).not.toBe(await dataFingerprint([...d1, ex([6, 7, 8])]));
    const run = (lr: number) => runFingerprint({ modelKey: 'm', settings: { lr }, lora: DEFAULT_LORA, data: d1 });
    expect(await run(1)).not.toBe(await run(2));
  });
});

describe('compareReports', () => {
  it('lines two reports up per intent with the change in exact match', () => {
    const call = (tool_name: string, parameters: Record<string, string> = {}) => ({ tool_name, parameters });
    const A = call('A', { x: '1' }),
      B = call('B');
    const before = scorePredictions([
      { expected: A, generated: '{"tool_name":"A","parameters":{"x":"2"}}' },
      { expected: A, generated: JSON.stringify(A) },
      { expected: B, generated: 'nope' },
    ]);
    const after = scorePredictions([
      { expected: A, generated: JSON.stringify(A) },
      { expected: A, generated: JSON.stringify(A) },
      { expected: B, generated: JSON.stringify(B) },
      { expected: call('C'), generated: JSON.stringify(call('C')) },
    ]);
    const rows = compareReports(before, after);
    const r6 = (x?: number) => (x === undefined ? x : +x.toFixed(6));
    expect(rows.map((r) => [r.intent, r6(r.a?.exactMatch), r6(r.b?.exactMatch), r6(r.exactDelta)])).toEqual([
      ['(all)', 0.333333, 1, 0.666667],
      ['A', 0.5, 1, 0.5],
      ['B', 0, 1, 1],
      ['C', undefined, 1, undefined],
    ]);
  });
});
