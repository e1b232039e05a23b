// A model's files from any source, as the engine and tokenizer need them: the JSON files as
// text, the weights as a TensorSource over Blobs (cache chunks or the picked File), so nothing
// large is read before the engine asks for a tensor.

import { DownloadError, ModelFilesError } from '../core/errors.ts';
import { SafetensorsFile, ShardedSafetensors, type TensorSource } from '../core/safetensors.ts';
import { deleteCachedModel, ensureSpace, getRecord, manifestKey, readCachedFile, type ModelManifest } from './cache.ts';
import { downloadFile, type FetchFn, type FileProgress } from './download.ts';
import {
  BUILTIN_MODELS,
  builtinNameOf,
  type BuiltinModel,
  fileUrl,
  listingUrl,
  OPTIONAL_FILES,
  parseListing,
  REQUIRED_FILES,
  SHARD_INDEX,
  shardNames,
  SINGLE_WEIGHTS,
  sourceKey,
  sourceName,
  validateSource,
  type ModelSource,
  type RemoteFileInfo,
  type RemoteSource,
} from './sources.ts';
import type { KeyValueStore } from './store.ts';

export interface ModelFileInfo {
  name: string;
  size: number;
  fromCache: boolean;
  sha256?: string;
}

export interface ModelFiles {
  name: string;
  /** '' for local folders (not cached). */
  sourceKey: string;
  configJson: string;
  tokenizerJson: string;
  tokenizerConfigJson?: string;
  generationConfigJson?: string;
  weights: TensorSource;
  files: ModelFileInfo[];
}

export interface OpenProgress {
  phase: 'check' | 'download' | 'cache';
  file: FileProgress;
  /** Over all files, when their sizes are known (0 otherwise). */
  loadedBytes: number;
  totalBytes: number;
  /** Over all files when the hub listed them, else for the current file. */
  etaSec: number;
  fromCache: boolean;
}

export interface OpenOptions {
  store: KeyValueStore;
  fetchFn?: FetchFn;
  chunkSize?: number;
  retries?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
  stallTimeoutMs?: number;
  onProgress?: (p: OpenProgress) => void;
  /** Skip the storage estimate (tests, or an in-memory store). */
  skipSpaceCheck?: boolean;
  /**
   * Called with config.json as soon as it is read, before any weight is downloaded or opened:
   * throwing refuses the model (one that cannot fit) at the cost of a few kilobytes.
   */
  checkConfig?: (configJson: string) => void | Promise<void>;
}

export async function openModel(source: ModelSource, opts: OpenOptions): Promise<ModelFiles> {
  if (source.kind === 'local') return openLocal(source.files, opts, source.name);
  return openRemote(source, opts);
}

