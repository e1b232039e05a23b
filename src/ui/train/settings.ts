// How the Train step's settings and the Model step's source change the page's state: pure
// functions from the state to a patch, so the controller only applies them and persists.

import { checkField, FIELDS, fieldSpec, presetOf, type NumericField } from './train-fields.ts';
import { expectedEngine } from '../model/engine-view.ts';
import type { AppState } from '../app/state.ts';
import type { EngineKind } from '../../engine/engine.ts';

const ACTIVE = ['running', 'paused', 'pausing', 'starting'];

/**
 * A typed setting reaches the recipe only when it is in range; otherwise it waits on screen with
 * its error (and Start waits for it). Undefined for a field that does not exist.
 */
export function fieldPatch(
  s: AppState,
  key: NumericField,
  raw: string,
): Pick<AppState, 'train' | 'trainErrors'> | undefined {
  const spec = fieldSpec(key);
  if (!spec) return undefined;
  const r = checkField(spec, raw, settingsEngine(s));
  if ('error' in r) return { train: s.train, trainErrors: { ...s.trainErrors, [key]: r.error } };
  const { [key]: _, ...rest } = s.trainErrors;
  return { train: { ...s.train, [key]: r.value }, trainErrors: rest };
}

/**
 * The engine whose limits the settings must meet: the loaded one while the choice is the one it
 * was loaded with (Automatic may have timed both), else the one a load would get.
 */
export function settingsEngine(s: AppState): EngineKind | undefined {
  const m = s.model;
  if (m.status === 'ready' && m.summary && m.loadedWith?.engine === s.engineChoice) return m.summary.engine.kind;
  return expectedEngine(s);
}

/**
 * The settings checked again on the engine that will run now (a rank the CPU takes may be over
 * WebGPU's kernels): a value it refuses moves out of the recipe into the errors, so Start waits.
 */
export function recheckPatch(s: AppState): Pick<AppState, 'train' | 'trainErrors'> {
  const engine = settingsEngine(s);
  const errors = { ...s.trainErrors };
  const train = { ...s.train };
  for (const f of FIELDS) {
    const r = checkField(f, errors[f.key]?.raw ?? String(s.train[f.key]), engine);
    if ('error' in r) errors[f.key] = r.error;
    else {
      delete errors[f.key];
      train[f.key] = r.value;
    }
  }
  return { train, trainErrors: errors };
}

/** Another source drops the old source's error and brings its model's preset (not during a run). */
export function sourcePatch(s: AppState, patch: Partial<AppState['source']>): Partial<AppState> {
  const source = { ...s.source, ...patch };
  const changed = source.kind !== s.source.kind || source.repo.trim() !== s.source.repo.trim();
  if (!changed) return { source };
  const preset = presetOf(source);
  return {
    source,
    model: s.model.status === 'error' ? { status: 'none' } : { ...s.model, error: undefined },
    ...(preset && !ACTIVE.includes(s.training.state) ? { train: { ...s.train, ...preset }, trainErrors: {} } : {}),
  };
}
