// The WGSL files under shaders/ are the single source of the kernels. The browser build gets
// them through vite's ?raw imports; Node (tests, CLI, scripts) reads the same files from disk.

export type ShaderSources = Record<string, string>; // file name without .wgsl -> text

function runningInNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
}

export async function loadShaderSources(): Promise<ShaderSources> {
  if (!runningInNode()) return (await import('./shader-sources-vite.ts')).viteShaderSources();
  // a variable specifier keeps vite from trying to bundle node:fs for the browser
  const fsModule = 'node:fs/promises';
  const { readdir, readFile } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
  const dir = new URL('../../../shaders/', import.meta.url);
  const out: ShaderSources = {};
  for (const file of await readdir(dir)) {
    if (file.endsWith('.wgsl')) out[file.slice(0, -5)] = await readFile(new URL(file, dir), 'utf8');
  }
  return out;
}