async function openRemote(source: RemoteSource, opts: OpenOptions): Promise<ModelFiles> {
  validateSource(source);
  const key = sourceKey(source);
  const name = sourceName(source);
  const manifest = await opts.store.get<ModelManifest>(manifestKey(key));
  if (manifest?.complete) {
    const recs = await Promise.all(manifest.files.map((f) => getRecord(opts.store, key, f)));
    // A second visit: everything is read from IndexedDB, no request is made.
    if (recs.every((r) => r?.complete)) {
      await opts.checkConfig?.(await (await readCachedFile(opts.store, key, 'config.json')).text());
      return fromCache(key, name, manifest.files, opts);
    }
  }

  const listing = await fetchListing(source, opts);
  const sharded = listing ? !listing.has(SINGLE_WEIGHTS) && listing.has(SHARD_INDEX) : false;
  // Totals count only what will be fetched: repos also carry READMEs, vocab.json, ONNX or .bin copies.
  const wanted = (f: string) =>
    (REQUIRED_FILES as readonly string[]).includes(f) ||
    (OPTIONAL_FILES as readonly string[]).includes(f) ||
    (sharded ? f === SHARD_INDEX || (/\.safetensors$/.test(f) && !f.includes('/')) : f === SINGLE_WEIGHTS);
  const sizes = new Map<string, { bytes: number; total: number }>();
  if (listing) for (const [f, info] of listing) if (wanted(f)) sizes.set(f, { bytes: 0, total: info.size });
  const sum = (k: 'bytes' | 'total') => [...sizes.values()].reduce((a, s) => a + s[k], 0);
  const fetchOne = async (file: string, expect: 'json' | 'safetensors', optional = false) => {
    try {
      return await downloadFile({
        store: opts.store,
        sourceKey: key,
        file,
        url: fileUrl(source, file),
        expected: listing?.get(file),
        headerHash: listing ? 'none' : source.kind === 'hf' || source.kind === 'modelscope' ? 'x-linked' : 'any',
        expect,
        chunkSize: opts.chunkSize,
        retries: opts.retries,
        retryDelayMs: opts.retryDelayMs,
        signal: opts.signal,
        stallTimeoutMs: opts.stallTimeoutMs,
        fetchFn: opts.fetchFn,
        ensureSpace: opts.skipSpaceCheck ? undefined : (n) => ensureSpace(n, file),
        onProgress: (p) => {
          sizes.set(file, { bytes: p.bytes, total: p.total });
          const loadedBytes = sum('bytes'),
            totalBytes = sum('total');
          const etaSec =
            listing && p.bytesPerSec > 0 ? Math.max(0, totalBytes - loadedBytes) / p.bytesPerSec : p.etaSec;
          opts.onProgress?.({ phase: 'download', file: p, loadedBytes, totalBytes, etaSec, fromCache: false });
        },
      });
    } catch (e) {
      if (optional && e instanceof DownloadError && e.kind === 'not-found') return undefined;
      if (source.kind === 'builtin' && e instanceof DownloadError && e.kind === 'not-found')
        throw new DownloadError(e.url, 'not-found', builtinMissing(builtinNameOf(source.baseUrl), file));
      throw e;
    }
  };

  const files: string[] = [];
  for (const f of REQUIRED_FILES) {
    await fetchOne(f, 'json');
    files.push(f);
    // Named in the cache list from the first stored file on, so a download cut short can be found and deleted.
    if (!manifest && f === REQUIRED_FILES[0])
      await opts.store.setMany([
        [
          manifestKey(key),
          { sourceKey: key, name, files: [], complete: false, updatedAt: Date.now() } satisfies ModelManifest,
        ],
      ]);
    // config.json comes first: a model that cannot fit is refused before its weights download
    if (f === 'config.json' && opts.checkConfig) {
      try {
        await opts.checkConfig(await (await readCachedFile(opts.store, key, f)).text());
      } catch (e) {
        if (!manifest) await deleteCachedModel(opts.store, key); // nothing of a refused model stays cached
        throw e;
      }
    }
  }
  for (const f of OPTIONAL_FILES) {
    if (listing && !listing.has(f)) continue;
    if (await fetchOne(f, 'json', true)) files.push(f);
  }

  if (listing && !sharded && !listing.has(SINGLE_WEIGHTS))
    throw new DownloadError(
      listingUrl(source) ?? name,
      'not-found',
      `the repository has neither ${SINGLE_WEIGHTS} nor ${SHARD_INDEX}; Webtune needs safetensors weights`,
    );
  if (listing && !opts.skipSpaceCheck) {
    const weightNames = sharded ? [...listing.keys()].filter((f) => /\.safetensors$/.test(f)) : [SINGLE_WEIGHTS];
    const need = weightNames.reduce((a, f) => a + (listing.get(f)?.size ?? 0), 0);
    const have = (await Promise.all(weightNames.map((f) => getRecord(opts.store, key, f)))).reduce(
      (a, r) => a + (r?.bytes ?? 0),
      0,
    );
    await ensureSpace(need - have, name);
  }

  let weightFiles: string[];
  if (!sharded && (await fetchOne(SINGLE_WEIGHTS, 'safetensors', !listing))) weightFiles = [SINGLE_WEIGHTS];
  else {
    if (!(await fetchOne(SHARD_INDEX, 'json', true)))
      throw new DownloadError(
        name,
        'not-found',
        `found neither ${SINGLE_WEIGHTS} nor ${SHARD_INDEX}; Webtune needs safetensors weights`,
      );
    const shards = shardNames(await (await readCachedFile(opts.store, key, SHARD_INDEX)).text());
    for (const s of shards) await fetchOne(s, 'safetensors');
    weightFiles = [SHARD_INDEX, ...shards];
  }
  files.push(...weightFiles);
  const done: ModelManifest = { sourceKey: key, name, files, complete: true, updatedAt: Date.now() };
  await opts.store.setMany([[manifestKey(key), done]]);
  return fromCache(key, name, files, opts);
}

/** Sizes and hashes from the hub API; a missing listing only loses the hash check. */
async function fetchListing(source: RemoteSource, opts: OpenOptions): Promise<Map<string, RemoteFileInfo> | undefined> {
  const url = listingUrl(source);
  if (!url || (source.kind !== 'hf' && source.kind !== 'modelscope')) return undefined;
  const fetchFn = opts.fetchFn ?? ((u: string, i?: RequestInit) => fetch(u, i));
  let res: Response;
  try {
    res = await fetchFn(url, { signal: opts.signal, cache: 'no-store' });
  } catch {
    return undefined;
  }
  if (res.status === 404 || res.status === 401)
    throw new DownloadError(
      url,
      'not-found',
      `repository ${source.repo} at revision ${source.revision} not found (HTTP ${res.status}): check the name, or it is private or gated`,
    );
  if (!res.ok) return undefined;
  try {
    return parseListing(source.kind, await res.json());
  } catch {
    return undefined;
  }
}

