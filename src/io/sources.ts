// Where each model file of a source lives, and what the hub says about it (size, sha256).
// Pure functions: no fetch here, so URL building and listing parsing are tested directly.

import { ModelSourceError } from '../core/errors.ts';

/** Where model files come from. Cached sources are keyed by kind + repo/baseUrl + revision. */
/**
 * The page's built-in models, folders under the page's base URL. tiny: random weights (`npm run
 * tiny`); demo: a small Qwen2 pretrained on generic copy and JSON tasks (scripts/demo/), to be
 * committed under public/models/demo once its pretraining copies values after fine-tuning
 * (scripts/demo/README.md says where it stands). The browser tests ask for tiny by name
 * (`?builtin=tiny`), so DEFAULT_BUILTIN is the one line that makes the demo model the default.
 */
export const BUILTIN_MODELS = { demo: 'models/demo/', tiny: 'models/tiny/' } as const;
export type BuiltinModel = keyof typeof BUILTIN_MODELS;
export const DEFAULT_BUILTIN: BuiltinModel = 'tiny';
let builtinInUse: BuiltinModel = DEFAULT_BUILTIN;

/** The page picks its built-in model once, at start, from `?builtin=` (main.ts). */
export function useBuiltinModel(name: BuiltinModel): void {
  builtinInUse = name;
}

/** The built-in model a `?builtin=` value names, DEFAULT_BUILTIN for anything else. */
export function builtinFromQuery(value: string | null): BuiltinModel {
  return value === 'tiny' || value === 'demo' ? value : DEFAULT_BUILTIN;
}

/** Folder of the page's built-in model under the page's base URL. */
export function builtinModelPath(): string {
  return BUILTIN_MODELS[builtinInUse];
}

/** Which built-in model a resolved builtin source serves (by its folder). */
export function builtinNameOf(baseUrl: string | undefined): BuiltinModel {
  return withSlash(baseUrl ?? '').endsWith(BUILTIN_MODELS.tiny) ? 'tiny' : 'demo';
}

export type ModelSource =
  /** A model the app serves under its own base URL (BUILTIN_MODELS). */
  | { kind: 'builtin'; /** Absolute URL of that folder; the client fills it from the page's base. */ baseUrl?: string }
  /** endpoint: a mirror with the same API (e.g. https://hf-mirror.com); default https://huggingface.co. */
  | { kind: 'hf'; repo: string; revision: string; endpoint?: string }
  /** endpoint default https://www.modelscope.cn. */
  | { kind: 'modelscope'; repo: string; revision: string; endpoint?: string }
  /** Any server with the Hugging Face file layout under baseUrl (config.json next to the weights). */
  | { kind: 'url'; baseUrl: string }
  /** A picked or dropped folder: what `huggingface-cli download` / `modelscope download` left. */
  /** name: the folder's, when the page knows it (a File's path does not survive the trip to the worker). */
  | { kind: 'local'; files: File[]; name?: string };

export type RemoteSource = Exclude<ModelSource, { kind: 'local' }>;

export const HF_ENDPOINT = 'https://huggingface.co';
export const MODELSCOPE_ENDPOINT = 'https://www.modelscope.cn';

/** Small files first: a wrong URL or a CORS refusal shows up before any large transfer. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json'] as const;
export const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json'] as const;
export const SINGLE_WEIGHTS = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

/** What a hub listing tells about one file. */
export interface RemoteFileInfo {
  size: number;
  /** Only for files whose hub id is a sha256 of the content (LFS files). */
  sha256?: string;
}

const REPO_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkRepo(repo: string): void {
  if (!REPO_RE.test(repo) || repo.includes('..'))
    throw new ModelSourceError(
      'repo',
      `"${repo}" is not a repository id of the form owner/name (e.g. Qwen/Qwen2.5-0.5B-Instruct)`,
    );
}

function checkRevision(revision: string): void {
  if (!revision || /\s/.test(revision) || revision.includes('..'))
    throw new ModelSourceError('revision', `"${revision}" is not a branch, tag or commit (e.g. main)`);
}

