// Every training run kept: its settings, the fingerprints of the run and of its data, the loss
// curve, the evaluation reports made with its adapter, and the adapter itself. Starting another
// run adds a record and loses nothing. Records are small JSON; an adapter is one safetensors
// Blob (F32, PEFT names) under its own key, written before the record that points to it, so a
// crash between the two leaves no record without an adapter (the orphan is swept later).
//
// Reports are opaque here (this layer sits below evaluation): the page stores its EvalReport.

import { CheckpointError } from '../core/errors.ts';
import { encodeSafetensors, SafetensorsFile } from '../core/safetensors.ts';
import type { LoraSettings } from '../engine/engine.ts';
import type { Key, KeyValueStore } from '../io/store.ts';

export const RUNS_DB = 'webtune-runs';
export const RUNS_STORE = 'runs';
const FORMAT = 'webtune-run-adapter-1';

/** One optimizer step of the loss curve (the worker's StepRecord has these fields and more). */
export interface CurvePoint {
  step: number;
  loss: number;
  evalLoss?: number;
}

export interface RunEval<R> {
  /** 'free' as the seed measures, or under the tool schema. */
  decoding: 'free' | 'constrained';
  at: number;
  report: R;
  /** Which evaluation set it was measured on (evalSetFingerprint, data/sibling.ts); runs compare only on the same one. */
  evalSet?: string;
}

export interface RunRecord<R = unknown> {
  id: string;
  /** Shown to the user: "run 3". */
  name: string;
  createdAt: number;
  /** runFingerprint (src/train/fingerprint.ts): model, settings, LoRA shape and data. */
  fingerprint: string;
  /** dataFingerprint of the training examples alone. */
  dataFingerprint: string;
  modelKey: string;
  modelName: string;
  /** The training settings as the page holds them (anything JSON). */
  settings: unknown;
  lora: LoraSettings;
  /** The run whose adapter this one started from ("continue training"). */
  parent?: string;
  /** The control of the error loop: the parent's rows alone, for the steps its sibling run took (control-run.ts). */
  control?: boolean;
  trainRows: number;
  evalRows: number;
  state: 'done' | 'stopped' | 'error';
  history: CurvePoint[];
  evals: RunEval<R>[];
  adapterBytes: number;
}

const recordKey = (id: string): Key => ['run', id];
const adapterKey = (id: string): Key => ['run-adapter', id];

function encodeAdapter(tensors: Record<string, Float32Array>): Blob {
  const names = Object.keys(tensors).sort();
  const list = names.map((name) => ({
    name,
    dtype: 'F32' as const,
    shape: [tensors[name].length],
    data: tensors[name],
  }));
  return new Blob(encodeSafetensors(list, { format: FORMAT }) as BlobPart[]);
}

export class RunStore<R = unknown> {
  constructor(private readonly store: KeyValueStore) {}

  /** Adds (or replaces) a run with its adapter; the record lands only once the adapter has. */
  async save(record: Omit<RunRecord<R>, 'adapterBytes'>, adapter: Record<string, Float32Array>): Promise<RunRecord<R>> {
    const blob = encodeAdapter(adapter);
    const full: RunRecord<R> = { ...record, adapterBytes: blob.size };
    await this.store.setMany([[adapterKey(record.id), blob]]);
    await this.store.setMany([[recordKey(record.id), full]]);
    return full;
  }

  async get(id: string): Promise<RunRecord<R> | undefined> {
    return this.store.get<RunRecord<R>>(recordKey(id));
  }

  /** Newest first. */
  async list(): Promise<RunRecord<R>[]> {
    const keys = (await this.store.keys()).filter((k) => k[0] === 'run');
    const recs = await this.store.getMany<RunRecord<R>>(keys);
    return recs.filter((r): r is RunRecord<R> => !!r).sort((a, b) => b.createdAt - a.createdAt);
  }

  async adapter(id: string): Promise<Record<string, Float32Array>> {
    const rec = await this.get(id);
    const blob = await this.store.get<Blob>(adapterKey(id));
    if (!rec || !(blob instanceof Blob)) throw new CheckpointError(`run ${id}: its adapter is not in IndexedDB`);
    if (blob.size !== rec.adapterBytes)
      throw new CheckpointError(`run ${id}: ${blob.size} adapter bytes stored, ${rec.adapterBytes} expected`);
    const st = await SafetensorsFile.open(blob, `run ${id} adapter`);
    if (st.metadata.format !== FORMAT)
      throw new CheckpointError(`run ${id}: the stored adapter is not a Webtune run adapter`);
    const out: Record<string, Float32Array> = {};
    for (const name of st.tensors.keys()) out[name] = new Float32Array((await st.read(name)) as Float32Array);
    return out;
  }

  /** Appends an evaluation report made with this run's adapter. */
  async addEval(id: string, ev: RunEval<R>): Promise<RunRecord<R>> {
    const rec = await this.get(id);
    if (!rec) throw new CheckpointError(`run ${id}: no such run`);
    const next = { ...rec, evals: [...rec.evals, ev] };
    await this.store.setMany([[recordKey(id), next]]);
    return next;
  }

  async rename(id: string, name: string): Promise<void> {
    const rec = await this.get(id);
    if (rec) await this.store.setMany([[recordKey(id), { ...rec, name }]]);
  }

  async delete(id: string): Promise<void> {
    await this.store.delMany([recordKey(id), adapterKey(id)]);
  }

  /** Adapters no record points to: a save cut short between its two writes. */
  async sweep(): Promise<number> {
    const keys = await this.store.keys();
    const ids = new Set(keys.filter((k) => k[0] === 'run').map((k) => k[1]));
    const orphans = keys.filter((k) => k[0] === 'run-adapter' && !ids.has(k[1]));
    await this.store.delMany(orphans);
    return orphans.length;
  }
}

/** A new run id: the fingerprint's head (which run) and the time (which time it ran). */
export function newRunId(fingerprint: string, now = Date.now()): string {
  return `${fingerprint.slice(0, 12)}-${now.toString(36)}`;
}
