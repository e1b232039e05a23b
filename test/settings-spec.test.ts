// The page's Train form and the CLI's `train` flags accept and refuse exactly the same values:
// for every setting both take, values generated from the settings spec (each bound, just past it,
// fractions, text, empty, the engine's limit) go through the page's own path (fieldPatch, what the
// form's change event runs) and the CLI's own path (trainRecipe, what `train` runs before loading).
import { describe, expect, it } from 'vitest';
import { trainRecipe, TRAIN_FLAGS } from '../src/cli/commands/train.ts';
import { fieldPatch } from '../src/ui/train/settings.ts';
import { FIELDS } from '../src/ui/train/train-fields.ts';
import { initialState, type AppState } from '../src/ui/app/state.ts';
import { engineLimit, NUMBER_SETTINGS, SETTINGS, type NumberSetting } from '../src/train/settings-spec.ts';
import { DEFAULT_RECIPE } from '../src/train/recipe.ts';
import { jobConfig } from '../src/export/job.ts';
import { TRAIN_PY } from '../src/export/job/train-py.ts';
import type { EngineKind } from '../src/engine/engine.ts';

const GPU_PROBE = {
  webgpu: true,
  adapter: 'NVIDIA',
  features: [],
  shaderF16: true,
  cores: 8,
  maxBufferSize: 2 ** 31,
  maxStorageBufferBindingSize: 2 ** 31,
};

function pageState(engine: EngineKind): AppState {
  return { ...initialState('en'), engineChoice: engine, probe: engine === 'webgpu' ? GPU_PROBE : undefined };
}

/** The page's verdict: the value it puts in the recipe, or 'refused'. */
function page(s: NumberSetting, raw: string, engine: EngineKind): number | 'refused' {
  const p = fieldPatch(pageState(engine), s.key, raw)!;
  return s.key in p.trainErrors ? 'refused' : p.train[s.key];
}

/** The CLI's verdict, through the same function `train` runs on its argv. */
function cli(s: NumberSetting, raw: string, engine: EngineKind): number | 'refused' {
  try {
    return trainRecipe(['--model', 'm', '--data', 'd', '--out', 'o', '--engine', engine, `--${s.flag}=${raw}`]).recipe[
      s.key
    ];
  } catch (e) {
    if ((e as Error).name !== 'UsageError') throw e;
    return 'refused';
  }
}

/** Values worth trying for a setting, from its spec: the bounds, just past them, a fraction, text. */
function probes(s: NumberSetting): string[] {
  const eps = Math.max(1e-9, Math.abs(s.max - s.min) * 1e-6);
  const v = [
    s.min,
    s.max,
    s.min - 1,
    s.min - eps,
    s.min + eps,
    s.max + eps,
    s.max + 1,
    s.max - eps,
    (s.min + s.max) / 2,
    s.min + 0.5,
    s.min + 1,
    2,
    8,
    0,
    -1,
  ];
  const limit = engineLimit(s, 'webgpu');
  if (limit !== undefined) v.push(limit, limit + 1, limit - 1);
  const text = [
    '',
    ' ',
    'abc',
    '1e1',
    '1E-3',
    ' 3 ',
    '0x10',
    'Infinity',
    '-0',
    '1,000',
    '2.',
    '.5',
    '+4',
    '5e-3',
    'NaN',
  ];
  return [...new Set([...v.filter(Number.isFinite).map(String), ...text])];
}

const both = NUMBER_SETTINGS.filter((s) => s.page && s.flag);

