// What "Automatic" base weights load, and what the Model step's catalog offers: the 16-bit
// base while its plan fits, the 4-bit NF4 base when only that one does. Oracle: the plans
// themselves, with engine limits set between the two totals.
import { describe, expect, it } from 'vitest';
import { CATALOG, catalogConfig } from '../src/core/catalog.ts';
import { parseQwen2Config } from '../src/core/config.ts';
import { chooseQuant } from '../src/engine/fit.ts';
import { planMemory } from '../src/engine/plan.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { allowedPlans, catalogRow, unfitChoice } from '../src/ui/model/catalog-view.ts';
import { initialState } from '../src/ui/app/state.ts';

const cfg = catalogConfig(CATALOG.find((m) => m.repo === 'Qwen/Qwen2.5-1.5B-Instruct')!);
const opts = { maxBatch: 4, maxSeq: 384, lora: DEFAULT_LORA };
const full = planMemory('cpu', cfg, opts, 'bf16').total;
const nf4 = planMemory('cpu', cfg, { ...opts, quant: 'nf4' }, 'bf16').total;

describe('Automatic base weights', () => {
  it('keeps 16-bit while it fits, takes NF4 when only NF4 fits, and 16-bit (refused later) when neither does', () => {
    expect(nf4).toBeLessThan(full);
    expect(chooseQuant(cfg, opts, { kind: 'cpu', memoryBytes: full }, 'bf16')).toBe('none');
    expect(chooseQuant(cfg, opts, { kind: 'cpu', memoryBytes: full - 1 }, 'bf16')).toBe('nf4');
    expect(chooseQuant(cfg, opts, { kind: 'cpu', memoryBytes: nf4 }, 'bf16')).toBe('nf4');
    expect(chooseQuant(cfg, opts, { kind: 'cpu', memoryBytes: nf4 - 1 }, 'bf16')).toBe('none');
  });

  it('never picks NF4 for shapes that do not fill whole 64-value blocks', () => {
    const odd = parseQwen2Config({
      model_type: 'qwen2',
      hidden_size: 36,
      intermediate_size: 100,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      vocab_size: 50,
    });
    expect(chooseQuant(odd, { ...opts, maxBatch: 1, maxSeq: 8 }, { kind: 'cpu', memoryBytes: 1 }, 'f32')).toBe('none');
  });
});

describe('the catalog with both bases', () => {
  const init = initialState('en');
  // batch 2 x 256: the 4B model's 4-bit plan (about 3.3 GiB) fits the CPU engine's 4 GiB, its 16-bit one (8.2) does not
  const s = {
    ...init,
    engineChoice: 'cpu' as const,
    train: { ...init.train, batchSize: 2, maxLength: 256 },
    source: { ...init.source, kind: 'hf' as const, repo: 'Qwen/Qwen3-4B-Instruct-2507' },
  };

  it('plans each model 16-bit and 4-bit; the 4B model fits the CPU engine only as 4-bit', () => {
    const row = catalogRow(
      CATALOG.find((m) => m.repo === 'Qwen/Qwen3-4B-Instruct-2507')!,
      s,
    );
    expect(row.plans.map((p) => [p.weights, p.fit.fits])).toEqual([
      ['16-bit', false],
      ['4-bit', true],
    ]);
    expect(row.plans[1].total).toBe(
      planMemory('cpu', catalogConfig(row.model), { ...opts, maxBatch: 2, maxSeq: 256, quant: 'nf4' }, 'bf16').total,
    );
    expect(allowedPlans(row, 'auto')).toEqual(row.plans);
    expect(allowedPlans(row, 'none').map((p) => p.weights)).toEqual(['16-bit']);
    expect(allowedPlans(row, 'nf4').map((p) => p.weights)).toEqual(['4-bit']);
  });

  it('refuses the load before any download only when no plan the choice allows fits', () => {
    expect(unfitChoice({ ...s, quantChoice: 'auto' })).toBeUndefined();
    expect(unfitChoice({ ...s, quantChoice: 'nf4' })).toBeUndefined();
    const refused = unfitChoice({ ...s, quantChoice: 'none' });
    expect(refused?.plans.map((p) => p.weights)).toEqual(['16-bit']);
  });
});
