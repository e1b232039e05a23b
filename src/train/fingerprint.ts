// What identifies a training run: the base model, every setting that changes a step, and every
// token of the training data in order. Two runs with the same fingerprint make the same steps,
// so one may continue the other's checkpoint; the page offers Resume only for a match, the CLI
// refuses `--resume` otherwise, and stored runs are keyed by it.

import type { LoraSettings } from '../engine/engine.ts';
import { Sha256 } from '../io/sha256.ts';

export interface RunParts {
  /** The base weights: a cache source key, or a digest of a folder's config and tensor table. */
  modelKey: string;
  /** Trainer settings (optimizer, schedule, batch, seed, padding id): anything JSON. */
  settings: unknown;
  lora: LoraSettings;
  /** Tokenized training examples, in the order the run sees them before shuffling. */
  data: readonly { ids: Int32Array; labels: Int32Array }[];
}

/** JSON with object keys sorted at every depth, so the same settings give the same text however they were built. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x === undefined ? null : x)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const bytes = (a: Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Each example's length goes in before it, so rows cannot run into each other. */
function hashExamples(h: Sha256, data: RunParts['data']): void {
  const len = new Int32Array(2);
  for (const ex of data) {
    len[0] = ex.ids.length;
    len[1] = ex.labels.length;
    h.update(new Uint8Array(len.buffer));
    h.update(bytes(ex.ids));
    h.update(bytes(ex.labels));
  }
}

/** SHA-256 hex of the tokenized training data alone: which runs saw the same rows. */
export async function dataFingerprint(data: RunParts['data']): Promise<string> {
  const h = await Sha256.create();
  h.update(new TextEncoder().encode(`data:${data.length}`));
  hashExamples(h, data);
  return h.hex();
}

/** What a run's fingerprint is made of; kept with a checkpoint so a mismatch can be explained. */
export interface RunIdentity {
  modelKey: string;
  settings: unknown;
  lora: LoraSettings;
  rows: number;
  /** dataFingerprint of the examples. */
  data: string;
}

export async function runIdentity(parts: RunParts): Promise<RunIdentity> {
  return {
    modelKey: parts.modelKey,
    settings: parts.settings,
    lora: parts.lora,
    rows: parts.data.length,
    data: await dataFingerprint(parts.data),
  };
}

/** SHA-256 hex of a run's identity (the data enters as its own fingerprint, so it is hashed once). */
export async function identityFingerprint(id: RunIdentity): Promise<string> {
  return (await Sha256.create()).update(new TextEncoder().encode(canonicalJson(id))).hex();
}

/** SHA-256 hex of the run's parts. */
export async function runFingerprint(parts: RunParts): Promise<string> {
  return identityFingerprint(await runIdentity(parts));
}

/** How two runs differ, setting by setting, for a message ("lr: 0.01 in the checkpoint, 0.02 now"). */
export function describeMismatch(stored: RunIdentity, now: RunIdentity): string[] {
  const out: string[] = [];
  if (stored.modelKey !== now.modelKey) out.push('the base model differs');
  if (stored.data !== now.data)
    out.push(
      stored.rows === now.rows
        ? `the training data differs (other tokens in the same ${now.rows} examples)`
        : `the training data differs (${stored.rows} examples in the checkpoint, ${now.rows} now)`,
    );
  const flat = (x: unknown, prefix: string): Record<string, string> =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.assign(
          {},
          ...Object.entries(x as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => flat(v, prefix ? `${prefix}.${k}` : k)),
        )
      : { [prefix]: canonicalJson(x) };
  for (const [what, a, b] of [
    ['', stored.settings, now.settings],
    ['LoRA ', stored.lora, now.lora],
  ] as const) {
    const fa = flat(a, ''),
      fb = flat(b, '');
    for (const k of [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort())
      if (fa[k] !== fb[k]) out.push(`${what}${k}: ${fa[k] ?? 'unset'} in the checkpoint, ${fb[k] ?? 'unset'} now`);
  }
  return out;
}

/** The short form used as a run id and shown to the user. */
export function shortFingerprint(fingerprint: string): string {
  return fingerprint.slice(0, 16);
}
