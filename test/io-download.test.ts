// Downloads against a local HTTP hub (e2e/io-server.ts) through Node's fetch, into the same
// store interface IndexedDB backs in the browser. The oracle is the file on disk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { startIoServer, type IoServer } from '../e2e/io-server.ts';
import { memoryStore } from '../src/io/store.ts';
import { openModel } from '../src/io/model-files.ts';
import { downloadFile } from '../src/io/download.ts';
import { deleteCachedModel, fileKey, getRecord, listCachedModels, readCachedFile } from '../src/io/cache.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { sourceKey } from '../src/io/sources.ts';
import { DownloadError, ModelFilesError } from '../src/core/errors.ts';

let dir: string;
let hub: IoServer;
const CHUNK = 64 << 10;
const fast = { chunkSize: CHUNK, retryDelayMs: 1, skipSpaceCheck: true };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'io-download-'));
  await makeTinyModel({ preset: 'tiny', out: dir });
  hub = await startIoServer(dir);
});
afterAll(async () => {
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

const disk = (f: string) => readFile(join(dir, f));
const bytesOf = async (b: Blob) => Buffer.from(await b.arrayBuffer());
const hf = (repo: string) => ({
  kind: 'hf' as const,
  repo: `test/${repo}`,
  revision: 'main',
  endpoint: `${hub.url}/hf`,
});
const requestsSince = (n: number) => hub.log.slice(n);

async function failure(p: Promise<unknown>): Promise<DownloadError> {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  expect(e).toBeInstanceOf(DownloadError);
  return e as DownloadError;
}

describe('model download into the chunk cache', () => {
  it('fetches a Hugging Face layout, checks sha256 of LFS files, and reads tensors equal to the files on disk', async () => {
    const store = memoryStore();
    const events: number[] = [];
    const m = await openModel(hf('tiny'), {
      store,
      ...fast,
      onProgress: (p) => p.phase === 'download' && events.push(p.loadedBytes),
    });
    expect(m.configJson).toBe((await disk('config.json')).toString());
    expect(m.tokenizerJson).toBe((await disk('tokenizer.json')).toString());
    expect(m.generationConfigJson).toBe((await disk('generation_config.json')).toString());
    const rec = (await getRecord(store, m.sourceKey, 'model.safetensors'))!;
    expect(rec.verified).toBe('sha256');
    expect(rec.actualSha256).toBe(hub.files.get('model.safetensors')!.sha256);
    expect(rec.chunks).toBe(Math.ceil(hub.files.get('model.safetensors')!.bytes.length / CHUNK));
    expect(
      (await bytesOf(await readCachedFile(store, m.sourceKey, 'model.safetensors'))).equals(
        await disk('model.safetensors'),
      ),
    ).toBe(true);
    const ref = await SafetensorsFile.open(new Uint8Array(await disk('model.safetensors')));
    for (const name of ['model.embed_tokens.weight', 'model.layers.1.mlp.down_proj.weight', 'model.norm.weight'])
      expect(await m.weights.read(name)).toEqual(await ref.read(name));
    expect(events.length).toBeGreaterThan(0);
    expect(Math.max(...events)).toBe([...hub.files.values()].reduce((a, f) => a + f.bytes.length, 0));
  });

  it('loads a second time from the cache without a single request', async () => {
    const store = memoryStore();
    await openModel(hf('tiny'), { store, ...fast });
    const n = hub.log.length;
    const m = await openModel(hf('tiny'), { store, ...fast });
    expect(requestsSince(n)).toEqual([]);
    expect(m.files.every((f) => f.fromCache)).toBe(true);
    const cached = await listCachedModels(store);
    expect(cached).toHaveLength(1);
    expect(cached[0].complete).toBe(true);
    expect(cached[0].bytes).toBe([...hub.files.values()].reduce((a, f) => a + f.bytes.length, 0));
    await deleteCachedModel(store, m.sourceKey);
    expect(await store.keys()).toEqual([]);
    expect(await listCachedModels(store)).toEqual([]);
  });

  it('resumes a dropped connection with a Range request from the last stored chunk', async () => {
    hub.resetFaults();
    const store = memoryStore();
    const n = hub.log.length;
    const m = await openModel({ kind: 'url', baseUrl: `${hub.url}/drop/` }, { store, ...fast });
    const size = hub.files.get('model.safetensors')!.bytes.length;
    const weightReqs = requestsSince(n).filter((r) => r.path === '/drop/model.safetensors');
    expect(weightReqs.map((r) => r.range)).toEqual([undefined, `bytes=${Math.floor(size / 2 / CHUNK) * CHUNK}-`]);
    expect(weightReqs[1].status).toBe(206);
    expect(
      (await bytesOf(await readCachedFile(store, m.sourceKey, 'model.safetensors'))).equals(
        await disk('model.safetensors'),
      ),
    ).toBe(true);
    expect((await getRecord(store, m.sourceKey, 'model.safetensors'))!.verified).toBe('size');
  });

  it('after giving up (as on a reload), a new attempt continues from the stored chunks', async () => {
    hub.resetFaults();
    const store = memoryStore();
    const src = { kind: 'url' as const, baseUrl: `${hub.url}/drop/` };
    const e = await failure(openModel(src, { store, ...fast, retries: 0 }));
    expect(e.kind).toBe('network');
    // config.json is too small to fault; tokenizer.json (216 kB) is cut half way, one chunk kept.
    expect(e.message).toContain('of tokenizer.json');
    expect(e.message).toContain(`resume from byte ${CHUNK}`);
    // Every file faults once; keep going until one attempt gets through, as a user re-clicking would.
    let m;
    for (let i = 0; i < 6 && !m; i++) m = await openModel(src, { store, ...fast, retries: 0 }).catch(() => undefined);
    expect(m).toBeDefined();
    const size = hub.files.get('model.safetensors')!.bytes.length;
    const ranges = hub.log.filter((r) => r.path === '/drop/model.safetensors').map((r) => r.range);
    expect(ranges.slice(-2)).toEqual([undefined, `bytes=${Math.floor(size / 2 / CHUNK) * CHUNK}-`]);
    expect(
      (await bytesOf(await readCachedFile(store, m!.sourceKey, 'model.safetensors'))).equals(
        await disk('model.safetensors'),
      ),
    ).toBe(true);
  });

  it('treats a stalled body as a dropped connection and resumes it', async () => {
    hub.resetFaults();
    const store = memoryStore();
    const n = hub.log.length;
    const m = await openModel({ kind: 'url', baseUrl: `${hub.url}/stall/` }, { store, ...fast, stallTimeoutMs: 300 });
    const size = hub.files.get('model.safetensors')!.bytes.length;
    const ranges = requestsSince(n)
      .filter((r) => r.path === '/stall/model.safetensors')
      .map((r) => r.range);
    expect(ranges).toEqual([undefined, `bytes=${Math.floor(size / 2 / CHUNK) * CHUNK}-`]);
    expect(
      (await bytesOf(await readCachedFile(store, m.sourceKey, 'model.safetensors'))).equals(
        await disk('model.safetensors'),
      ),
    ).toBe(true);
  });

  it('a cancelled download keeps its whole chunks and the next one resumes from them', async () => {
    hub.resetFaults();
    const store = memoryStore();
    const ctrl = new AbortController();
    const src = { kind: 'url' as const, baseUrl: `${hub.url}/stall/` };
    const kept = Math.floor(hub.files.get('model.safetensors')!.bytes.length / 2 / CHUNK);
    const run = openModel(src, { store, ...fast, signal: ctrl.signal });
    // Cancel while the body hangs half way, as a user pressing Cancel would.
    while ((await getRecord(store, sourceKey(src), 'model.safetensors'))?.chunks !== kept)
      await new Promise((r) => setTimeout(r, 10));
    ctrl.abort();
    const e = await failure(run);
    expect(e.kind).toBe('aborted');
    // The partial download is listed (so the user can find and delete it) with what it holds.
    const smallFiles = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
    const partial = (await listCachedModels(store)).find((c) => c.sourceKey === sourceKey(src));
    expect(partial).toMatchObject({ name: `${hub.url}/stall/`, complete: false });
    expect(partial!.files.find((f) => f.name === 'model.safetensors')).toEqual({
      name: 'model.safetensors',
      size: kept * CHUNK,
      complete: false,
    });
    const smallBytes = smallFiles.reduce((a, f) => a + hub.files.get(f)!.bytes.length, 0);
    expect(partial!.bytes).toBe(smallBytes + kept * CHUNK);
    const n = hub.log.length;
    const m = await openModel(src, { store, ...fast });
    expect(requestsSince(n).map((r) => [r.path, r.range])).toEqual([
      ['/stall/model.safetensors', `bytes=${kept * CHUNK}-`],
    ]);
    expect(
      (await bytesOf(await readCachedFile(store, m.sourceKey, 'model.safetensors'))).equals(
        await disk('model.safetensors'),
      ),
    ).toBe(true);
    expect((await listCachedModels(store)).map((c) => [c.sourceKey, c.complete])).toEqual([[sourceKey(src), true]]);
  });

  it("a partial download whose hash state the hasher cannot continue (an older Webtune's) starts that file over", async () => {
    hub.resetFaults();
    const store = memoryStore();
    const src = { kind: 'url' as const, baseUrl: `${hub.url}/drop/` };
    await failure(openModel(src, { store, ...fast, retries: 0 })); // tokenizer.json cut half way, one chunk kept
    const key = sourceKey(src);
    const rec = (await getRecord(store, key, 'tokenizer.json'))!;
    expect(rec.chunks).toBe(1);
    await store.setMany([
      [fileKey(key, 'tokenizer.json'), { ...rec, hash: { h: [1, 2, 3, 4, 5, 6, 7, 8], length: CHUNK, pending: [] } }],
    ]);
    const n = hub.log.length;
    const m = await openModel(src, { store, ...fast });
    expect(
      requestsSince(n)
        .filter((r) => r.path === '/drop/tokenizer.json')
        .map((r) => r.range),
    ).toEqual([undefined]);
    expect(m.tokenizerJson).toBe((await disk('tokenizer.json')).toString());
  });

  it('lists and deletes a download cut short before any manifest, and hides sources with nothing stored', async () => {
    hub.resetFaults();
    const store = memoryStore();
    const src = { kind: 'url' as const, baseUrl: `${hub.url}/drop/` };
    await failure(openModel(src, { store, ...fast, retries: 0 }));
    const [entry] = await listCachedModels(store);
    expect(entry.sourceKey).toBe(sourceKey(src));
    expect(entry.complete).toBe(false);
    expect(entry.bytes).toBeGreaterThan(0);
    await deleteCachedModel(store, entry.sourceKey);
    expect(await store.keys()).toEqual([]);
    // A missing repository stores nothing and lists nothing.
    await failure(openModel({ kind: 'url', baseUrl: `${hub.url}/missing/` }, { store, ...fast }));
    expect(await listCachedModels(store)).toEqual([]);
  });

  it('refuses a corrupted file whose sha256 differs from the hub and keeps none of it', async () => {
    const store = memoryStore();
    const e = await failure(openModel(hf('corrupt'), { store, ...fast }));
    expect(e.kind).toBe('integrity');
    expect(e.message).toContain('sha256 of model.safetensors');
    expect(e.message).toContain(hub.files.get('model.safetensors')!.sha256);
    expect((await store.keys()).filter((k) => k[2] === 'model.safetensors')).toEqual([]);
  });

  it('without a listing, checks the sha256 a strong ETag vouches for', async () => {
    const store = memoryStore();
    const src = { kind: 'url' as const, baseUrl: `${hub.url}/hf/test/corrupt/resolve/main/` };
    const e = await failure(openModel(src, { store, ...fast }));
    expect(e.kind).toBe('integrity');
    expect(e.message).toContain(hub.files.get('model.safetensors')!.sha256);
    const good = await openModel({ kind: 'url', baseUrl: `${hub.url}/hf/test/tiny/resolve/main/` }, { store, ...fast });
    expect((await getRecord(store, good.sourceKey, 'model.safetensors'))!.verified).toBe('sha256');
  });

  it('names a missing repository, a missing file, a gated repo, an HTML page and a server error', async () => {
    const store = memoryStore();
    let e = await failure(openModel(hf('nope'), { store, ...fast }));
    expect(e.kind).toBe('not-found');
    expect(e.message).toContain('test/nope');
    e = await failure(openModel({ kind: 'url', baseUrl: `${hub.url}/missing/` }, { store, ...fast }));
    expect(e.kind).toBe('not-found');
    expect(e.message).toContain('config.json not found (HTTP 404)');
    e = await failure(
      downloadFile({
        store,
        sourceKey: 's',
        file: 'config.json',
        url: `${hub.url}/hf/test/gated/resolve/main/config.json`,
        expect: 'json',
      }),
    );
    expect(e.kind).toBe('http');
    expect(e.message).toMatch(/HTTP 401.*gated or private/);
    e = await failure(openModel({ kind: 'url', baseUrl: `${hub.url}/html/` }, { store, ...fast }));
    expect(e.kind).toBe('integrity');
    expect(e.message).toContain('HTML page instead of config.json');
    e = await failure(openModel({ kind: 'url', baseUrl: `${hub.url}/error/` }, { store, ...fast, retries: 1 }));
    expect(e.kind).toBe('http');
    expect(e.message).toContain('HTTP 500');
  });

  it('refuses a file whose size differs from the listing, and JSON served under a weights name', async () => {
    const store = memoryStore();
    const url = `${hub.url}/plain/model.safetensors`;
    let e = await failure(
      downloadFile({
        store,
        sourceKey: 's',
        file: 'model.safetensors',
        url,
        expect: 'safetensors',
        expected: { size: 12345 },
      }),
    );
    expect(e.kind).toBe('size');
    expect(e.message).toContain('12345');
    e = await failure(
      downloadFile({
        store,
        sourceKey: 's',
        file: 'model.safetensors',
        url: `${hub.url}/plain/config.json`,
        expect: 'safetensors',
      }),
    );
    expect(e.kind).toBe('integrity');
    expect(e.message).toContain('not a safetensors file');
  });

  it('opens a local folder by file names, and names a missing file', async () => {
    const names = [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
      'model.safetensors',
    ];
    const files = await Promise.all(names.map(async (n) => new File([await disk(n)], n)));
    const m = await openModel({ kind: 'local', files }, { store: memoryStore() });
    expect(m.sourceKey).toBe('');
    expect(m.configJson).toBe((await disk('config.json')).toString());
    const ref = await SafetensorsFile.open(new Uint8Array(await disk('model.safetensors')));
    expect(await m.weights.read('model.layers.0.self_attn.q_proj.weight')).toEqual(
      await ref.read('model.layers.0.self_attn.q_proj.weight'),
    );
    const e = await openModel(
      { kind: 'local', files: files.filter((f) => f.name !== 'tokenizer.json') },
      { store: memoryStore() },
    ).catch((x) => x);
    expect(e).toBeInstanceOf(ModelFilesError);
    expect(e.file).toBe('tokenizer.json');
  });
});
