// Browser side of shader-sources.ts: vite inlines every shaders/*.wgsl as a string.

import type { ShaderSources } from './shader-sources.ts';

const files = import.meta.glob('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export function viteShaderSources(): ShaderSources {
  const out: ShaderSources = {};
  for (const [path, text] of Object.entries(files)) out[path.slice(path.lastIndexOf('/') + 1, -5)] = text;
  return out;
}