describe('settings spec: page and CLI agree', () => {
  it('covers every setting the form shows and the CLI takes (and the CLI has a flag for each)', () => {
    expect(both.map((s) => s.key).sort()).toEqual(
      [
        'alpha',
        'batchSize',
        'checkpointEvery',
        'dropout',
        'epochs',
        'gradAccum',
        'lr',
        'maxGradNorm',
        'maxLength',
        'r',
        'seed',
        'warmupSteps',
        'weightDecay',
      ].sort(),
    );
    for (const s of SETTINGS.filter((x) => x.flag)) expect(TRAIN_FLAGS[s.flag!], s.flag).toBeDefined();
    expect(FIELDS.map((f) => f.key)).toEqual(NUMBER_SETTINGS.filter((s) => s.page).map((s) => s.key));
  });

  for (const engine of ['cpu', 'webgpu'] as const)
    it(`accepts and refuses the same values on the ${engine} engine, and takes the same number`, () => {
      let tried = 0,
        refused = 0;
      for (const s of both)
        for (const raw of probes(s)) {
          const p = page(s, raw, engine),
            c = cli(s, raw, engine);
          expect(c, `${s.key} = ${JSON.stringify(raw)} on ${engine}: page ${p}, CLI ${c}`).toEqual(p);
          tried++;
          if (p === 'refused') refused++;
        }
      // both sides of every bound were exercised
      expect(refused).toBeGreaterThan(both.length * 5);
      expect(tried - refused).toBeGreaterThan(both.length * 3);
    });

  it('the verdicts are the ranges the spec states (independent cases)', () => {
    const r = both.find((s) => s.key === 'r')!,
      dropout = both.find((s) => s.key === 'dropout')!,
      lr = both.find((s) => s.key === 'lr')!;
    const epochs = both.find((s) => s.key === 'epochs')!,
      alpha = both.find((s) => s.key === 'alpha')!;
    expect([
      page(r, '64', 'webgpu'),
      page(r, '65', 'webgpu'),
      page(r, '65', 'cpu'),
      page(r, '256', 'cpu'),
      page(r, '257', 'cpu'),
      page(r, '8.5', 'cpu'),
    ]).toEqual([64, 'refused', 65, 256, 'refused', 'refused']);
    expect([cli(r, '64', 'webgpu'), cli(r, '65', 'webgpu'), cli(r, '65', 'cpu')]).toEqual([64, 'refused', 65]);
    expect([page(dropout, '0', 'cpu'), page(dropout, '0.95', 'cpu'), page(dropout, '1', 'cpu')]).toEqual([
      0,
      0.95,
      'refused',
    ]);
    expect([cli(lr, '0', 'cpu'), cli(lr, '1e-4', 'cpu'), cli(lr, '-1e-4', 'cpu')]).toEqual([0, 1e-4, 'refused']);
    expect([cli(epochs, '0.5', 'cpu'), page(epochs, '0', 'cpu')]).toEqual([0.5, 'refused']);
    expect([cli(alpha, '0', 'cpu'), page(alpha, '0.01', 'cpu')]).toEqual(['refused', 0.01]);
  });

  it('the CLI names the engine limit in words', () => {
    expect(() =>
      trainRecipe(['--model', 'm', '--data', 'd', '--out', 'o', '--engine', 'webgpu', '--r', '128']),
    ).toThrow(/--r must be at most 64 on the WebGPU engine/);
  });

  it('the job config takes its keys from the spec (every train.py key is one of them)', () => {
    const cfg = jobConfig({
      baseModel: 'b',
      system: 's',
      maxLength: 8,
      endToken: '<e>',
      lora: DEFAULT_RECIPE,
      train: DEFAULT_RECIPE,
      rows: [],
    });
    const keys = [...Object.keys(cfg.lora as object), ...Object.keys(cfg.train as object)];
    expect(keys).toEqual(SETTINGS.filter((s) => s.job && s.group !== 'data').map((s) => s.job));
    // and train.py passes each under the spec's Hugging Face name
    for (const st of SETTINGS.filter((x) => x.job && x.group === 'train'))
      expect(TRAIN_PY, st.hf).toContain(`("${st.hf.replace('TrainingArguments.', '')}", "${st.job}")`);
    for (const st of SETTINGS.filter((x) => x.job && x.group === 'lora'))
      expect(TRAIN_PY, st.hf).toContain(`${st.hf.replace('LoraConfig.', '')}=lora["${st.job}"]`);
  });
});
