// The model cache layout in IndexedDB. A file is a record plus numbered chunk Blobs (never one
// 1 GB value: browsers refuse or copy such values, and a chunk is the unit a download resumes
// from). Reading a cached file assembles a Blob from the chunk Blobs, which Chrome keeps on disk,
// so the weights are not held in memory twice.

import { DownloadError, ModelFilesError } from '../core/errors.ts';
import type { Sha256State } from './sha256.ts';
import { hasPrefix, type Key, type KeyValueStore } from './store.ts';
import { quantizedOf } from './quant-cache.ts';

export interface StorageInfo {
  usage: number;
  quota: number;
  persisted: boolean;
}

export interface CachedModelInfo {
  sourceKey: string;
  name: string;
  files: { name: string; size: number; complete: boolean }[];
  /** Quantized weights kept for QLoRA loads (io/quant-cache.ts), counted in bytes. */
  quantized?: { quant: 'nf4'; tensors: number; bytes: number };
  bytes: number;
  complete: boolean;
  updatedAt: number;
}

/** Big enough that a 1 GB model is ~32 values, small enough to lose little on an interruption. */
export const DEFAULT_CHUNK_SIZE = 32 << 20;

export const MODEL_DB = 'webtune-models';
export const MODEL_STORE = 'files';

/** Progress of one file; complete once size and hash were checked. */
export interface FileRecord {
  url: string;
  /** Full size when the server or hub told it. */
  size?: number;
  /** Expected sha256 (hub listing or X-Linked-Etag), when published. */
  sha256?: string;
  etag?: string;
  chunkSize: number;
  /** Chunks 0..chunks-1 are stored; every one but the last of a complete file is chunkSize long. */
  chunks: number;
  bytes: number;
  /** Hash state after the stored chunks, so a resumed download need not re-read them. */
  /** The running hash of the stored chunks; absent before the first. */
  hash?: Sha256State;
  complete: boolean;
  /** sha256 of the stored content, once complete. */
  actualSha256?: string;
  verified: 'sha256' | 'size' | 'none';
  updatedAt: number;
}

export interface ModelManifest {
  sourceKey: string;
  name: string;
  /** Every file the model needs, weights last. */
  files: string[];
  complete: boolean;
  updatedAt: number;
}

export const fileKey = (source: string, file: string): Key => ['file', source, file];
export const chunkKey = (source: string, file: string, i: number): Key => ['chunk', source, file, i];
export const manifestKey = (source: string): Key => ['model', source];

export function freshRecord(url: string, chunkSize: number): FileRecord {
  return { url, chunkSize, chunks: 0, bytes: 0, complete: false, verified: 'none', updatedAt: Date.now() };
}

/** Drops a file's chunks and record (a corrupt or changed file). */
export async function deleteFile(store: KeyValueStore, source: string, file: string): Promise<void> {
  const all = await store.keys();
  await store.delMany(all.filter((k) => hasPrefix(k, ['chunk', source, file]) || hasPrefix(k, fileKey(source, file))));
}

export async function getRecord(store: KeyValueStore, source: string, file: string): Promise<FileRecord | undefined> {
  return store.get<FileRecord>(fileKey(source, file));
}

/** The file as one Blob over its chunk Blobs; refuses incomplete or damaged entries. */
export async function readCachedFile(store: KeyValueStore, source: string, file: string): Promise<Blob> {
  const rec = await getRecord(store, source, file);
  if (!rec?.complete) throw new ModelFilesError(file, `not fully in the cache of ${source}`);
  const chunks = await store.getMany<Blob>(Array.from({ length: rec.chunks }, (_, i) => chunkKey(source, file, i)));
  const missing = chunks.findIndex((c) => !(c instanceof Blob));
  if (missing >= 0)
    throw new ModelFilesError(
      file,
      `chunk ${missing} is missing from the cache of ${source}; delete the cached model and download again`,
    );
  const blob = new Blob(chunks as Blob[]);
  if (blob.size !== rec.bytes)
    throw new ModelFilesError(
      file,
      `cached size ${blob.size} differs from the recorded ${rec.bytes}; delete the cached model and download again`,
    );
  return blob;
}

/**
 * Every model with anything stored, complete or not: an interrupted download keeps its chunks
 * (to resume), and the user must see them to be able to delete them.
 */
export async function listCachedModels(store: KeyValueStore): Promise<CachedModelInfo[]> {
  const keys = await store.keys();
  const manifestKeys = keys.filter((k) => k[0] === 'model');
  const manifests = new Map<string, ModelManifest>();
  for (const m of await store.getMany<ModelManifest>(manifestKeys)) if (m) manifests.set(m.sourceKey, m);
  const stored = new Map<string, string[]>();
  for (const k of keys)
    if (k[0] === 'file') stored.set(String(k[1]), [...(stored.get(String(k[1])) ?? []), String(k[2])]);
  const out: CachedModelInfo[] = [];
  for (const source of new Set([...manifests.keys(), ...stored.keys()])) {
    const m = manifests.get(source);
    if (!m?.complete && !stored.has(source)) continue;
    const names = m?.complete ? m.files : [...new Set([...(m?.files ?? []), ...(stored.get(source) ?? [])])];
    const recs = await store.getMany<FileRecord>(names.map((f) => fileKey(source, f)));
    const files = names.map((name, i) => ({ name, size: recs[i]?.bytes ?? 0, complete: recs[i]?.complete ?? false }));
    const quantized = await quantizedOf(store, source);
    out.push({
      sourceKey: source,
      name: m?.name ?? source,
      files,
      ...(quantized ? { quantized } : {}),
      bytes: files.reduce((a, f) => a + f.size, 0) + (quantized?.bytes ?? 0),
      complete: Boolean(m?.complete) && files.every((f) => f.complete),
      updatedAt: Math.max(m?.updatedAt ?? 0, ...recs.map((r) => r?.updatedAt ?? 0)),
    });
  }
  return out.sort((a, b) => b.updatedAt - a.updatedAt);
}

export async function deleteCachedModel(store: KeyValueStore, source: string): Promise<void> {
  const keys = await store.keys();
  // 'quant': the model's quantized weights (io/quant-cache.ts)
  await store.delMany(
    keys.filter(
      (k) => (k[0] === 'file' || k[0] === 'chunk' || k[0] === 'model' || k[0] === 'quant') && k[1] === source,
    ),
  );
}

export async function storageInfo(): Promise<StorageInfo | undefined> {
  const sm = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!sm?.estimate) return undefined;
  const e = await sm.estimate();
  const persisted = sm.persisted ? await sm.persisted() : false;
  return { usage: e.usage ?? 0, quota: e.quota ?? 0, persisted };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024,
    u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** Refuses before a transfer the browser could not store, rather than failing at 90%. */
export async function ensureSpace(needed: number, what: string, info?: StorageInfo): Promise<void> {
  const s = info ?? (await storageInfo());
  if (!s || !s.quota) return;
  const free = s.quota - s.usage;
  // Some slack: IndexedDB stores a little more than the raw bytes.
  if (needed * 1.05 + (8 << 20) > free)
    throw new DownloadError(
      what,
      'quota',
      `needs ${formatBytes(needed)} of browser storage but only ${formatBytes(Math.max(0, free))} is free for this site (quota ${formatBytes(s.quota)}); delete cached models or free disk space`,
    );
}
