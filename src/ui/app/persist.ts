// What survives a reload: the choices on each screen, the imported dataset text and the loss
// curve of the current run. Kept in IndexedDB (idb-keyval) because datasets can be megabytes;
// the worker keeps model files and checkpoints in its own keys.

import { createStore, get, set, del, type UseStore } from 'idb-keyval';
import type { EngineChoice, QuantChoice } from '../../worker/api.ts';
import type { Recipe } from '../../train/recipe.ts';
import type { ControlPlan } from '../../train/control-run.ts';
import type { LossPoint, MeasuredSpeed, SourceForm } from './state.ts';
import type { SchemaForm } from '../data/schema-form.ts';

export interface SavedSession {
  engineChoice: EngineChoice;
  /** Absent in sessions saved before the QLoRA option. */
  quantChoice?: QuantChoice;
  source: Omit<SourceForm, 'files' | 'folderName'>;
  train: Recipe;
  evalFraction: number;
  splitSeed: number;
  systemPrompt: string;
  chat: { prompt: string; maxNewTokens: number; temperature: number; constrained?: boolean; instruct?: boolean };
  /** The kept run whose adapter was in use: put back into the engine after a reload. */
  adapterRun?: string;
  /** A "Continue training" run not finished yet: Start (Resume) goes on with it as the same run. */
  continuing?: { from: string; parent?: string; control?: ControlPlan };
  /** The last run's speed against its estimate: the next estimate is corrected by it after a reload too. */
  measuredSpeed?: MeasuredSpeed;
}

export interface SavedDataset {
  name: string;
  /** The file as imported (IndexedDB keeps Blobs as they are, so the encoding survives). */
  blob?: Blob;
  /** Older sessions kept the decoded text. */
  text?: string;
}

export interface SavedLosses {
  runKey: string;
  losses: LossPoint[];
  evalLosses: LossPoint[];
}

let db: UseStore | undefined;
function store(): UseStore {
  db ??= createStore('webtune-ui', 'session');
  return db;
}

/** IndexedDB can be missing (some private modes); the page then simply forgets on reload. */
async function safely<T>(op: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await op();
  } catch {
    return fallback;
  }
}

export const loadSession = () => safely(() => get<SavedSession>('session', store()), undefined);
export const saveSession = (s: SavedSession) => safely(() => set('session', s, store()), undefined);

export const loadDataset = (role: 'train' | 'eval') =>
  safely(() => get<SavedDataset>(`dataset.${role}`, store()), undefined);
export const saveDataset = (role: 'train' | 'eval', d: SavedDataset | undefined) =>
  safely(() => (d ? set(`dataset.${role}`, d, store()) : del(`dataset.${role}`, store())), undefined);

export const loadLosses = () => safely(() => get<SavedLosses>('losses', store()), undefined);
export const saveLosses = (l: SavedLosses) => safely(() => set('losses', l, store()), undefined);

export interface SavedSchema {
  name: string;
  /** The schema in use, in its file format. */
  text?: string;
  form?: SchemaForm;
  dirty?: boolean;
}

export const loadSchemaState = () => safely(() => get<SavedSchema>('schema', store()), undefined);
export const saveSchemaState = (s: SavedSchema) => safely(() => set('schema', s, store()), undefined);
