// Compiled variants of a shader file beyond the weight dtype: tile shapes set through override
// constants, and feature paths made by replacing a line (an alias to f16) and enabling the
// feature. A file not listed here compiles once.

/** Device features a kernel set may use; chosen at load, each with a plain fallback. */
export interface ShaderFeatures {
  f16: boolean;
  subgroups: boolean;
}

/** The self-check's finding on one variant (self-check.ts). */
export interface VariantVerdict {
  variant: keyof ShaderFeatures;
  ok: boolean;
  /** Worst relative L2 error over the variant's probes, and the kernel it came from. */
  error: number;
  worst: string;
  bound: number;
}

/** The device and the kernel path it runs, as the backend describes it. */
export interface WebGpuInfo {
  device: string;
  features: string[];
  maxBufferSize: number;
  maxBindingSize: number;
  /** Which kernels run: f16 (shader-f16 matmul tiles, f32 accumulation) or f32. */
  path: 'f16' | 'f32';
  /** Whether reductions use subgroup operations. */
  subgroups: boolean;
  /** The self-check's verdict per variant it ran (self-check.ts), refused ones included. */
  checks: VariantVerdict[];
  /** What the self-check switched off, one sentence each. */
  notices: string[];
  /** Wall time of the self-check on this device (kernels it compiled included), ms; 0 when none ran. */
  selfCheckMs: number;
}

export interface Variant {
  key: string;
  constants?: Record<string, number>;
  /** Exact text replacements applied to the file before compiling. */
  replace?: [string, string][];
  /** A device feature the variant needs; skipped without it. */
  needs?: keyof ShaderFeatures;
  /** Identifiers whose use makes an entry point depend on the variant (default: the constants' names). */
  touches?: string[];
}

/** One compiled tile shape of the matmul kernels (mm_core.wgsl). */
export interface MatmulConfig {
  key: string;
  BM: number;
  BN: number;
  BK: number;
}

export interface MatmulPlan {
  variant: string;
  BM: number;
  BN: number;
  kSplit: number;
  kChunk: number;
}

/** Workgroups below which a launch is thought to leave a GPU idle: then K is split. */
const FILL = 64;
const F16_TILES: [string, string] = ['alias tile_t = f32;', 'alias tile_t = f16;'];

/**
 * The matmul tile shapes for a device: 64x64 tiles 16 deep (the shaders' defaults, fit every
 * device) and 128x128 tiles (8x8 outputs per thread) 32 deep where the workgroup memory allows
 * 32 KiB, else 16 deep; on the shader-f16 path the tiles hold f16, so both go 32 deep.
 */
export class MatmulPlanner {
  readonly small: MatmulConfig;
  readonly big: MatmulConfig;

  /** Tests force one tile shape (and no K split) to check each compiled variant. */
  force: 'small' | 'big' | null = null;

  constructor(
    workgroupBytes: number,
    readonly f16: boolean,
  ) {
    this.small = f16 ? { key: 'f16', BM: 64, BN: 64, BK: 32 } : { key: '', BM: 64, BN: 64, BK: 16 };
    this.big = f16
      ? { key: 'big-f16', BM: 128, BN: 128, BK: 32 }
      : { key: 'big', BM: 128, BN: 128, BK: workgroupBytes >= 32768 ? 32 : 16 };
  }

  /** Variants to compile, by shader file. */
  variants(): Record<string, Variant[]> {
    const big: Variant = {
      key: this.big.key,
      constants: { TM: 8, TN: 8, BK: this.big.BK },
      ...(this.f16 ? { replace: [F16_TILES], needs: 'f16' as const, touches: ['tile_a'] } : {}),
    };
    const small: Variant[] = this.f16
      ? [
          {
            key: this.small.key,
            constants: { TM: 4, TN: 4, BK: 32 },
            replace: [F16_TILES],
            needs: 'f16',
            touches: ['tile_a'],
          },
        ]
      : [];
    const heads: Variant[] = [64, 128].map((hd) => ({ key: `hd${hd}`, constants: { HDV: hd } }));
    return { matmul: [big, ...small], crossentropy: small, attention: heads };
  }

  /** Tiles for a (rows, cols) output summing over K: the big tiles when they alone fill the GPU, else the small ones and K split. */
  plan(rows: number, cols: number, K: number, allowBig = true): MatmulPlan {
    const tiles = (c: MatmulConfig) => Math.ceil(rows / c.BM) * Math.ceil(cols / c.BN);
    if (this.force) {
      const c = this.force === 'big' && allowBig ? this.big : this.small;
      return { variant: c.key, BM: c.BM, BN: c.BN, kSplit: 1, kChunk: Math.max(c.BK, alignTo(K, c.BK)) };
    }
    const cfg = allowBig && tiles(this.big) >= FILL ? this.big : this.small;
    let kChunk = Math.max(cfg.BK, alignTo(K, cfg.BK)),
      kSplit = 1;
    const t = tiles(cfg);
    if (t < FILL && K >= 512) {
      const want = Math.min(16, Math.ceil((2 * FILL) / t), Math.floor(K / 256));
      kChunk = alignTo(Math.ceil(K / want), cfg.BK);
      kSplit = Math.ceil(K / kChunk);
    }
    return { variant: cfg.key, BM: cfg.BM, BN: cfg.BN, kSplit, kChunk };
  }
}

const alignTo = (x: number, a: number) => Math.ceil(x / a) * a;
