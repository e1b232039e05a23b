// Training checkpoints in IndexedDB: the LoRA weights, AdamW moments, the trainer position
// (which fixes data order, dropout seeds and the schedule) and the loss history. Restoring one
// into a fresh engine makes the next steps bit-identical to an uninterrupted run.
//
// A checkpoint is one safetensors Blob (1-D F32 tensors, meta JSON in its metadata) written in
// two steps: the new data under a new key, then the pointer to it. A crash between or during
// the steps leaves the pointer on the previous, complete checkpoint; stale data is swept later.

import { CheckpointError, CheckpointSpaceError } from '../core/errors.ts';
import { encodeSafetensors, SafetensorsFile } from '../core/safetensors.ts';
import type { LoraSettings, OptimizerState } from '../engine/engine.ts';
import { hasPrefix, isQuotaError, type Key, type KeyValueStore } from '../io/store.ts';

const formatMiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
import type { RunIdentity } from './fingerprint.ts';
import type { TrainerPosition } from './trainer.ts';

export const CHECKPOINT_DB = 'webtune-checkpoints';
export const CHECKPOINT_STORE = 'checkpoints';
const FORMAT = 'webtune-checkpoint-1';
const OPT_M = 'optimizer.m';
const OPT_V = 'optimizer.v';

/** One optimizer step as the loss curve and the checkpoint history keep it. */
export interface StepRecord {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  evalLoss?: number;
}

/** What the page lists of a stored checkpoint (without loading its tensors). */
export interface CheckpointInfo {
  runId: string;
  modelKey: string;
  step: number;
  totalSteps: number;
  savedAt: number; // ms since epoch
  bytes: number;
  lastLoss?: number;
  /** The run's fingerprint, and what it was made of (older checkpoints lack both). */
  fingerprint?: string;
  identity?: RunIdentity;
}

export interface CheckpointMeta {
  runId: string;
  /** Same model, data and settings: only then may a run continue from this checkpoint. */
  fingerprint: string;
  /** What the fingerprint was made of, to say what a checkpoint holds and why another run differs. */
  identity?: RunIdentity;
  modelKey: string;
  position: TrainerPosition;
  totalSteps: number;
  lora: LoraSettings;
  history: StepRecord[];
  savedAt: number;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  /** PEFT names. */
  lora: Record<string, Float32Array>;
  optimizer: OptimizerState;
}

/** The meta as stored: the AdamW step count travels with it (in memory it lives in Checkpoint.optimizer). */
type StoredMeta = CheckpointMeta & { optimizerStep: number };

interface Pointer {
  seq: number;
  bytes: number;
  meta: Omit<StoredMeta, 'history'> & { lastLoss?: number };
}

const pointerKey = (runId: string): Key => ['ckpt', runId];
const dataKey = (runId: string, seq: number): Key => ['ckpt-data', runId, seq];

export function encodeCheckpoint(c: Checkpoint): Blob {
  const names = Object.keys(c.lora).sort();
  if (names.some((n) => n === OPT_M || n === OPT_V))
    throw new CheckpointError(`LoRA tensor name collides with ${OPT_M}/${OPT_V}`);
  if (c.optimizer.m.length !== c.optimizer.v.length)
    throw new CheckpointError(
      `optimizer moments differ in length (m ${c.optimizer.m.length}, v ${c.optimizer.v.length})`,
    );
  const tensors = [
    ...names.map((name) => ({ name, dtype: 'F32' as const, shape: [c.lora[name].length], data: c.lora[name] })),
    { name: OPT_M, dtype: 'F32' as const, shape: [c.optimizer.m.length], data: c.optimizer.m },
    { name: OPT_V, dtype: 'F32' as const, shape: [c.optimizer.v.length], data: c.optimizer.v },
  ];
  const meta = { ...c.meta, optimizerStep: c.optimizer.step };
  return new Blob(encodeSafetensors(tensors, { format: FORMAT, webtune: JSON.stringify(meta) }) as BlobPart[]);
}

