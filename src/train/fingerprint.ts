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
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
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

/** SHA-256 hex of the run's parts. */
export function runFingerprint(parts: RunParts): string {
  const h = new Sha256();
  h.update(new TextEncoder().encode(canonicalJson({ model: parts.modelKey, settings: parts.settings, lora: parts.lora, n: parts.data.length })));
  hashExamples(h, parts.data);
  return h.hex();
}

/** SHA-256 hex of the tokenized training data alone: which runs saw the same rows. */
export function dataFingerprint(data: RunParts['data']): string {
  const h = new Sha256();
  h.update(new TextEncoder().encode(`data:${data.length}`));
  hashExamples(h, data);
  return h.hex();
}

/** The short form used as a run id and shown to the user. */
export function shortFingerprint(fingerprint: string): string {
  return fingerprint.slice(0, 16);
}
