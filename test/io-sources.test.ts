import { describe, expect, it } from 'vitest';
import { ModelSourceError } from '../src/core/errors.ts';
import {
  DEFAULT_BUILTIN,
  builtinFromQuery,
  builtinModelPath,
  builtinNameOf,
  BUILTIN_MODELS,
  sourceName,
  useBuiltinModel,
  fileUrl,
  listingUrl,
  parseListing,
  rangeStart,
  sha256FromHeaders,
  shardNames,
  sizeFromHeaders,
  sourceKey,
  validateSource,
} from '../src/io/sources.ts';
import { RateMeter } from '../src/io/download.ts';
import { ensureSpace, formatBytes } from '../src/io/cache.ts';
import { DownloadError } from '../src/core/errors.ts';

const SHA = 'a'.repeat(40) + 'b'.repeat(24);

describe('model source URLs', () => {
  it('builds Hugging Face, ModelScope and plain URLs in their documented layouts', () => {
    const hf = { kind: 'hf', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'main' } as const;
    expect(fileUrl(hf, 'model.safetensors')).toBe(
      'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/resolve/main/model.safetensors',
    );
    expect(listingUrl(hf)).toBe(
      'https://huggingface.co/api/models/Qwen/Qwen2.5-0.5B-Instruct/tree/main?recursive=true',
    );
    expect(fileUrl({ ...hf, revision: 'refs/pr/1' }, 'config.json')).toBe(
      'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/resolve/refs%2Fpr%2F1/config.json',
    );
    expect(fileUrl({ ...hf, endpoint: 'https://hf-mirror.com/' }, 'config.json')).toBe(
      'https://hf-mirror.com/Qwen/Qwen2.5-0.5B-Instruct/resolve/main/config.json',
    );
    const ms = { kind: 'modelscope', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'master' } as const;
    expect(fileUrl(ms, 'tokenizer.json')).toBe(
      'https://www.modelscope.cn/models/Qwen/Qwen2.5-0.5B-Instruct/resolve/master/tokenizer.json',
    );
    expect(fileUrl({ ...ms, revision: 'v1.0' }, 'tokenizer.json')).toBe(
      'https://www.modelscope.cn/models/Qwen/Qwen2.5-0.5B-Instruct/resolve/v1.0/tokenizer.json',
    );
    expect(fileUrl({ kind: 'url', baseUrl: 'http://127.0.0.1:8000/m' }, 'shards/a b.safetensors')).toBe(
      'http://127.0.0.1:8000/m/shards/a%20b.safetensors',
    );
    expect(listingUrl({ kind: 'url', baseUrl: 'http://x/' })).toBeUndefined();
  });

  it('keys the cache by source, repo and revision', () => {
    const a = sourceKey({ kind: 'hf', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'main' });
    expect(a).toBe('hf:Qwen/Qwen2.5-0.5B-Instruct@main');
    expect(sourceKey({ kind: 'hf', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'v2' })).not.toBe(a);
    expect(sourceKey({ kind: 'modelscope', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'main' })).not.toBe(a);
    expect(
      sourceKey({
        kind: 'hf',
        repo: 'Qwen/Qwen2.5-0.5B-Instruct',
        revision: 'main',
        endpoint: 'https://hf-mirror.com',
      }),
    ).not.toBe(a);
    expect(sourceKey({ kind: 'url', baseUrl: 'http://h/m' })).toBe(sourceKey({ kind: 'url', baseUrl: 'http://h/m/' }));
  });

  it('refuses bad repos, revisions and URLs naming the field', () => {
    const bad = (s: Parameters<typeof validateSource>[0], field: string) => {
      try {
        validateSource(s);
      } catch (e) {
        expect(e).toBeInstanceOf(ModelSourceError);
        expect((e as ModelSourceError).field).toBe(field);
        return;
      }
      throw new Error(`accepted ${JSON.stringify(s)}`);
    };
    bad({ kind: 'hf', repo: 'Qwen2.5-0.5B-Instruct', revision: 'main' }, 'repo');
    bad({ kind: 'hf', repo: 'Qwen/../etc', revision: 'main' }, 'repo');
    bad({ kind: 'modelscope', repo: 'Qwen/x', revision: '' }, 'revision');
    bad({ kind: 'url', baseUrl: 'models/tiny' }, 'baseUrl');
    bad({ kind: 'url', baseUrl: 'ftp://h/m' }, 'baseUrl');
    bad({ kind: 'builtin' }, 'baseUrl');
    expect(() => validateSource({ kind: 'hf', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'main' })).not.toThrow();
  });
});

