import { defineConfig, type Plugin } from 'vite';
import { writePrecache } from './scripts/precache.ts';

// The service worker (public/sw.js) precaches exactly what the build emitted, so the app opens
// offline after one visit, and carries the build's version in its own bytes so that browsers
// update it (scripts/precache.ts). Hashed names change every build, so the list is written after
// the bundle is on disk rather than kept by hand.
function precacheList(): Plugin {
  let outDir = 'dist';
  return {
    name: 'webtune-precache-list',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      writePrecache(outDir);
    },
  };
}

/** Cross-origin isolation (SharedArrayBuffer, so the CPU engine's threads) on the dev and preview servers; public/sw.js adds the same on static hosts. */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'credentialless',
};

export default defineConfig({
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  // Relative base: dist/ works from any folder of any static host, no rewrites needed.
  base: './',
  plugins: [precacheList()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
});
