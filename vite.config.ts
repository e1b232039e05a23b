import { defineConfig, type Plugin } from 'vite';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

// The service worker (public/sw.js) precaches exactly what the build emitted, so the app opens
// offline after one visit. Hashed names change every build, so the list is written after the
// bundle is on disk rather than kept by hand.
function precacheList(): Plugin {
  let outDir = 'dist';
  return {
    name: 'webtune-precache-list',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const files: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          if (statSync(path).isDirectory()) walk(path);
          else files.push(relative(outDir, path).split(sep).join('/'));
        }
      };
      walk(outDir);
      const cached = files.filter((f) => f !== 'sw.js' && f !== 'precache.json' && !f.startsWith('.')).sort();
      writeFileSync(join(outDir, 'precache.json'), JSON.stringify({ version: Date.now(), files: cached }, null, 1));
    },
  };
}

/** Cross-origin isolation (SharedArrayBuffer, so the CPU engine's threads) on the dev and preview servers; public/sw.js adds the same on static hosts. */
const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'credentialless' };

export default defineConfig({
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  // Relative base: dist/ works from any folder of any static host, no rewrites needed.
  base: './',
  plugins: [precacheList()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
});
