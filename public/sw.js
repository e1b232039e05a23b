// Offline support, written by hand: on install, cache every file the build emitted (the list is
// precache.json, written by vite.config.ts) plus the page itself; then answer same-origin GETs:
// the page and the unhashed files of public/ (samples, models/tiny) from the network with
// revalidation, the cache only when offline; the bundle's hashed files from the cache. Model
// weights from hubs live in IndexedDB (the worker's cache), so they are not this file's business.
//
// Updates: the build writes its version into this file (the line below), so each build's worker
// differs by its bytes and the browser installs it on the next visit. The new worker precaches
// the new bundle and then waits; the page offers a reload, and on "skip-waiting" it takes over.

const VERSION = 'dev';
const CACHE_PREFIX = 'webtune-shell-';

// Cross-origin isolation on any static host. SharedArrayBuffer, and with it the CPU engine's
// threads, needs the page to be cross-origin isolated, which takes two response headers that
// GitHub Pages or a CDN will not send. This worker adds them to every same-origin response it
// serves (the page and its worker scripts), so from the second visit on the page is isolated.
// COEP `credentialless` (where the page found support and said so in the registration URL)
// keeps cross-origin fetches working without their servers' cooperation; `require-corp` still
// allows CORS fetches, which is all the model downloads are.
const COEP = new URL(self.location.href).searchParams.get('coep') === 'credentialless' ? 'credentialless' : 'require-corp';

function isolated(response) {
  // Opaque and error responses cannot be rebuilt (and an error stays an error).
  if (!response || response.type === 'opaque' || response.type === 'opaqueredirect' || response.type === 'error') return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', COEP);
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function precacheList() {
  const res = await fetch('./precache.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`precache.json: HTTP ${res.status}`);
  return res.json();
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const { files } = await precacheList();
      const cache = await caches.open(CACHE_PREFIX + VERSION);
      // Fresh copies, not the HTTP cache's: the new build's page and public files.
      await cache.addAll(['./', ...files.map((f) => './' + f)].map((u) => new Request(u, { cache: 'no-cache' })));
      // The first worker takes over at once; a newer one waits for the page to say so.
      if (!self.registration.active) await self.skipWaiting();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'skip-waiting') self.skipWaiting();
  if (event.data && event.data.type === 'version') event.source?.postMessage({ type: 'version', version: VERSION });
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      // Old builds' hashed files are never requested again; drop their caches.
      for (const key of await caches.keys()) if (key.startsWith(CACHE_PREFIX) && key !== CACHE_PREFIX + VERSION) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

async function fromCache(request) {
  // This worker's own build first, then any other still here.
  const keys = (await caches.keys()).filter((k) => k.startsWith(CACHE_PREFIX)).sort((a, b) => (a === CACHE_PREFIX + VERSION ? -1 : b === CACHE_PREFIX + VERSION ? 1 : 0));
  for (const key of keys) {
    const hit = await (await caches.open(key)).match(request, { ignoreSearch: request.mode === 'navigate' });
    if (hit) return hit;
  }
  return undefined;
}

/** Hashed bundle files never change under their name; everything else may. */
const immutable = (url) => /\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(url.pathname);

/** Network with revalidation (a 304 costs little), the cached copy refreshed; the cache when offline. */
async function revalidated(request) {
  try {
    const res = await fetch(request, { cache: 'no-cache' });
    if (res.ok && res.type === 'basic') {
      const copy = res.clone();
      caches.open(CACHE_PREFIX + VERSION).then((c) => c.put(request, copy)).catch(() => undefined);
    }
    return res;
  } catch (e) {
    const hit = await fromCache(request);
    if (hit) return hit;
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.headers.has('range')) return;
  event.respondWith(
    (async () => {
      // The page itself: network first, so a new deployment is picked up when online.
      if (request.mode === 'navigate') {
        try {
          // Revalidated: a static host's Last-Modified must not let the browser reuse an old page.
          return isolated(await fetch(request, { cache: 'no-cache' }));
        } catch {
          return isolated(await fromCache(new Request('./'))) ?? Response.error();
        }
      }
      if (!immutable(url)) return isolated(await revalidated(request));
      return isolated((await fromCache(request)) ?? (await fetch(request)));
    })(),
  );
});
