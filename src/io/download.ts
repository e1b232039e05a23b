// One file from the network into the chunk cache: streamed, hashed as it arrives, resumed
// with an HTTP Range request from the last stored chunk after a dropped connection or a page
// reload, and checked (size, sha256, "is this really JSON / safetensors") before it counts as
// complete. Every failure is a DownloadError whose kind the UI can act on.

import { DownloadError } from '../core/errors.ts';
import { chunkKey, DEFAULT_CHUNK_SIZE, deleteFile, fileKey, freshRecord, getRecord, type FileRecord } from './cache.ts';
import { isSha256State, Sha256 } from './sha256.ts';
import { rangeStart, sha256FromHeaders, sizeFromHeaders, type RemoteFileInfo } from './sources.ts';
import { isQuotaError, type KeyValueStore } from './store.ts';
import { RateMeter, Watchdog, sleep } from './download-timing.ts';
// Retry pauses, the stall watchdog and the rate meter are in download-timing.ts.

export { RateMeter } from './download-timing.ts';

export interface FileProgress {
  file: string;
  bytes: number;
  /** 0 when the size is not known yet. */
  total: number;
  bytesPerSec: number;
  etaSec: number;
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export interface DownloadRequest {
  store: KeyValueStore;
  sourceKey: string;
  file: string;
  url: string;
  /** From the hub listing; overrides what headers say. */
  expected?: RemoteFileInfo;
  /**
   * Which response headers may vouch for a sha256 when `expected` has none: a hub listing is
   * authoritative ('none'); behind a hub's CDN only X-Linked-Etag is ('x-linked'); a plain server's
   * strong 64-hex ETag too ('any', the default).
   */
  headerHash?: 'none' | 'x-linked' | 'any';
  /** What the content must look like; catches login pages and error pages served as 200. */
  expect: 'json' | 'safetensors' | 'any';
  chunkSize?: number;
  /** Automatic resumes after a dropped connection or a 5xx, before giving up. */
  retries?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
  /** No byte for this long counts as a dropped connection (default 60 s): a stalled socket may never error. */
  stallTimeoutMs?: number;
  fetchFn?: FetchFn;
  onProgress?: (p: FileProgress) => void;
  /** Called with the bytes still to come before any are stored (quota check). */
  ensureSpace?: (bytes: number) => Promise<void>;
}

/** A failure worth another attempt (the stored chunks stay). */
class Retry extends Error {
  constructor(
    readonly error: DownloadError,
    readonly immediate = false,
  ) {
    super(error.message);
  }
}

export async function downloadFile(req: DownloadRequest): Promise<FileRecord> {
  const chunkSize = req.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const retries = req.retries ?? 4;
  const delay = req.retryDelayMs ?? 500;
  let rec = await getRecord(req.store, req.sourceKey, req.file);
  if (rec?.complete) return rec;
  // A record whose hash state this hasher cannot continue (an older Webtune's) starts over.
  if (rec && (rec.chunkSize !== chunkSize || rec.url !== req.url || (rec.chunks > 0 && !isSha256State(rec.hash)))) {
    await deleteFile(req.store, req.sourceKey, req.file);
    rec = undefined;
  }
  const meter = new RateMeter();
  for (let attempt = 0; ; attempt++) {
    try {
      return await attempt1(req, rec ?? freshRecord(req.url, chunkSize), meter);
    } catch (e) {
      if (!(e instanceof Retry)) throw e;
      if (attempt >= retries) throw e.error;
      if (!e.immediate) await sleep(delay * 2 ** attempt, req.signal);
      rec = await getRecord(req.store, req.sourceKey, req.file);
    }
  }
}

async function attempt1(req: DownloadRequest, rec: FileRecord, meter: RateMeter): Promise<FileRecord> {
  const watchdog = new Watchdog(req.stallTimeoutMs ?? 60_000, req.signal);
  try {
    return await transfer(req, rec, meter, watchdog);
  } finally {
    watchdog.dispose();
  }
}

async function transfer(
  req: DownloadRequest,
  rec: FileRecord,
  meter: RateMeter,
  watchdog: Watchdog,
): Promise<FileRecord> {
  const { url, file } = req;
  const start = rec.chunks * rec.chunkSize;
  const res = await open(req, start, watchdog);

  if (start > 0 && res.status === 200) {
    // The server ignored Range: take the whole body from byte 0.
    await deleteFile(req.store, req.sourceKey, file);
    rec = freshRecord(url, rec.chunkSize);
  } else if (res.status === 206 && rangeStart(res.headers) !== start) {
    await deleteFile(req.store, req.sourceKey, file);
    throw new Retry(
      new DownloadError(
        url,
        'http',
        `server answered a range request for byte ${start} with ${res.headers.get('content-range')}`,
      ),
      true,
    );
  }
  const from = rec.chunks * rec.chunkSize;

  const total = sizeFromHeaders(res.headers, res.status);
  const etag = res.headers.get('etag') ?? undefined;
  if (
    from > 0 &&
    ((rec.etag && etag && rec.etag !== etag) || (rec.size !== undefined && total !== undefined && rec.size !== total))
  ) {
    // The file changed on the server since the stored chunks were fetched.
    await deleteFile(req.store, req.sourceKey, file);
    throw new Retry(new DownloadError(url, 'integrity', `${file} changed on the server during the download`), true);
  }
  if (req.expected && total !== undefined && total !== req.expected.size) {
    await res.body?.cancel();
    throw new DownloadError(
      url,
      'size',
      `${file} is ${total} bytes on the server but the hub lists ${req.expected.size}: a wrong or stale file`,
    );
  }
  if (req.expect !== 'any' && /text\/html/i.test(res.headers.get('content-type') ?? '')) {
    await res.body?.cancel();
    throw new DownloadError(
      url,
      'integrity',
      `got an HTML page instead of ${file} (an error or login page? check the URL)`,
    );
  }
  const size = req.expected?.size ?? total;
  rec = { ...rec, url, size, etag, sha256: req.expected?.sha256 ?? headerSha(req, res.headers) ?? rec.sha256 };
  if (size !== undefined && req.ensureSpace) await req.ensureSpace(size - from);
  await save(req, [[fileKey(req.sourceKey, file), rec]]);

  if (!res.body) throw new DownloadError(url, 'network', `the response for ${file} has no body`);
  const reader = res.body.getReader();
  const hash = rec.chunks > 0 && rec.hash ? await Sha256.fromState(rec.hash) : await Sha256.create();
  const buf = new Uint8Array(rec.chunkSize);
  let fill = 0;
  let lastReport = 0;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!req.onProgress || (!force && now - lastReport < 100)) return;
    lastReport = now;
    const bytes = rec.bytes + fill;
    const rate = meter.rate();
    req.onProgress({
      file,
      bytes,
      total: size ?? 0,
      bytesPerSec: rate,
      etaSec: size && rate > 0 ? (size - bytes) / rate : 0,
    });
  };
  const commit = async () => {
    const data = buf.subarray(0, fill);
    if (rec.chunks === 0) sniff(req, data, size);
    hash.update(data);
    rec = { ...rec, chunks: rec.chunks + 1, bytes: rec.bytes + fill, hash: hash.state(), updatedAt: Date.now() };
    // Chunk and record in one transaction: a crash never leaves a record that counts a chunk not stored.
    await save(req, [
      [chunkKey(req.sourceKey, file, rec.chunks - 1), new Blob([data])],
      [fileKey(req.sourceKey, file), rec],
    ]);
    fill = 0;
  };

  for (;;) {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      // Timed from here: a slow IndexedDB write of the previous chunk is not a stalled server.
      watchdog.kick();
      r = await reader.read();
    } catch (e) {
      if (req.signal?.aborted) throw aborted(url, file);
      if (watchdog.fired)
        throw new Retry(
          new DownloadError(
            url,
            'network',
            `no data for ${watchdog.ms / 1000} s after ${rec.bytes + fill} bytes of ${file}; run again to resume from byte ${rec.bytes}`,
          ),
        );
      throw new Retry(
        new DownloadError(
          url,
          'network',
          `the connection dropped after ${rec.bytes + fill} of ${size ?? '?'} bytes of ${file} (${(e as Error).message}); run again to resume from byte ${rec.bytes}`,
        ),
      );
    }
    if (r.done) break;
    let v = r.value;
    meter.add(v.length);
    while (v.length > 0) {
      const take = Math.min(rec.chunkSize - fill, v.length);
      buf.set(v.subarray(0, take), fill);
      fill += take;
      v = v.subarray(take);
      if (fill === rec.chunkSize) await commit();
    }
    report(false);
  }
  if (size !== undefined && rec.bytes + fill !== size) {
    // A short body: keep only whole chunks, so the next range request starts on a boundary.
    throw new Retry(new DownloadError(url, 'size', `${file} ended after ${rec.bytes + fill} of ${size} bytes`));
  }
  if (fill > 0 || rec.chunks === 0) await commit();
  report(true);

  const actual = hash.hex();
  if (rec.sha256 && actual !== rec.sha256) {
    await deleteFile(req.store, req.sourceKey, file);
    throw new DownloadError(
      url,
      'integrity',
      `sha256 of ${file} is ${actual} but the hub publishes ${rec.sha256}: the file is corrupt or was replaced; it was removed from the cache, try again`,
    );
  }
  rec = {
    ...rec,
    complete: true,
    actualSha256: actual,
    verified: rec.sha256 ? 'sha256' : size !== undefined ? 'size' : 'none',
    updatedAt: Date.now(),
  };
  await save(req, [[fileKey(req.sourceKey, file), rec]]);
  return rec;
}