async function fromCache(key: string, name: string, files: string[], opts: OpenOptions): Promise<ModelFiles> {
  const blobs = new Map<string, Blob>();
  const infos: ModelFileInfo[] = [];
  for (const f of files) {
    const b = await readCachedFile(opts.store, key, f);
    const rec = await getRecord(opts.store, key, f);
    blobs.set(f, b);
    infos.push({ name: f, size: b.size, fromCache: true, sha256: rec?.actualSha256 });
    const done = infos.reduce((a, i) => a + i.size, 0);
    opts.onProgress?.({
      phase: 'cache',
      file: { file: f, bytes: b.size, total: b.size, bytesPerSec: 0, etaSec: 0 },
      loadedBytes: done,
      totalBytes: 0,
      etaSec: 0,
      fromCache: true,
    });
  }
  return assemble(name, key, blobs, infos);
}

/** Picks the model files out of a folder by base name (the picker gives nested paths). */
async function openLocal(files: File[], opts: Pick<OpenOptions, 'checkConfig'>, folder?: string): Promise<ModelFiles> {
  const byName = new Map<string, File>();
  const depth = (f: File) =>
    ((f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name).split('/').length;
  for (const f of [...files].sort((a, b) => depth(a) - depth(b))) if (!byName.has(f.name)) byName.set(f.name, f);
  const name = sourceName({ kind: 'local', files, name: folder });
  for (const f of REQUIRED_FILES)
    if (!byName.has(f))
      throw new ModelFilesError(
        f,
        `missing from the folder "${name}" (it needs config.json, tokenizer.json and the safetensors weights)`,
      );
  await opts.checkConfig?.(await byName.get('config.json')!.text());
  let weightFiles: string[];
  if (byName.has(SINGLE_WEIGHTS)) weightFiles = [SINGLE_WEIGHTS];
  else if (byName.has(SHARD_INDEX)) {
    const shards = shardNames(await byName.get(SHARD_INDEX)!.text());
    for (const s of shards)
      if (!byName.has(s.split('/').pop()!))
        throw new ModelFilesError(s, `listed in ${SHARD_INDEX} but missing from the folder "${name}"`);
    weightFiles = [SHARD_INDEX, ...shards];
  } else
    throw new ModelFilesError(SINGLE_WEIGHTS, `the folder "${name}" has neither ${SINGLE_WEIGHTS} nor ${SHARD_INDEX}`);
  const blobs = new Map<string, Blob>();
  const infos: ModelFileInfo[] = [];
  for (const f of [...REQUIRED_FILES, ...OPTIONAL_FILES, ...weightFiles]) {
    const file = byName.get(f.split('/').pop()!);
    if (!file) continue;
    blobs.set(f, file);
    infos.push({ name: f, size: file.size, fromCache: false });
  }
  return assemble(name, '', blobs, infos);
}

async function assemble(
  name: string,
  key: string,
  blobs: Map<string, Blob>,
  files: ModelFileInfo[],
): Promise<ModelFiles> {
  const text = async (f: string) => {
    const b = blobs.get(f);
    return b ? b.text() : undefined;
  };
  let weights: TensorSource;
  if (blobs.has(SINGLE_WEIGHTS)) weights = await SafetensorsFile.open(blobs.get(SINGLE_WEIGHTS)!, SINGLE_WEIGHTS);
  else {
    weights = await ShardedSafetensors.open((await text(SHARD_INDEX))!, async (shard) => {
      const b = blobs.get(shard);
      if (!b) throw new ModelFilesError(shard, 'shard missing');
      return b;
    });
  }
  const configJson = (await text('config.json'))!;
  const tokenizerJson = (await text('tokenizer.json'))!;
  return {
    name,
    sourceKey: key,
    configJson,
    tokenizerJson,
    tokenizerConfigJson: await text('tokenizer_config.json'),
    generationConfigJson: await text('generation_config.json'),
    weights,
    files,
  };
}

/** Why a built-in model is not served: the demo model is committed, the tiny one is made by a script. */
function builtinMissing(name: BuiltinModel, file: string): string {
  const folder = `public/${BUILTIN_MODELS[name]}`;
  return name === 'tiny'
    ? `the built-in tiny model is not served here (${file} missing from ${folder}); run \`npm run tiny\` before \`vite\`, or pick another model`
    : `the built-in demo model is not served here (${file} missing from ${folder}, which the repository holds: check out the whole repository), or pick another model`;
}
