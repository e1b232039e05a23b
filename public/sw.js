// Offline support, written by hand: on install, cache every file the build emitted (the list is
// precache.json, written by vite.config.ts) plus the page itself; then answer same-origin GETs
// from that cache, falling back to the network. Model weights from hubs live in IndexedDB
// (the worker's cache), so they are not this file's business; the built-in tiny model and the
// samples are part of the build and therefore of the list.

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
      const { version, files } = await precacheList();
      const cache = await caches.open(CACHE_PREFIX + version);
      await cache.addAll(['./', ...files.map((f) => './' + f)]);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const { version } = await precacheList().catch(() => ({ version: null }));
      // Old builds' hashed files are never requested again; drop their caches.
      for (const key of await caches.keys()) {
        if (key.startsWith(CACHE_PREFIX) && version !== null && key !== CACHE_PREFIX + version) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

async function fromCache(request) {
  const keys = (await caches.keys()).filter((k) => k.startsWith(CACHE_PREFIX)).sort().reverse();
  for (const key of keys) {
    const hit = await (await caches.open(key)).match(request, { ignoreSearch: request.mode === 'navigate' });
    if (hit) return hit;
  }
  return undefined;
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
          return isolated(await fetch(request));
        } catch {
          return isolated(await fromCache(new Request('./'))) ?? Response.error();
        }
      }
      return isolated((await fromCache(request)) ?? (await fetch(request)));
    })(),
  );
});
