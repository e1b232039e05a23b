// A finished run always reaches Runs (issue 23, point 7, the page's side): when the browser's
// storage refuses the run (IndexedDB's QuotaExceededError from the store), the run is still
// listed, marked unsaved, the message says it is kept in this page only and to export it, and its
// adapter loads back from memory (the exact tensors the engine held). The store is a memory store
// whose writes throw the browser's own DOMException, as a full quota does.
import { describe, expect, it } from 'vitest';
import { memoryStore, type KeyValueStore } from '../src/io/store.ts';
import { RunsController } from '../src/ui/evaluate/run-history.ts';
import { initialState, type AppState } from '../src/ui/app/state.ts';
import { messages } from '../src/ui/shared/i18n.ts';

function fullStore(): KeyValueStore & { writes: number } {
  const inner = memoryStore();
  return {
    ...inner,
    writes: 0,
    async setMany() {
      this.writes++;
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    },
  };
}

describe('a finished run when the browser storage is full', () => {
  it('is listed as unsaved, told to export, and its adapter loads back from the page', async () => {
    let state: AppState = initialState('en');
    state = {
      ...state,
      model: { ...state.model, summary: { name: 'tiny', sourceKey: 'tiny' } as AppState['model']['summary'] },
    };
    const tensors = { 'a.lora_A': Float32Array.from([1, 2, 3]), 'a.lora_B': Float32Array.from([4, 5]) };
    const loaded: Record<string, Float32Array>[] = [];
    const store = fullStore();
    const runs = new RunsController(
      {
        get state() {
          return state;
        },
        patch: (fn) => (state = { ...state, ...fn(state) }),
        worker: {
          getAdapter: async () => ({ tensors }),
          setAdapter: async (t: Record<string, Float32Array>) => void loaded.push(t),
          exportFiles: async () => ({}),
        } as never,
        ensureLora: async () => true,
        splitRows: () => ({ eval: [] }),
      },
      store,
    );
    const ids = Int32Array.from([5, 6, 7, 8]);
    await runs.record({
      outcome: {
        state: 'done',
        fingerprint: 'f'.repeat(16),
        history: [
          { step: 1, loss: 2.5 },
          { step: 2, loss: 2.25 },
        ],
      } as never,
      train: [{ ids, labels: ids, truncated: 0 }],
      evalRows: 0,
    });
    expect(store.writes).toBeGreaterThan(0);
    expect(state.runs.list).toHaveLength(1);
    const run = state.runs.list[0];
    expect(run).toMatchObject({
      state: 'done',
      unsaved: true,
      trainRows: 1,
      history: [
        { step: 1, loss: 2.5 },
        { step: 2, loss: 2.25 },
      ],
    });
    expect(state.runs.current).toBe(run.id);
    expect(state.runs.error).toMatchObject({ key: 'runs.unsaved', detail: expect.stringContaining('quota') });
    expect(messages.en['runs.unsaved']).toMatch(/kept in this page only.*Export its adapter/);
    expect(await runs.load(run.id)).toBe(true);
    expect(loaded).toEqual([tensors]);
  });
});
