// Compiles every WGSL entry point once, at load time, and reads from the WGSL text what the
// host needs to call it: the uniform struct `Params` (field order and types), the storage
// bindings by name with their access mode, and which of them each entry point uses. Each
// pipeline gets an explicit bind group layout (read-only storage where the shader says `read`,
// a dynamic offset for the uniform), so bind groups can be built once and reused while the
// parameters move through a uniform ring.

import type { WeightFormat } from '../../core/dtype.ts';
import { EngineError, GpuValidationError } from '../../core/errors.ts';
import type { ShaderSources } from './shader-sources.ts';
import { entryBindings, entryClosure, parseBindings, type BindingInfo } from './wgsl-parse.ts';
import type { ShaderFeatures, Variant } from './variants.ts';

export type { ShaderFeatures } from './variants.ts';

export { parseParams, parseBindings } from './wgsl-parse.ts';
export type { ParamField } from './wgsl-parse.ts';
import { parseParams, type ParamField } from './wgsl-parse.ts';

export interface Kernel {
  name: string; // "file.entry"
  /** Unique per compiled pipeline: part of the bind group cache key. */
  id: number;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  params: ParamField[];
  /** Binding index of the Params uniform, when the entry point reads it. */
  uniform: number | null;
  /** Storage bindings the entry point uses: name -> binding index and access. */
  bindings: Map<string, { binding: number; readOnly: boolean }>;
}

const WEIGHT_DTYPES: WeightFormat[] = ['bf16', 'f16', 'f32'];
/**
 * Shaders that also get an NF4 variant: only where a quantized weight can arrive, the seven
 * projections (matmul) and their export (merge); embeddings and the LM head stay 16-bit. They
 * are compiled when a model is loaded as NF4 (prepare('nf4') from prepareWeights), not at device
 * creation: each variant costs seconds on a software GPU, and most loads never use them.
 */
const NF4_SHADERS = new Set(['matmul', 'merge']);
const WDTYPE_CODE: Record<WeightFormat, number> = { bf16: 0, f16: 1, f32: 2, nf4: 3 };
const INCLUDES = new Set(['common', 'weights', 'reduce', 'reduce_subgroups', 'lanes', 'lanes_subgroups', 'mm_core']);
const COMPUTE_STAGE = 4; // GPUShaderStage.COMPUTE (Node's webgpu package defines no globals)

function entryPoints(text: string): string[] {
  return [...text.matchAll(/@compute\s+@workgroup_size\([^)]*\)\s*fn\s+(\w+)/g)].map((m) => m[1]);
}

/** `enable x;` directives must open the module: lifted out of a file and put first. */
function splitEnables(text: string): { enables: string[]; body: string } {
  const enables: string[] = [];
  const body = text.replace(/^\s*enable\s+([\w\s,]+);[^\n]*$/gm, (_, names: string) => {
    for (const n of names.split(',')) enables.push(n.trim());
    return '';
  });
  return { enables, body };
}

interface Recipe {
  file: string;
  entry: string;
  module: GPUShaderModule;
  params: ParamField[];
  used: BindingInfo[];
  dtype: WeightFormat | null;
  variant: string;
  constants: Record<string, number>;
  preludeLines: number;
}

/**
 * Every entry point of every shader, compiled once. Kernels that read no weights are compiled at
 * build; those of a weight dtype when the first weight of that dtype is uploaded (prepare), and
 * the larger tile variants the first time a shape picks them: a device only compiles what it runs
 * (SwiftShader spends seconds on each matmul pipeline).
 */
export class PipelineCache {
  private kernels = new Map<string, Kernel>();
  private recipes = new Map<string, Recipe>();
  /** Weight formats whose kernels are compiled (NF4 only on request: prepareWeights). */
  readonly prepared = new Set<WeightFormat>();
  /** Held for the cache's lifetime: Node's Dawn binding crashes when a module is collected while its pipelines live. */
  private modules: GPUShaderModule[] = [];
  private nextId = 1;
  /** Where a pipeline compiled on demand reports failure (the backend raises it at the next flush). */
  onError: (e: Error) => void = () => {};

  private constructor(
    private device: GPUDevice,
    readonly features: ShaderFeatures,
  ) {}

  static async build(
    device: GPUDevice,
    sources: ShaderSources,
    features: ShaderFeatures = { f16: false, subgroups: false },
    variants: Record<string, Variant[]> = {},
  ): Promise<PipelineCache> {
    const cache = new PipelineCache(device, features);
    if (!('common' in sources)) throw new EngineError('shaders/common.wgsl is missing');
    const checks: Promise<void>[] = [];
    for (const [file, text] of Object.entries(sources)) {
      if (INCLUDES.has(file)) continue;
      for (const variant of [{ key: '' }, ...(variants[file] ?? [])])
        checks.push(...cache.buildFile(file, text, variant, sources));
    }
    await Promise.all(checks);
    await Promise.all([...cache.recipes.values()].filter((r) => !r.dtype && !r.variant).map((r) => cache.compile(r)));
    return cache;
  }