function headerSha(req: DownloadRequest, h: Headers): string | undefined {
  const which = req.headerHash ?? 'any';
  return which === 'none' ? undefined : sha256FromHeaders(h, which);
}

/** fetch with every failure before the body turned into its own DownloadError. */
async function open(req: DownloadRequest, start: number, watchdog: Watchdog): Promise<Response> {
  const { url, file } = req;
  const fetchFn = req.fetchFn ?? ((u, i) => fetch(u, i));
  const headers: Record<string, string> = {};
  if (start > 0) headers.Range = `bytes=${start}-`;
  let res: Response;
  try {
    // no-store: the HTTP cache would keep a second copy of a 1 GB file next to IndexedDB.
    res = await fetchFn(url, { headers, signal: watchdog.signal, cache: 'no-store' });
  } catch (e) {
    if (req.signal?.aborted) throw aborted(url, file);
    if (watchdog.fired)
      throw new Retry(
        new DownloadError(url, 'network', `the server sent no answer for ${file} within ${watchdog.ms / 1000} s`),
      );
    if (await isCorsRefusal(url, fetchFn))
      throw new DownloadError(
        url,
        'cors',
        `the server refused this page's cross-origin request for ${file} (no Access-Control-Allow-Origin); use a host that allows CORS, or download the folder and pick it as a local model`,
      );
    throw new Retry(
      new DownloadError(
        url,
        'network',
        `could not reach the server for ${file} (${(e as Error).message}); check the connection`,
      ),
    );
  }
  if (res.ok) return res;
  await res.body?.cancel();
  const s = res.status;
  if (s === 404 || s === 410)
    throw new DownloadError(
      url,
      'not-found',
      `${file} not found (HTTP ${s}): check the repository, revision and that the model has this file`,
    );
  if (s === 401 || s === 403)
    throw new DownloadError(
      url,
      'http',
      `access to ${file} denied (HTTP ${s}): the repository is gated or private; download it with your account and pick the folder as a local model`,
    );
  if (s === 416 && start > 0) {
    await deleteFile(req.store, req.sourceKey, file);
    throw new Retry(
      new DownloadError(url, 'http', `the server cannot resume ${file} at byte ${start} (HTTP 416)`),
      true,
    );
  }
  const err = new DownloadError(url, 'http', `server error HTTP ${s} ${res.statusText} for ${file}`);
  if (s === 429 || s >= 500) throw new Retry(err);
  throw err;
}