export async function decodeCheckpoint(blob: Blob, where = 'checkpoint'): Promise<Checkpoint> {
  let st: SafetensorsFile;
  try {
    st = await SafetensorsFile.open(blob, where);
  } catch (e) {
    throw new CheckpointError(`${where}: unreadable (${(e as Error).message})`);
  }
  if (st.metadata.format !== FORMAT)
    throw new CheckpointError(`${where}: not a Webtune checkpoint (format ${JSON.stringify(st.metadata.format)})`);
  let meta: StoredMeta;
  try {
    meta = JSON.parse(st.metadata.webtune);
  } catch (e) {
    throw new CheckpointError(`${where}: metadata is not valid JSON (${(e as Error).message})`);
  }
  const p = meta.position;
  if (!p || ![p.step, p.epoch, p.microInEpoch].every((x) => Number.isInteger(x) && x >= 0))
    throw new CheckpointError(`${where}: trainer position ${JSON.stringify(p)} is not three non-negative integers`);
  const lora: Record<string, Float32Array> = {};
  let m: Float32Array | undefined, v: Float32Array | undefined;
  for (const [name, info] of st.tensors) {
    if (info.dtype !== 'F32') throw new CheckpointError(`${where}: tensor ${name} is ${info.dtype}, expected F32`);
    // Copy out: the view may share one buffer with every other tensor of the file.
    const data = new Float32Array((await st.read(name)) as Float32Array);
    if (name === OPT_M) m = data;
    else if (name === OPT_V) v = data;
    else lora[name] = data;
  }
  if (!m || !v) throw new CheckpointError(`${where}: optimizer state missing`);
  const P = Object.values(lora).reduce((a, t) => a + t.length, 0);
  if (m.length !== P || v.length !== P)
    throw new CheckpointError(`${where}: optimizer state holds ${m.length} values for ${P} LoRA parameters`);
  const { optimizerStep, ...rest } = meta;
  return { meta: rest, lora, optimizer: { step: optimizerStep, m, v } };
}

export class CheckpointStore {
  constructor(private readonly store: KeyValueStore) {}

  async save(c: Checkpoint): Promise<CheckpointInfo> {
    const runId = c.meta.runId;
    const old = await this.store.get<Pointer>(pointerKey(runId));
    const seq = (old?.seq ?? 0) + 1;
    const blob = encodeCheckpoint(c);
    const { history, ...rest } = { ...c.meta, optimizerStep: c.optimizer.step };
    const pointer: Pointer = { seq, bytes: blob.size, meta: { ...rest, lastLoss: history.at(-1)?.loss } };
    try {
      await this.store.setMany([[dataKey(runId, seq), blob]]);
      await this.store.setMany([[pointerKey(runId), pointer]]);
    } catch (e) {
      if (!isQuotaError(e)) throw e;
      // The half-stored data goes; the previous checkpoint (its pointer untouched) stays usable.
      await this.store.delMany([dataKey(runId, seq)]).catch(() => undefined);
      throw new CheckpointSpaceError(
        blob.size,
        `the checkpoint at step ${c.meta.position.step} needs ${formatMiB(blob.size)} of browser storage and the quota is full`,
      );
    }
    await this.sweep(runId, seq);
    return info(pointer);
  }

  async load(runId: string): Promise<Checkpoint | undefined> {
    const p = await this.store.get<Pointer>(pointerKey(runId));
    if (!p) return undefined;
    const blob = await this.store.get<Blob>(dataKey(runId, p.seq));
    if (!(blob instanceof Blob))
      throw new CheckpointError(`checkpoint ${runId} step ${p.meta.position.step}: data missing from IndexedDB`);
    if (blob.size !== p.bytes)
      throw new CheckpointError(
        `checkpoint ${runId} step ${p.meta.position.step}: ${blob.size} bytes stored, ${p.bytes} expected`,
      );
    return decodeCheckpoint(blob, `checkpoint ${runId} step ${p.meta.position.step}`);
  }

  async list(): Promise<CheckpointInfo[]> {
    const keys = (await this.store.keys()).filter((k) => k[0] === 'ckpt');
    const ptrs = await this.store.getMany<Pointer>(keys);
    return ptrs
      .filter((p): p is Pointer => !!p)
      .map(info)
      .sort((a, b) => b.savedAt - a.savedAt);
  }

  async delete(runId: string): Promise<void> {
    const keys = await this.store.keys();
    await this.store.delMany(keys.filter((k) => hasPrefix(k, pointerKey(runId)) || hasPrefix(k, ['ckpt-data', runId])));
  }

  /** Data no pointer refers to: older checkpoints, or a write a crash cut short. */
  private async sweep(runId: string, keep: number): Promise<void> {
    const keys = await this.store.keys();
    await this.store.delMany(keys.filter((k) => hasPrefix(k, ['ckpt-data', runId]) && k[2] !== keep));
  }
}

function info(p: Pointer): CheckpointInfo {
  const m = p.meta;
  return {
    runId: m.runId,
    modelKey: m.modelKey,
    step: m.position.step,
    totalSteps: m.totalSteps,
    savedAt: m.savedAt,
    bytes: p.bytes,
    lastLoss: m.lastLoss,
    fingerprint: m.fingerprint,
    identity: m.identity,
  };
}
