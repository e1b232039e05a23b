// Compiles every WGSL entry point once, at load time, and reads from the WGSL text what the
// host needs to call it: the uniform struct `Params` (field order and types) and the storage
// bindings by name. So a kernel call names its buffers and parameters, and a mismatch with the
// shader is an error that says which kernel and which name.

import type { WeightFormat } from '../../core/dtype.ts';
import { EngineError, GpuValidationError } from '../../core/errors.ts';
import type { ShaderSources } from './shader-sources.ts';

export interface ParamField {
  name: string;
  type: 'u32' | 'i32' | 'f32';
}

export interface Kernel {
  name: string; // "file.entry"
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  params: ParamField[];
  bindings: Map<string, number>; // storage binding name -> binding index
}

const WEIGHT_DTYPES: WeightFormat[] = ['bf16', 'f16', 'f32'];
/**
 * Shaders that also get an NF4 variant: only where a quantized weight can arrive, the seven
 * projections (matmul) and their export (merge); embeddings and the LM head stay 16-bit. They
 * are compiled when a model is loaded as NF4 (addFormat), not at device creation: each variant
 * costs seconds on a software GPU, and most loads never use them.
 */
const NF4_SHADERS = new Set(['matmul', 'merge']);

/** What compiling one more weight variant of a shader needs. */
interface ShaderModuleInfo {
  file: string;
  module: GPUShaderModule;
  params: ParamField[];
  bindings: Map<string, number>;
  entries: string[];
  preludeLines: number;
}
const WDTYPE_CODE: Record<WeightFormat, number> = { bf16: 0, f16: 1, f32: 2, nf4: 3 };
const INCLUDES = new Set(['common', 'weights', 'reduce']);

export function parseParams(file: string, text: string): ParamField[] {
  const m = /struct\s+Params\s*\{([^}]*)\}/.exec(text);
  if (!m) throw new EngineError(`shaders/${file}.wgsl: no "struct Params"`);
  return m[1]
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => {
      const [name, type] = f.split(':').map((s) => s.trim());
      if (type !== 'u32' && type !== 'i32' && type !== 'f32') throw new EngineError(`shaders/${file}.wgsl: Params.${name} has type ${type}; only u32, i32, f32 are packed`);
      return { name, type };
    });
}

export function parseBindings(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<storage,\s*read_write>\s*(\w+)/g)) out.set(m[2], Number(m[1]));
  return out;
}

function entryPoints(text: string): string[] {
  return [...text.matchAll(/@compute\s+@workgroup_size\([^)]*\)\s*fn\s+(\w+)/g)].map((m) => m[1]);
}

export class PipelineCache {
  private kernels = new Map<string, Kernel>();
  /** Held for the cache's lifetime: Node's Dawn binding crashes when a module is collected while its pipelines live. */
  private modules: GPUShaderModule[] = [];
  private weightShaders: ShaderModuleInfo[] = [];
  private formats = new Map<WeightFormat, Promise<void>>();

  private constructor(private device: GPUDevice) {}

  static async build(device: GPUDevice, sources: ShaderSources): Promise<PipelineCache> {
    const cache = new PipelineCache(device);
    if (!('common' in sources)) throw new EngineError('shaders/common.wgsl is missing');
    const jobs: Promise<void>[] = [];
    for (const [file, text] of Object.entries(sources)) {
      if (INCLUDES.has(file)) continue;
      const usesWeights = /\bwload\(/.test(text);
      const usesReduce = /\bworkgroup_(reduce|sum)\(/.test(text);
      for (const [need, used] of [['weights', usesWeights], ['reduce', usesReduce]] as const)
        if (used && !(need in sources)) throw new EngineError(`shaders/${need}.wgsl is missing (shaders/${file}.wgsl uses it)`);
      const prelude = sources.common + '\n' + (usesWeights ? sources.weights + '\n' : '') + (usesReduce ? sources.reduce + '\n' : '');
      const code = prelude + text;
      const module = device.createShaderModule({ label: file, code });
      cache.modules.push(module);
      const params = parseParams(file, text);
      const bindings = parseBindings(text);
      const preludeLines = prelude.split('\n').length - 1;
      const entries = entryPoints(text);
      if (usesWeights) cache.weightShaders.push({ file, module, params, bindings, entries, preludeLines });
      for (const entry of entries) {
        const variants: (WeightFormat | null)[] = usesWeights ? WEIGHT_DTYPES : [null];
        for (const dtype of variants) jobs.push(cache.compile(file, entry, module, params, bindings, dtype, preludeLines));
      }
    }
    await Promise.all(jobs);
    return cache;
  }

  /** Compiles the NF4 variants (once; later calls wait for the same work). */
  addFormat(format: 'nf4'): Promise<void> {
    let done = this.formats.get(format);
    if (!done) {
      done = Promise.all(this.weightShaders.filter((s) => NF4_SHADERS.has(s.file)).flatMap((s) =>
        s.entries.map((entry) => this.compile(s.file, entry, s.module, s.params, s.bindings, format, s.preludeLines)))).then(() => {});
      this.formats.set(format, done);
    }
    return done;
  }

  has(name: string, dtype: WeightFormat | null = null): boolean {
    return this.kernels.has(PipelineCache.key(name, dtype));
  }

  private async compile(file: string, entry: string, module: GPUShaderModule, params: ParamField[],
    bindings: Map<string, number>, dtype: WeightFormat | null, preludeLines: number): Promise<void> {
    const name = `${file}.${entry}`;
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.device.createComputePipelineAsync({
        label: dtype ? `${name}:${dtype}` : name,
        layout: 'auto',
        compute: { module, entryPoint: entry, constants: dtype ? { WDTYPE: WDTYPE_CODE[dtype] } : {} },
      });
    } catch (e) {
      const info = await module.getCompilationInfo();
      // line numbers of the .wgsl file itself, not of the text with common/weights prepended
      const messages = info.messages.map((m) => `line ${m.lineNum - preludeLines}: ${m.message}`).join('; ');
      throw new GpuValidationError(`shaders/${file}.wgsl, entry ${entry}${dtype ? ` (${dtype})` : ''}: ${(e as Error).message}${messages ? ` [${messages}]` : ''}`);
    }
    this.kernels.set(PipelineCache.key(name, dtype), { name, pipeline, layout: pipeline.getBindGroupLayout(0), params, bindings });
  }

  private static key(name: string, dtype: WeightFormat | null): string {
    return dtype ? `${name}:${dtype}` : name;
  }

  get(name: string, dtype: WeightFormat | null = null): Kernel {
    const k = this.kernels.get(PipelineCache.key(name, dtype));
    if (!k) throw new EngineError(`no WGSL kernel ${name}${dtype ? ` for ${dtype} weights` : ''}`);
    return k;
  }

  get size(): number {
    return this.kernels.size;
  }
}
