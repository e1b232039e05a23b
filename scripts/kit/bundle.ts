// Bundles scripts/kit/entry.ts (bench-gpu, logits and the whole CLI) into one ES module for the
// GPU kit: every shaders/*.wgsl inlined in place of the Node loader that reads them from disk
// beside the sources, the WASM kernels already inline. Only `webgpu` (dawn.node, shipped beside
// the bundle in node_modules/webgpu) stays outside, plus Chromium's tools, which the kit lacks.
//
//   npx tsx scripts/kit/bundle.ts OUT.mjs

import { build, type Plugin } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** shader-sources.ts with the WGSL files as one literal record, read now from shaders/. */
const inlineShaders: Plugin = {
  name: 'inline-shaders',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]engine[\\/]gpu[\\/]shader-sources\.ts$/ }, () => {
      const dir = `${root}/shaders`;
      const record: Record<string, string> = {};
      for (const f of readdirSync(dir).sort())
        if (f.endsWith('.wgsl')) record[f.slice(0, -5)] = readFileSync(`${dir}/${f}`, 'utf8');
      if (!Object.keys(record).length) throw new Error(`no .wgsl files in ${dir}`);
      return {
        loader: 'ts',
        contents: `export type ShaderSources = Record<string, string>;\nconst SOURCES: ShaderSources = ${JSON.stringify(record)};\nexport async function loadShaderSources(): Promise<ShaderSources> { return { ...SOURCES }; }\n`,
      };
    });
  },
};

export async function bundleKit(outfile: string): Promise<void> {
  const r = await build({
    entryPoints: [`${root}/scripts/kit/entry.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    external: ['webgpu', 'playwright-core', 'vite'],
    // the CLI and bench-gpu run themselves when import.meta.url is the script being run; in the
    // bundle the entry decides, so their check must never match
    define: { 'import.meta.url': '"file:///webtune-kit/bundled-module"' },
    // CommonJS dependencies may require() Node's built-ins
    banner: {
      js: "import { createRequire as __kitRequire } from 'node:module'; const require = __kitRequire(process.argv[1]);",
    },
    plugins: [inlineShaders],
  });
  if (r.errors.length) throw new Error(`esbuild: ${r.errors.map((e) => e.text).join('; ')}`);
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: npx tsx scripts/kit/bundle.ts OUT.mjs');
    process.exit(2);
  }
  await bundleKit(out);
}
