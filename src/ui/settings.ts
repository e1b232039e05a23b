// How the Train step's settings and the Model step's source change the page's state: pure
// functions from the state to a patch, so the controller only applies them and persists.

import { checkField, fieldSpec, presetOf, type NumericField } from './train-fields.ts';
import type { AppState } from './state.ts';

const ACTIVE = ['running', 'paused', 'pausing', 'starting'];

/**
 * A typed setting reaches the recipe only when it is in range; otherwise it waits on screen with
 * its error (and Start waits for it). Undefined for a field that does not exist.
 */
export function fieldPatch(s: AppState, key: NumericField, raw: string): Pick<AppState, 'train' | 'trainErrors'> | undefined {
  const spec = fieldSpec(key);
  if (!spec) return undefined;
  const r = checkField(spec, raw);
  if ('error' in r) return { train: s.train, trainErrors: { ...s.trainErrors, [key]: r.error } };
  const { [key]: _, ...rest } = s.trainErrors;
  return { train: { ...s.train, [key]: r.value }, trainErrors: rest };
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
