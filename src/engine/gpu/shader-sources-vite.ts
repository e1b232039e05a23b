// Browser side of shader-sources.ts: vite inlines every shaders/*.wgsl as a string. It returns
// a plain record (ShaderSources) without importing that file, which imports this one.

const files = import.meta.glob('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

export function viteShaderSources(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, text] of Object.entries(files)) out[path.slice(path.lastIndexOf('/') + 1, -5)] = text;
  return out;
}
