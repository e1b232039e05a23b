// The benchmark step without Node: presets, seeded random weights, the micro-batch, the timed
// optimizer steps and the matmul GFLOP/s. scripts/bench.ts runs it in Node, e2e/gpu-bench-page.ts
// in a browser page (scripts/bench-gpu.ts --chromium).

import { parseQwen2Config, expectedTensors, type Qwen2Config } from '../src/core/config.ts';
import type { Engine, MicroBatch, WeightReader } from '../src/engine/engine.ts';
import { DEFAULT_LORA, DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';
import { hash32, type Ops } from '../src/engine/ops.ts';
import { measureMatmuls } from './bench-matmul.ts';
import type { Quantization } from '../src/core/nf4.ts';

export const PRESETS: Record<string, Record<string, unknown>> = {
  tiny: {
    hidden_size: 64,
    intermediate_size: 176,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 8192,
    tie_word_embeddings: true,
  },
  small: {
    hidden_size: 256,
    intermediate_size: 704,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 8192,
    tie_word_embeddings: false,
  },
  mid: {
    hidden_size: 512,
    intermediate_size: 1408,
    num_hidden_layers: 8,
    num_attention_heads: 8,
    num_key_value_heads: 2,
    vocab_size: 32000,
    tie_word_embeddings: false,
  },
  'qwen2.5-0.5b': {
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    vocab_size: 151936,
    tie_word_embeddings: true,
  },
  // Qwen3-4B-Instruct-2507's widths, vocabulary and head_dim with 2 of its 36 layers
  'qwen3-4b-2l': {
    model_type: 'qwen3',
    hidden_size: 2560,
    intermediate_size: 9728,
    num_hidden_layers: 2,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 128,
    vocab_size: 151936,
    tie_word_embeddings: true,
  },
};

export function presetConfig(preset: string): Qwen2Config {
  if (!PRESETS[preset]) throw new Error(`unknown preset "${preset}" (${Object.keys(PRESETS).join(', ')})`);
  return parseQwen2Config({ model_type: 'qwen2', rope_theta: 1e6, rms_norm_eps: 1e-6, ...PRESETS[preset] });
}

/**
 * Seeded bf16 weights made on demand, shaped like a trained model's scale: 1/sqrt(fan-in)
 * for matrices, ~1 for norms, small biases. Truncating to bf16 is fine for random values.
 */
export function randomWeights(cfg: Qwen2Config, seed: number): WeightReader {
  const shapes = expectedTensors(cfg);
  const names = [...shapes.keys()];
  const size = (name: string) => {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`no tensor ${name} in this preset`);
    return shape.reduce((x, y) => x * y, 1);
  };
  // written straight into the engine's memory where it offers some, as a model file is read
  const fill = (name: string, out: Uint16Array) => {
    const shape = shapes.get(name)!;
    const isNorm = name.endsWith('norm.weight');
    const std = isNorm ? 0.05 : shape.length === 1 ? 0.02 : 1 / Math.sqrt(shape[shape.length - 1]);
    const half = Math.sqrt(3) * std,
      center = isNorm ? 1 : 0;
    const f = new Float32Array(1),
      u = new Uint32Array(f.buffer);
    let s = hash32(seed, names.indexOf(name));
    for (let i = 0; i < out.length; i++) {
      // xorshift32: cheap enough for 494M values
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      f[0] = center + (((s >>> 0) / 4294967296) * 2 - 1) * half;
      out[i] = u[0] >>> 16;
    }
    return out;
  };
  return {
    dtype: 'bf16',
    read: async (name: string) => fill(name, new Uint16Array(size(name))),
    readInto: async (name: string, dst: Float32Array | Uint16Array) => {
      if (!(dst instanceof Uint16Array) || dst.length !== size(name))
        throw new Error(`${name}: a bf16 tensor of ${size(name)} values goes into a Uint16Array of that length`);
      fill(name, dst);
    },
  };
}

