// What the catalog shows and refuses, from page state alone: the engine the page would use
// (the CPU's 4 GiB, or the probed adapter's limits), each model's plan at the current settings.
import { describe, expect, it } from 'vitest';
import { catalogRows, fitLimits, unfitChoice } from '../src/ui/model/catalog-view.ts';
import { expectedEngine } from '../src/ui/model/engine-view.ts';
import { initialState, type AppState } from '../src/ui/app/state.ts';
import { planMemory } from '../src/engine/plan.ts';
import { catalogConfig, CATALOG } from '../src/core/catalog.ts';
import { DEFAULT_RECIPE, modelPreset } from '../src/train/recipe.ts';

const GPU_PROBE = {
  webgpu: true,
  adapter: 'x',
  features: [],
  shaderF16: false,
  cores: 2,
  maxBufferSize: 2 ** 30,
  maxStorageBufferBindingSize: 2 ** 30,
};

function state(patch: Partial<AppState>): AppState {
  return { ...initialState('en'), ...patch };
}

describe('catalog view', () => {
  it('plans on the engine a load would get', () => {
    expect(fitLimits(state({ engineChoice: 'auto' })).kind).toBe('cpu'); // no probe yet
    expect(fitLimits(state({ engineChoice: 'auto', probe: GPU_PROBE }))).toEqual({
      kind: 'webgpu',
      maxBufferSize: 2 ** 30,
      maxBindingSize: 2 ** 30,
    });
    expect(fitLimits(state({ engineChoice: 'cpu', probe: GPU_PROBE })).kind).toBe('cpu');
  });

  it("Automatic is resolved first: with only a software adapter (SwiftShader) the CPU engine runs, so the CPU's fit and refusal apply", () => {
    const soft = { ...GPU_PROBE, adapter: 'Google SwiftShader', software: 'SwiftShader' };
    expect(fitLimits(state({ engineChoice: 'auto', probe: soft })).kind).toBe('cpu');
    expect(expectedEngine(state({ engineChoice: 'auto', probe: soft }))).toBe('cpu');
    // the same verdict as choosing the CPU engine by hand: Qwen3-4B does not fit it, and is refused before the hub
    const src = { ...initialState('en').source, kind: 'hf' as const, repo: 'Qwen/Qwen3-4B-Instruct-2507' };
    const auto = unfitChoice(state({ engineChoice: 'auto', probe: soft, source: src }));
    expect(auto?.model.repo).toBe('Qwen/Qwen3-4B-Instruct-2507');
    const cpu = unfitChoice(state({ engineChoice: 'cpu', probe: soft, source: src }));
    expect(auto?.plans.map((p) => p.fit)).toEqual(cpu?.plans.map((p) => p.fit));
    expect(auto?.plans[0].fit.problems[0]).toMatchObject({ kind: 'memory', limit: 2 ** 32 });
    // the rows the catalog shows say the same: no "fits" for the 4B on the engine that will run
    expect(
      catalogRows(state({ engineChoice: 'auto', probe: soft }))
        .find((r) => r.model.repo === src.repo)!
        .plans.some((p) => p.fit.fits),
    ).toBe(false);
    // a hardware adapter keeps WebGPU's limits
    expect(expectedEngine(state({ engineChoice: 'auto', probe: GPU_PROBE }))).toBe('webgpu');
  });

  it('each row carries the plan the memory card would show for that config and settings', () => {
    const s = state({ engineChoice: 'cpu' });
    const rows = catalogRows(s);
    expect(rows.map((r) => r.model.repo)).toEqual(CATALOG.map((m) => m.repo));
    const lora = { r: 8, alpha: 32, dropout: 0.1, targets: s.train.targets, rslora: false };
    for (const r of rows)
      expect(r.plans[0].total).toBe(
        planMemory('cpu', catalogConfig(r.model), { maxBatch: 4, maxSeq: 384, lora }, 'bf16').total,
      );
    expect(rows.map((r) => r.plans[0].fit.fits)).toEqual([true, true, true, false, false]);
  });

  it('refuses an unfit catalog repo only for hub sources, whatever the case of the id', () => {
    const src = { ...initialState('en').source, kind: 'hf' as const, repo: 'qwen/qwen3-4b-instruct-2507' };
    expect(unfitChoice(state({ engineChoice: 'cpu', source: src }))?.model.repo).toBe('Qwen/Qwen3-4B-Instruct-2507');
    expect(unfitChoice(state({ engineChoice: 'cpu', source: { ...src, kind: 'url' } }))).toBeUndefined();
    expect(
      unfitChoice(state({ engineChoice: 'cpu', source: { ...src, repo: 'Qwen/Qwen2.5-0.5B-Instruct' } })),
    ).toBeUndefined();
    // on a GPU with 1 GiB bindings the 4B plan only has to fit the adapter's limits
    expect(unfitChoice(state({ engineChoice: 'auto', probe: GPU_PROBE, source: src }))).toBeUndefined();
  });
});

describe('model presets', () => {
  it("every catalog model has one; all keep the seed's effective batch of 16, Qwen2.5-0.5B is the seed's own split", () => {
    for (const m of CATALOG) {
      const p = modelPreset(m.repo)!;
      expect(p.batchSize * p.gradAccum, m.repo).toBe(DEFAULT_RECIPE.batchSize * DEFAULT_RECIPE.gradAccum);
    }
    expect(modelPreset('qwen/qwen2.5-0.5b-instruct')).toEqual({
      lr: DEFAULT_RECIPE.lr,
      epochs: DEFAULT_RECIPE.epochs,
      dropout: DEFAULT_RECIPE.dropout,
      batchSize: DEFAULT_RECIPE.batchSize,
      gradAccum: DEFAULT_RECIPE.gradAccum,
    });
    expect(modelPreset('someone/else')).toBeUndefined();
  });

  it('with its preset each model up to Qwen3-1.7B fits the CPU engine in 16 bits', () => {
    const base = state({ engineChoice: 'cpu' });
    const fits = CATALOG.map(
      (m) =>
        catalogRows({ ...base, train: { ...base.train, ...modelPreset(m.repo)! } }).find(
          (r) => r.model.repo === m.repo,
        )!.plans[0].fit.fits,
    );
    expect(fits).toEqual([true, true, true, true, false]);
  });
});