  /**
   * Reads one variant of a file into recipes: every entry point the variant changes (one that
   * reaches an identifier it touches), per weight dtype where the entry reads weights. None when
   * the device lacks a feature the variant or file needs. Resolves once the module is checked.
   */
  private buildFile(file: string, raw: string, variant: Variant, sources: ShaderSources): Promise<void>[] {
    const { enables, body } = splitEnables(raw);
    if (variant.needs) enables.push(variant.needs === 'f16' ? 'f16' : 'subgroups');
    if (enables.includes('f16') && !this.features.f16) return [];
    if (enables.includes('subgroups') && !this.features.subgroups) return [];
    const uses = (re: RegExp) => re.test(body);
    const reduceFile = this.features.subgroups && 'reduce_subgroups' in sources ? 'reduce_subgroups' : 'reduce';
    const lanesFile = this.features.subgroups && 'lanes_subgroups' in sources ? 'lanes_subgroups' : 'lanes';
    const includes = (
      [
        ['weights', uses(/\bwload[18]\(/)],
        [reduceFile, uses(/\bworkgroup_(reduce|sum)\(/)],
        [lanesFile, uses(/\blane_\w+\(/)],
        ['mm_core', uses(/\bmm_n[tn]\(/)],
      ] as const
    )
      .filter(([, used]) => used)
      .map(([name]) => name);
    for (const need of includes)
      if (!(need in sources)) throw new EngineError(`shaders/${need}.wgsl is missing (shaders/${file}.wgsl uses it)`);
    if (includes.includes('reduce_subgroups') || includes.includes('lanes_subgroups')) enables.push('subgroups');
    // The lane kernels call subgroup operations where the subgroup is uniform but the workgroup
    // need not be (a subgroup's own loop bounds), which WGSL's analysis cannot see.
    const diagnostics = includes.includes('lanes_subgroups') ? 'diagnostic(off, subgroup_uniformity);\n' : '';
    const head =
      [...new Set(enables)].map((e) => `enable ${e};`).join('\n') + (enables.length ? '\n' : '') + diagnostics;
    let prelude = head + sources.common + '\n' + includes.map((n) => sources[n] + '\n').join('');
    for (const [from, to] of variant.replace ?? []) {
      if (!prelude.includes(from) && !body.includes(from))
        throw new EngineError(
          `shaders/${file}.wgsl: variant ${variant.key} replaces "${from}", which is not in its text`,
        );
      prelude = prelude.split(from).join(to);
    }
    const text = variant.replace?.reduce((t, [from, to]) => t.split(from).join(to), body) ?? body;
    const code = prelude + text;
    const params = parseParams(file, text);
    const bindings = parseBindings(code);
    const preludeLines = prelude.split('\n').length - 1;
    const touches = variant.touches ?? Object.keys(variant.constants ?? {});
    let module: GPUShaderModule | null = null;
    for (const entry of entryPoints(text)) {
      const reached = entryClosure(code, entry);
      if (variant.key && !touches.some((t) => reached.has(t))) continue; // the base compile serves it
      if (!module) {
        module = this.device.createShaderModule({ label: variant.key ? `${file}:${variant.key}` : file, code });
        this.modules.push(module);
      }
      const used = entryBindings(code, entry, bindings);
      const weighted = reached.has('wload8') || reached.has('wload1');
      const dtypes: (WeightFormat | null)[] = !weighted
        ? [null]
        : NF4_SHADERS.has(file)
          ? [...WEIGHT_DTYPES, 'nf4']
          : WEIGHT_DTYPES;
      for (const dtype of dtypes) {
        const constants: Record<string, number> = { ...(variant.constants ?? {}) };
        if (dtype) constants.WDTYPE = WDTYPE_CODE[dtype];
        const recipe = { file, entry, module, params, used, dtype, variant: variant.key, constants, preludeLines };
        this.recipes.set(PipelineCache.key(`${file}.${entry}`, dtype, variant.key), recipe);
      }
    }
    if (!module) return [];
    const m = module;
    return [
      m.getCompilationInfo().then((info) => {
        const errors = info.messages.filter((x) => x.type === 'error');
        // line numbers of the .wgsl file itself, not of the text with common/weights prepended
        if (errors.length)
          throw new GpuValidationError(
            `shaders/${file}.wgsl${variant.key ? ` (${variant.key})` : ''}: ${errors.map((x) => `line ${x.lineNum - preludeLines}: ${x.message}`).join('; ')}`,
          );
      }),
    ];
  }

  private layoutOf(r: Recipe, key: string): GPUBindGroupLayout {
    return this.device.createBindGroupLayout({
      label: key,
      entries: r.used.map((b) => ({
        binding: b.binding,
        visibility: COMPUTE_STAGE,
        buffer:
          b.kind === 'uniform'
            ? { type: 'uniform' as const, hasDynamicOffset: true }
            : { type: b.kind === 'read' ? ('read-only-storage' as const) : ('storage' as const) },
      })),
    });
  }

  private describe(r: Recipe): string {
    const what = [r.dtype, r.variant].filter(Boolean).join(', ');
    return `shaders/${r.file}.wgsl, entry ${r.entry}${what ? ` (${what})` : ''}`;
  }

  private async compile(r: Recipe): Promise<void> {
    const key = PipelineCache.key(`${r.file}.${r.entry}`, r.dtype, r.variant);
    const layout = this.layoutOf(r, key);
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.device.createComputePipelineAsync({
        label: key,
        layout: this.device.createPipelineLayout({ label: key, bindGroupLayouts: [layout] }),
        compute: { module: r.module, entryPoint: r.entry, constants: r.constants },
      });
    } catch (e) {
      const info = await r.module.getCompilationInfo();
      const messages = info.messages.map((m) => `line ${m.lineNum - r.preludeLines}: ${m.message}`).join('; ');
      throw new GpuValidationError(`${this.describe(r)}: ${(e as Error).message}${messages ? ` [${messages}]` : ''}`);
    }
    this.add(key, r, pipeline, layout);
  }

  /** Compiles a recipe now (on demand); a failure reaches onError once the device reports it. */
  private compileNow(key: string, r: Recipe): Kernel {
    const layout = this.layoutOf(r, key);
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ label: key, bindGroupLayouts: [layout] }),
      compute: { module: r.module, entryPoint: r.entry, constants: r.constants },
    });
    void this.device.popErrorScope().then(
      (err) => {
        if (err) this.onError(new GpuValidationError(`${this.describe(r)}: ${err.message}`));
      },
      () => {},
    );
    return this.add(key, r, pipeline, layout);
  }

  private add(key: string, r: Recipe, pipeline: GPUComputePipeline, layout: GPUBindGroupLayout): Kernel {
    const uniform = r.used.find((b) => b.kind === 'uniform');
    const storage = new Map(
      r.used
        .filter((b) => b.kind !== 'uniform')
        .map((b) => [b.name, { binding: b.binding, readOnly: b.kind === 'read' }]),
    );
    const k = {
      name: `${r.file}.${r.entry}`,
      id: this.nextId++,
      pipeline,
      layout,
      params: uniform ? r.params : [],
      uniform: uniform?.binding ?? null,
      bindings: storage,
    };
    this.kernels.set(key, k);
    return k;
  }

  /** Compiles every base kernel of a weight dtype (called when the first such weight is uploaded). */
  prepare(dtype: WeightFormat): void {
    if (this.prepared.has(dtype)) return;
    this.prepared.add(dtype);
    for (const [key, r] of this.recipes)
      if (r.dtype === dtype && !r.variant && !this.kernels.has(key)) this.compileNow(key, r);
  }

  private static key(name: string, dtype: WeightFormat | null, variant: string): string {
    return [name, dtype, variant].filter(Boolean).join(':');
  }

  /** The kernel for a weight dtype and variant; entries that neither changes were compiled once. */
  get(name: string, dtype: WeightFormat | null = null, variant = ''): Kernel {
    for (const key of [
      [dtype, variant],
      [null, variant],
      [dtype, ''],
      [null, ''],
    ].map(([d, v]) => PipelineCache.key(name, d as WeightFormat | null, v as string))) {
      const k = this.kernels.get(key);
      if (k) return k;
      const r = this.recipes.get(key);
      if (r) return this.compileNow(key, r);
    }
    throw new EngineError(
      `no WGSL kernel ${name}${dtype ? ` for ${dtype} weights` : ''}${variant ? ` in variant ${variant}` : ''}`,
    );
  }

  has(name: string, dtype: WeightFormat | null = null, variant = ''): boolean {
    return [
      [dtype, variant],
      [null, variant],
    ].some(([d, v]) => this.recipes.has(PipelineCache.key(name, d as WeightFormat | null, v as string)));
  }

  /** Pipelines compiled so far. */
  get size(): number {
    return this.kernels.size;
  }
}