/**
 * Seed-like ragged rows (`--lengths lo-hi`): row k = s*B + b of step s is lo + floor((hi-lo+1)
 * u^3) tokens with u = frac(k * golden ratio), skewed to the short end like the seed's rows
 * (46-77 Qwen tokens, ~53 on average: this gives 53-54). scripts/bench_torch.py repeats it exactly.
 */
export function rowLengths(B: number, step: number, lo: number, hi: number): number[] {
  return Array.from({ length: B }, (_, b) => {
    const u = ((step * B + b) * 0.6180339887498949) % 1;
    return lo + Math.floor((hi - lo + 1) * u * u * u);
  });
}

/** Rows of the given lengths right padded to the longest (DataCollatorForSeq2Seq); the first half of each row is prompt. */
export function raggedMicroBatch(cfg: Qwen2Config, lengths: number[], seed: number): MicroBatch {
  const B = lengths.length,
    T = Math.max(...lengths);
  const inputIds = new Int32Array(B * T),
    labels = new Int32Array(B * T).fill(-100),
    attentionMask = new Int32Array(B * T);
  lengths.forEach((n, b) => {
    for (let t = 0; t < n; t++) {
      const i = b * T + t;
      inputIds[i] = hash32(seed, i) % cfg.vocabSize;
      attentionMask[i] = 1;
      if (t >= n / 2) labels[i] = inputIds[i];
    }
  });
  return { B, T, inputIds, attentionMask, labels };
}

