// What the build writes for the service worker (used by vite.config.ts after the bundle is on
// disk): precache.json, every file the build emitted, and the build's version, a hash of those
// files' names and bytes, written into dist/sw.js itself. A worker whose bytes differ is what
// makes a browser install a new one, so each build with other contents updates every visitor on
// their next visit; the same contents give the same version (and no needless update).

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The line of public/sw.js the version replaces. */
export const VERSION_LINE = /^const VERSION = '[^']*';$/m;

export function writePrecache(outDir: string): { version: string; files: string[] } {
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
  const h = createHash('sha256');
  for (const f of cached)
    h.update(f)
      .update('\0')
      .update(readFileSync(join(outDir, f)))
      .update('\0');
  const version = h.digest('hex').slice(0, 16);
  writeFileSync(join(outDir, 'precache.json'), JSON.stringify({ version, files: cached }, null, 1));
  const swPath = join(outDir, 'sw.js');
  const sw = readFileSync(swPath, 'utf8');
  if (!VERSION_LINE.test(sw))
    throw new Error(`${swPath}: no "const VERSION = '...';" line to write the build's version into`);
  writeFileSync(swPath, sw.replace(VERSION_LINE, `const VERSION = '${version}';`));
  return { version, files: cached };
}