/**
 * fetch() reports a CORS refusal and an unreachable server with the same TypeError. A
 * no-cors request succeeds (opaquely) only when the server answered, which tells them apart.
 */
async function isCorsRefusal(url: string, fetchFn: FetchFn): Promise<boolean> {
  const here = (globalThis as { location?: Location }).location;
  if (!here || new URL(url, here.href).origin === here.origin) return false;
  try {
    await fetchFn(url, { mode: 'no-cors', cache: 'no-store' });
    return true;
  } catch {
    return false;
  }
}

function sniff(req: DownloadRequest, head: Uint8Array, size: number | undefined): void {
  const { url, file } = req;
  if (req.expect === 'json') {
    let i = 0;
    while (
      i < head.length &&
      (head[i] === 0x20 ||
        head[i] === 0x0a ||
        head[i] === 0x0d ||
        head[i] === 0x09 ||
        head[i] === 0xef ||
        head[i] === 0xbb ||
        head[i] === 0xbf)
    )
      i++;
    const c = head[i];
    if (c === 0x3c)
      throw new DownloadError(
        url,
        'integrity',
        `got an HTML page instead of ${file} (an error or login page? check the URL)`,
      );
    if (c !== 0x7b && c !== 0x5b) throw new DownloadError(url, 'integrity', `${file} does not start like JSON`);
  } else if (req.expect === 'safetensors') {
    if (head.length >= 1 && head[0] === 0x3c)
      throw new DownloadError(
        url,
        'integrity',
        `got an HTML page instead of ${file} (an error or login page? check the URL)`,
      );
    if (head.length < 9)
      throw new DownloadError(url, 'integrity', `${file} is only ${head.length} bytes, too short for safetensors`);
    const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
    const limit = size ?? Infinity;
    if (n > 100 << 20 || 8 + n > limit || head[8] !== 0x7b)
      throw new DownloadError(
        url,
        'integrity',
        `${file} is not a safetensors file (header length ${n}, first header byte 0x${head[8].toString(16)})`,
      );
  }
}

async function save(req: DownloadRequest, entries: [import('./store.ts').Key, unknown][]): Promise<void> {
  try {
    await req.store.setMany(entries);
  } catch (e) {
    if (isQuotaError(e))
      throw new DownloadError(
        req.url,
        'quota',
        `the browser refused to store more of ${req.file} (storage quota exceeded); delete cached models or free disk space`,
      );
    throw e;
  }
}

function aborted(url: string, file: string): DownloadError {
  return new DownloadError(
    url,
    'aborted',
    `download of ${file} was cancelled; the finished part is kept and the next attempt resumes from it`,
  );
}