/** B rows of T tokens, all real; the first half of each row is prompt (label -100). */
export function microBatch(cfg: Qwen2Config, B: number, T: number, seed: number): MicroBatch {
  const inputIds = new Int32Array(B * T),
    labels = new Int32Array(B * T),
    attentionMask = new Int32Array(B * T).fill(1);
  for (let i = 0; i < B * T; i++) {
    inputIds[i] = hash32(seed, i) % cfg.vocabSize;
    labels[i] = i % T < T / 2 ? -100 : inputIds[i];
  }
  return { B, T, inputIds, attentionMask, labels };
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

export interface StepBenchOptions {
  preset: string;
  batch: number;
  seq: number;
  steps: number;
  /** Also measure the main matmuls' GFLOP/s. */
  matmul: boolean;
  /** 'nf4': the seven projections as 4-bit NF4 (QLoRA), quantized on load. */
  quant?: Quantization;
  /** WebGPU: GPU time by kernel family over one more step, from timestamp queries. */
  profile?: boolean;
  /** Greedy decode tokens/s with the KV cache (default on). */
  decode?: boolean;
  /**
   * Ragged rows of lo..hi tokens (rowLengths), a new micro-batch each step: every step runs packed
   * and padded back to back (alternating which goes first); tokens/s count real tokens only.
   */
  lengths?: [number, number];
}

/**
 * Greedy decoding speed with the KV cache: new tokens per second after an 8-token prompt. The time
 * of a 1-token run is taken from that of a (1 + n)-token run, so prefill and the first logits cancel.
 */
export async function decodeTokensPerS(engine: Engine, cfg: Qwen2Config, n = 16): Promise<number> {
  const prompt = Int32Array.from({ length: 8 }, (_, i) => hash32(3, i) % cfg.vocabSize);
  const run = async (tokens: number) => {
    const t0 = performance.now();
    await engine.generate(prompt, { maxNewTokens: tokens, temperature: 0, topK: 0, topP: 1, stopTokens: [], seed: 0 });
    return performance.now() - t0;
  };
  await run(2); // warm-up: pipelines, the KV cache
  const one = await run(1),
    many = await run(1 + n);
  return Number((n / (Math.max(many - one, 1e-3) / 1000)).toFixed(2));
}

/** What the WebGPU backend adds for the counts: launches and bind groups made so far, and profiling. */
interface Countable {
  dispatchCount?: number;
  bindGroupCount?: number;
  startProfile?(): boolean;
  stopProfile?(): Promise<Record<string, { ms: number; launches: number }>>;
}

/**
 * Loads a random model of the preset, runs one warm-up and `steps` timed optimizer steps, and
 * returns the fields of the JSON line (without the engine's name and the process's memory).
 */
export async function runStepBench(
  engine: Engine & { ops: unknown; recomputes?(): boolean },
  o: StepBenchOptions,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const cfg = presetConfig(o.preset);
  const lora = { ...DEFAULT_LORA, r: 8, alpha: 32, dropout: 0.1 };
  const info = await engine.info();
  log(`engine: ${info.device} [${info.features.join(', ')}]`);
  const t0 = performance.now();
  const maxSeq = o.lengths ? o.lengths[1] : o.seq;
  const plan = await engine.load(cfg, randomWeights(cfg, 1), { maxBatch: o.batch, maxSeq, lora, quant: o.quant });
  await engine.initLora(1);
  log(
    `preset ${o.preset}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s, planned ${mb(plan.total)} MiB, allocated ${mb(plan.allocated)} MiB`,
  );
  const batch = o.lengths
    ? raggedMicroBatch(cfg, rowLengths(o.batch, 0, ...o.lengths), 7)
    : microBatch(cfg, o.batch, o.seq, 7);
  const opts = { ...DEFAULT_OPTIMIZER, lr: 1e-4, dropoutSeed: 0 };
  const times: number[] = [];
  const counts = engine.ops as Countable;
  let bindGroups = 0;
  const ragged = o.lengths ? await raggedSteps(engine, cfg, o, opts, log) : null;
  for (let s = 0; s <= (ragged ? -1 : o.steps); s++) {
    const start = performance.now();
    const groupsBefore = counts.bindGroupCount ?? 0;
    const r = await engine.step([batch], { ...opts, dropoutSeed: s });
    bindGroups = (counts.bindGroupCount ?? 0) - groupsBefore;
    const ms = performance.now() - start;
    log(
      `${s === 0 ? 'warm-up' : `step ${s}`}: ${ms.toFixed(0)} ms, loss ${r.loss.toFixed(4)}, grad norm ${r.gradNorm.toFixed(4)}`,
    );
    if (s > 0) times.push(ms);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const result: Record<string, unknown> = ragged
    ? { preset: o.preset, batch: o.batch, seq: maxSeq, ...ragged }
    : {
        preset: o.preset,
        batch: o.batch,
        seq: o.seq,
        // only when set: the 16-bit line keeps the shape of scripts/bench_torch.py's
        ...(o.quant === 'nf4' ? { quant: 'nf4' } : {}),
        train_tokens_per_s: Number(((o.batch * o.seq) / (median / 1000)).toFixed(2)),
        ms_per_step: Math.round(median),
      };
  if (ragged && o.quant === 'nf4') result.quant = 'nf4';
  if (info.kind === 'webgpu') {
    result.gpu_mb = mb(plan.allocated);
    result.adapter = info.device;
    result.kernels = info.kernels;
  }
  if (counts.dispatchCount !== undefined) {
    // a step of one micro-batch and one of two: the difference is what one more micro-batch costs
    const d0 = counts.dispatchCount;
    await engine.step([batch], opts);
    const d1 = counts.dispatchCount;
    await engine.step([batch, batch], opts);
    const perMicro = counts.dispatchCount - d1 - (d1 - d0);
    result.dispatches_per_micro_batch = perMicro;
    result.dispatches_per_step = d1 - d0 - perMicro;
    if (!ragged) result.bind_groups_per_step = bindGroups;
    log(
      `launches: ${perMicro} per micro-batch, ${d1 - d0 - perMicro} more per optimizer step${ragged ? '' : `; ${bindGroups} bind groups created in the last timed step`}`,
    );
  }
  if (info.kind === 'webgpu' && engine.recomputes) result.recompute = engine.recomputes(); // the CPU line keeps the PyTorch twin's shape
  if (o.decode !== false) {
    result.decode_tokens_per_s = await decodeTokensPerS(engine, cfg);
    log(`decode: ${result.decode_tokens_per_s} tokens/s (greedy, KV cache, one row)`);
  }
  if (o.profile && counts.startProfile?.()) {
    await engine.step([batch], opts);
    const families = await counts.stopProfile!();
    const total = Object.values(families).reduce((a, f) => a + f.ms, 0);
    result.profile = Object.fromEntries(
      Object.entries(families)
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(([k, f]) => [
          k,
          { share: Number((f.ms / (total || 1)).toFixed(4)), ms: Number(f.ms.toFixed(3)), launches: f.launches },
        ]),
    );
    log(
      `GPU time by kernel family (one step, ${total.toFixed(1)} ms in launches): ${Object.entries(
        result.profile as Record<string, { share: number }>,
      )
        .map(([k, v]) => `${k} ${(100 * v.share).toFixed(1)}%`)
        .join(', ')}`,
    );
  } else if (o.profile) log('profile: this device has no timestamp-query');
  if (o.matmul) {
    const t1 = performance.now();
    const m = await measureMatmuls(
      engine.ops as Ops<unknown, unknown>,
      cfg,
      o.batch * o.seq,
      lora.r,
      undefined,
      o.quant,
    );
    log(
      `matmul GFLOP/s at N = ${o.batch * o.seq} (${m.timing}, ${((performance.now() - t1) / 1000).toFixed(1)} s): ${Object.entries(
        m.gflops,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    result.matmul_gflops = m.gflops;
    result.matmul_timing = m.timing;
  }
  return result;
}

/**
 * The --lengths steps: one warm-up of each layout, then `steps` new ragged micro-batches, each run
 * packed and padded back to back (the order alternating, so a busy machine's drift hits both).
 * Tokens/s = the steps' real tokens over their summed time.
 */
async function raggedSteps(
  engine: Engine,
  cfg: Qwen2Config,
  o: StepBenchOptions,
  opts: typeof DEFAULT_OPTIMIZER & { lr: number; dropoutSeed: number },
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const [lo, hi] = o.lengths!;
  const ms = { packed: 0, padded: 0 };
  let real = 0,
    padded = 0;
  for (let s = 0; s <= o.steps; s++) {
    const lens = rowLengths(o.batch, s, lo, hi);
    const mb = raggedMicroBatch(cfg, lens, 7 + s);
    const order: ('packed' | 'padded')[] = s % 2 ? ['padded', 'packed'] : ['packed', 'padded'];
    const line: string[] = [];
    for (const mode of order) {
      const t0 = performance.now();
      const r = await engine.step([{ ...mb, pack: mode === 'packed' }], { ...opts, dropoutSeed: s });
      const dt = performance.now() - t0;
      if (s > 0) ms[mode] += dt;
      line.push(`${mode} ${dt.toFixed(0)} ms (loss ${r.loss.toFixed(4)})`);
    }
    if (s > 0) {
      real += lens.reduce((a, n) => a + n, 0);
      padded += o.batch * mb.T;
    }
    log(`${s === 0 ? 'warm-up' : `step ${s}`}: rows ${lens.join(', ')}: ${line.join(', ')}`);
  }
  const perS = (t: number) => Number((real / (t / 1000)).toFixed(2));
  log(
    `real tokens ${real} of ${padded} padded (${((100 * real) / padded).toFixed(1)}%); packed ${perS(ms.packed)} vs padded ${perS(ms.padded)} real tokens/s`,
  );
  return {
    lengths: `${lo}-${hi}`,
    train_tokens_per_s: perS(ms.packed),
    ms_per_step: Math.round(ms.packed / o.steps),
    padded_tokens_per_s: perS(ms.padded),
    packing_speedup: Number((ms.padded / ms.packed).toFixed(3)),
    real_tokens: real,
    padded_tokens: padded,
  };
}