describe('hub listings and headers', () => {
  it('reads sizes and LFS sha256 from a Hugging Face tree listing, not git blob ids', () => {
    const m = parseListing('hf', [
      { type: 'file', oid: 'c'.repeat(40), size: 659, path: 'config.json' },
      {
        type: 'file',
        oid: 'd'.repeat(40),
        size: 135,
        path: 'model.safetensors',
        lfs: { oid: SHA, size: 988097824, pointerSize: 135 },
      },
      { type: 'directory', oid: 'e'.repeat(40), size: 0, path: 'onnx' },
    ]);
    expect(m.get('config.json')).toEqual({ size: 659, sha256: undefined });
    expect(m.get('model.safetensors')).toEqual({ size: 988097824, sha256: SHA });
    expect(m.has('onnx')).toBe(false);
  });

  it('reads a ModelScope file listing', () => {
    const m = parseListing('modelscope', {
      Code: 200,
      Data: {
        Files: [
          {
            Name: 'model.safetensors',
            Path: 'model.safetensors',
            Size: 988097824,
            Sha256: SHA.toUpperCase(),
            Type: 'blob',
          },
          { Name: 'sub', Path: 'sub', Size: 0, Type: 'tree' },
        ],
      },
    });
    expect(m.get('model.safetensors')).toEqual({ size: 988097824, sha256: SHA });
    expect(m.size).toBe(1);
    expect(() => parseListing('modelscope', { Code: 404 })).toThrow(ModelSourceError);
  });

  it('takes sha256 only from strong 64-hex ETags, size from Content-Range first', () => {
    expect(sha256FromHeaders(new Headers({ etag: `"${SHA}"` }))).toBe(SHA);
    expect(sha256FromHeaders(new Headers({ 'x-linked-etag': `"${SHA}"`, etag: '"abc"' }))).toBe(SHA);
    expect(sha256FromHeaders(new Headers({ etag: `W/"${SHA}"` }))).toBeUndefined();
    expect(sha256FromHeaders(new Headers({ etag: `"${SHA}"` }), 'x-linked')).toBeUndefined();
    expect(sha256FromHeaders(new Headers({ 'x-linked-etag': `"${SHA}"` }), 'x-linked')).toBe(SHA);
    expect(sha256FromHeaders(new Headers({ etag: `"${'f'.repeat(40)}"` }))).toBeUndefined();
    expect(sizeFromHeaders(new Headers({ 'content-range': 'bytes 100-999/1000', 'content-length': '900' }), 206)).toBe(
      1000,
    );
    expect(sizeFromHeaders(new Headers({ 'x-linked-size': '5000', 'content-length': '10' }), 200)).toBe(5000);
    expect(sizeFromHeaders(new Headers({ 'content-length': '10' }), 200)).toBe(10);
    expect(sizeFromHeaders(new Headers({ 'content-length': '10' }), 206)).toBeUndefined();
    expect(rangeStart(new Headers({ 'content-range': 'bytes 100-999/1000' }))).toBe(100);
  });

  it('lists shard names of an index once each, refusing paths that climb out', () => {
    const idx = {
      weight_map: {
        a: 'model-00001-of-00002.safetensors',
        b: 'model-00002-of-00002.safetensors',
        c: 'model-00001-of-00002.safetensors',
      },
    };
    expect(shardNames(JSON.stringify(idx))).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    expect(() => shardNames(JSON.stringify({ weight_map: { a: '../x.safetensors' } }))).toThrow(ModelSourceError);
    expect(() => shardNames('<html>')).toThrow(/not valid JSON/);
  });
});

describe('progress and storage helpers', () => {
  it('measures speed over a sliding window, not the whole run', () => {
    let t = 0;
    const m = new RateMeter(2000, () => t);
    m.add(0);
    for (let i = 0; i < 10; i++) {
      t += 100;
      m.add(1000); // 10 kB/s
    }
    expect(m.rate()).toBeCloseTo(10_000, 6);
    for (let i = 0; i < 40; i++) {
      t += 100;
      m.add(100); // then 1 kB/s for 4 s; the first burst falls out of the window
    }
    expect(m.rate()).toBeCloseTo(1000, 6);
  });

  it('refuses a download that does not fit the storage quota, with sizes in the message', async () => {
    const info = { usage: 900 << 20, quota: 1000 << 20, persisted: false };
    await expect(ensureSpace(50 << 20, 'model.safetensors', info)).resolves.toBeUndefined();
    const err = await ensureSpace(200 << 20, 'model.safetensors', info).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.kind).toBe('quota');
    expect(err.message).toContain('200 MB');
    expect(err.message).toContain('100 MB');
    expect(formatBytes(988097824)).toBe('942 MB');
  });
});

describe('the built-in models', () => {
  it('serves the demo model unless the page asks for the tiny one, and names each by its folder', () => {
    expect(builtinFromQuery(null)).toBe(DEFAULT_BUILTIN);
    expect(builtinFromQuery('demo')).toBe('demo');
    expect(builtinFromQuery('tiny')).toBe('tiny');
    expect(builtinFromQuery('../x')).toBe(DEFAULT_BUILTIN);
    expect(builtinModelPath()).toBe(BUILTIN_MODELS[DEFAULT_BUILTIN]);
    useBuiltinModel('tiny');
    expect(builtinModelPath()).toBe('models/tiny/');
    useBuiltinModel('demo');
    expect(builtinModelPath()).toBe('models/demo/');
    useBuiltinModel(DEFAULT_BUILTIN);
    const at = (name: keyof typeof BUILTIN_MODELS) => new URL(BUILTIN_MODELS[name], 'https://example.org/app/').href;
    expect(builtinNameOf(at('tiny'))).toBe('tiny');
    expect(builtinNameOf(at('demo'))).toBe('demo');
    expect(sourceName({ kind: 'builtin', baseUrl: at('tiny') })).toBe('tiny (built in)');
    expect(sourceName({ kind: 'builtin', baseUrl: at('demo') })).toBe('demo (built in)');
    // the two are cached apart
    expect(sourceKey({ kind: 'builtin', baseUrl: at('tiny') })).not.toBe(
      sourceKey({ kind: 'builtin', baseUrl: at('demo') }),
    );
  });
});