function checkBaseUrl(field: string, url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ModelSourceError(field, `"${url}" is not an absolute URL (it must start with https:// or http://)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new ModelSourceError(field, `"${url}" must be an http(s) URL`);
  return u;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : url + '/';
}

function endpointOf(s: RemoteSource): string {
  if (s.kind === 'hf') return (s.endpoint ?? HF_ENDPOINT).replace(/\/+$/, '');
  if (s.kind === 'modelscope') return (s.endpoint ?? MODELSCOPE_ENDPOINT).replace(/\/+$/, '');
  return '';
}

/** Throws ModelSourceError naming the field when the source cannot be used. */
export function validateSource(s: RemoteSource): void {
  switch (s.kind) {
    case 'hf':
    case 'modelscope':
      checkRepo(s.repo);
      checkRevision(s.revision);
      if (s.endpoint) checkBaseUrl('endpoint', s.endpoint);
      return;
    case 'url':
      checkBaseUrl('baseUrl', s.baseUrl);
      return;
    case 'builtin':
      if (!s.baseUrl)
        throw new ModelSourceError(
          'baseUrl',
          'the builtin model needs the page to resolve its folder URL (use createTrainingWorker)',
        );
      checkBaseUrl('baseUrl', s.baseUrl);
  }
}

/** Cache key: the same files for the same key, whichever page asks. */
export function sourceKey(s: RemoteSource): string {
  switch (s.kind) {
    case 'hf':
      return `hf:${endpointOf(s) === HF_ENDPOINT ? '' : endpointOf(s) + '|'}${s.repo}@${s.revision}`;
    case 'modelscope':
      return `modelscope:${endpointOf(s) === MODELSCOPE_ENDPOINT ? '' : endpointOf(s) + '|'}${s.repo}@${s.revision}`;
    case 'url':
      return `url:${withSlash(s.baseUrl)}`;
    case 'builtin':
      return `builtin:${withSlash(s.baseUrl ?? '')}`;
  }
}

export function sourceName(s: ModelSource): string {
  switch (s.kind) {
    case 'hf':
    case 'modelscope':
      return s.revision === 'main' || s.revision === 'master' ? s.repo : `${s.repo}@${s.revision}`;
    case 'url':
      return withSlash(s.baseUrl);
    case 'builtin':
      return `${builtinNameOf(s.baseUrl)} (built in)`;
    case 'local': {
      if (s.name) return s.name;
      const first = s.files[0] as (File & { webkitRelativePath?: string }) | undefined;
      const rel = first?.webkitRelativePath ?? '';
      return rel.includes('/') ? rel.split('/')[0] : 'local folder';
    }
  }
}

/** Path segments are encoded one by one so shard names like "a/b.safetensors" keep their slash. */
function encodePath(file: string): string {
  return file.split('/').map(encodeURIComponent).join('/');
}

export function fileUrl(s: RemoteSource, file: string): string {
  switch (s.kind) {
    case 'hf':
      return `${endpointOf(s)}/${s.repo}/resolve/${encodeURIComponent(s.revision)}/${encodePath(file)}`;
    case 'modelscope':
      return `${endpointOf(s)}/models/${s.repo}/resolve/${encodeURIComponent(s.revision)}/${encodePath(file)}`;
    case 'url':
      return withSlash(s.baseUrl) + encodePath(file);
    case 'builtin':
      return withSlash(s.baseUrl ?? '') + encodePath(file);
  }
}

/** The hub API that lists files with sizes and hashes; undefined for plain URLs. */
export function listingUrl(s: RemoteSource): string | undefined {
  switch (s.kind) {
    case 'hf':
      return `${endpointOf(s)}/api/models/${s.repo}/tree/${encodeURIComponent(s.revision)}?recursive=true`;
    case 'modelscope':
      return `${endpointOf(s)}/api/v1/models/${s.repo}/repo/files?Revision=${encodeURIComponent(s.revision)}&Recursive=true`;
    default:
      return undefined;
  }
}

const SHA256_RE = /^[0-9a-f]{64}$/;

/**
 * Parses a hub listing. HF: an array of {type, path, size, oid, lfs?: {oid, size}} where the LFS
 * oid is the content's sha256 (the plain oid is a git blob sha1, not usable). ModelScope:
 * {Data: {Files: [{Path, Size, Sha256, Type}]}}.
 */
export function parseListing(kind: 'hf' | 'modelscope', json: unknown): Map<string, RemoteFileInfo> {
  const out = new Map<string, RemoteFileInfo>();
  if (kind === 'hf') {
    if (!Array.isArray(json)) throw new ModelSourceError('listing', 'the Hugging Face file listing is not an array');
    for (const e of json as { type?: string; path?: string; size?: number; lfs?: { oid?: string; size?: number } }[]) {
      if (e.type !== 'file' || typeof e.path !== 'string') continue;
      const size = e.lfs?.size ?? e.size;
      if (typeof size !== 'number') continue;
      const sha = e.lfs?.oid?.replace(/^sha256:/, '').toLowerCase();
      out.set(e.path, { size, sha256: sha && SHA256_RE.test(sha) ? sha : undefined });
    }
    return out;
  }
  const files = (json as { Data?: { Files?: unknown } })?.Data?.Files;
  if (!Array.isArray(files)) throw new ModelSourceError('listing', 'the ModelScope file listing has no Data.Files');
  for (const e of files as { Path?: string; Name?: string; Size?: number; Sha256?: string; Type?: string }[]) {
    const path = e.Path ?? e.Name;
    if (e.Type === 'tree' || typeof path !== 'string' || typeof e.Size !== 'number') continue;
    const sha = e.Sha256?.toLowerCase();
    out.set(path, { size: e.Size, sha256: sha && SHA256_RE.test(sha) ? sha : undefined });
  }
  return out;
}

/**
 * The sha256 a response vouches for: HF sends it as X-Linked-Etag (or ETag) of LFS files. Git
 * blob ids (40 hex) and weak or opaque ETags are not content hashes and give undefined. 'x-linked'
 * ignores ETag: behind a hub redirect, a CDN's 64-hex ETag may be another hash (Xet's).
 */
export function sha256FromHeaders(h: Headers, which: 'x-linked' | 'any' = 'any'): string | undefined {
  for (const name of which === 'any' ? ['x-linked-etag', 'etag'] : ['x-linked-etag']) {
    const v = h.get(name);
    if (!v || v.startsWith('W/')) continue;
    const bare = v
      .replace(/"/g, '')
      .replace(/^sha256:/, '')
      .toLowerCase();
    if (SHA256_RE.test(bare)) return bare;
  }
  return undefined;
}

/** The file's full size from Content-Range, X-Linked-Size or Content-Length (in that order). */
export function sizeFromHeaders(h: Headers, status: number): number | undefined {
  const range = h.get('content-range');
  const m = range?.match(/\/(\d+)\s*$/);
  if (m) return Number(m[1]);
  const linked = h.get('x-linked-size');
  if (linked && /^\d+$/.test(linked)) return Number(linked);
  const len = h.get('content-length');
  if (status === 200 && len && /^\d+$/.test(len)) return Number(len);
  return undefined;
}

/** Start offset of a 206 response ("bytes 100-199/1000" gives 100). */
export function rangeStart(h: Headers): number | undefined {
  const m = h.get('content-range')?.match(/^bytes\s+(\d+)-\d+\//);
  return m ? Number(m[1]) : undefined;
}

/** Shard file names of a model.safetensors.index.json, in first-use order. */
export function shardNames(indexJson: string): string[] {
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(indexJson);
  } catch (e) {
    throw new ModelSourceError(SHARD_INDEX, `not valid JSON (${(e as Error).message})`);
  }
  if (!index.weight_map || typeof index.weight_map !== 'object')
    throw new ModelSourceError(SHARD_INDEX, 'has no "weight_map"');
  const names = [...new Set(Object.values(index.weight_map))];
  for (const n of names)
    if (typeof n !== 'string' || n.includes('..') || n.startsWith('/'))
      throw new ModelSourceError(SHARD_INDEX, `shard name ${JSON.stringify(n)} is not a plain file name`);
  return names;
}
