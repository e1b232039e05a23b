// `bench --engine webgpu --count-only`: the training step and a decoded token recorded on a
// WebGPU device that only counts. Its GPU object answers every call the engine makes (buffers,
// pipelines, passes, read-backs of zeros) without computing anything, so any preset, the real
// Qwen2.5-0.5B shape included, is counted in seconds on a machine without a GPU. Each launch the
// command stream encodes is tallied by kernel (shader file.entry point): launches, workgroups,
// bytes bound (the sizes of its storage bindings: an upper bound on its memory traffic) and
// FLOPs from the launch's own parameters (multiply-adds of the matmul-like kernels counted as
// 2; elementwise kernels a few per element, marked approximate).
//
// The device describes a laptop-class GPU (Apple M2 in Chrome: shader-f16, 32 KiB workgroup
// memory, 10 storage buffers per stage), so the f16 tile variants are the ones counted.

import { expectedTensors, type Qwen2Config } from '../src/core/config.ts';
import type { Quantization } from '../src/core/nf4.ts';
import { createEngine } from '../src/engine/create.ts';
import type { WeightReader } from '../src/engine/engine.ts';
import { DEFAULT_LORA, DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';
import { microBatch, presetConfig, raggedMicroBatch, rowLengths } from './bench-core.ts';
import type { Region } from '../src/engine/gpu/memory.ts';
import type { CommandStream, Grid } from '../src/engine/gpu/command-stream.ts';
import type { Kernel } from '../src/engine/gpu/pipelines.ts';

const LIMITS = {
  maxBufferSize: 4 * 2 ** 30,
  maxStorageBufferBindingSize: 4 * 2 ** 30 - 4,
  maxStorageBuffersPerShaderStage: 10,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxComputeWorkgroupsPerDimension: 65535,
  maxBindGroups: 4,
  minStorageBufferOffsetAlignment: 256,
  minUniformBufferOffsetAlignment: 256,
  maxUniformBufferBindingSize: 65536,
};

function buffer(d: GPUBufferDescriptor): GPUBuffer {
  return {
    size: d.size,
    usage: d.usage,
    label: d.label ?? '',
    mapState: 'unmapped',
    mapAsync: async () => {},
    // a fresh zeroed range each time: nothing is kept, so a 1 GB model costs no memory here
    getMappedRange: (offset = 0, size?: number) => new ArrayBuffer(size ?? d.size - offset),
    unmap: () => {},
    destroy: () => {},
  } as unknown as GPUBuffer;
}

/** Bytes copied between buffers (read-backs go through a copy into a mappable buffer). */
export const copied = { bytes: 0 };

const pass = {
  setPipeline() {},
  setBindGroup() {},
  dispatchWorkgroups() {},
  dispatchWorkgroupsIndirect() {},
  end() {},
};

/** A GPU whose single adapter hands out a device that records nothing and computes nothing. */
export function countingGpu(): GPU {
  const features = new Set<string>(['shader-f16']);
  const device = {
    label: 'count-only',
    features,
    limits: LIMITS,
    lost: new Promise(() => {}),
    queue: { writeBuffer() {}, submit() {}, onSubmittedWorkDone: async () => {} },
    addEventListener() {},
    pushErrorScope() {},
    popErrorScope: async () => null,
    destroy() {},
    createBuffer: buffer,
    createShaderModule: () => ({ getCompilationInfo: async () => ({ messages: [] }) }),
    createBindGroupLayout: () => ({}),
    createPipelineLayout: () => ({}),
    createBindGroup: () => ({}),
    createComputePipeline: () => ({ getBindGroupLayout: () => ({}) }),
    createComputePipelineAsync: async () => ({ getBindGroupLayout: () => ({}) }),
    createQuerySet: () => ({ destroy() {} }),
    createCommandEncoder: () => ({
      beginComputePass: () => pass,
      copyBufferToBuffer: (...a: unknown[]) => {
        copied.bytes += a[a.length - 1] as number;
      },
      clearBuffer() {},
      resolveQuerySet() {},
      finish: () => ({}),
    }),
  };
  const adapter = {
    features,
    limits: LIMITS,
    info: { vendor: 'count-only', architecture: '', description: 'counting device (Apple M2-like limits, shader-f16)' },
    requestDevice: async () => device,
  };
  return { requestAdapter: async () => adapter } as unknown as GPU;
}

/** FLOPs of one launch from its parameters; `exact` false where it is a per-element estimate. */
export function launchFlops(name: string, p: Record<string, number>, grid: Grid): { flops: number; exact: boolean } {
  const [file, entry] = name.split('.');
  const lanes = grid[0] * grid[1] * (grid[2] ?? 1) * 256;
  // LoRA inside the matmul: forward adds xa_p @ B_pᵀ over each part's own columns (cols in all);
  // backward adds dxa_p @ A_p into all of dinp's columns for each adapted part
  const adapted = p.lmask ? [0, 1, 2].filter((i) => p.lmask & (1 << i)).length : 0;
  const lora = p.R ? 2 * p.N * p.R * p.cols * (name.endsWith('backward') ? adapted : Math.min(adapted, 1)) : 0;
  const parts = (q: string) => [0, 1, 2].slice(0, p.nparts ?? 1).reduce((a, i) => a + (p[`${q}${i}`] ?? 0), 0);
  // causal (query, key) pairs per head; a packed batch's rows see only their own keys, so there an upper bound
  const pairs = () => p.T * (p.S - p.T) + (p.T * (p.T + 1)) / 2;
  switch (file === 'matmul' || file === 'crossentropy' || file === 'lora' || file === 'attention' ? name : file) {
    case 'matmul.forward':
    case 'matmul.backward':
    case 'matmul.gemv':
      return { flops: 2 * p.N * p.K * p.cols + lora, exact: true };
    case 'matmul.forward_reduce':
    case 'matmul.backward_reduce':
      return { flops: p.N * p.cols * p.kSplit, exact: true };
    case 'crossentropy.logits_forward':
    case 'crossentropy.dh_backward':
      return { flops: 2 * p.M * p.C * p.vc, exact: true };
    case 'lora.xa_forward':
      return { flops: 2 * p.N * p.In * p.R * (p.nparts || 1), exact: true };
    case 'lora.dxa_backward':
      return { flops: 2 * p.N * p.R * parts('O'), exact: true };
    case 'lora.grads_backward':
      return { flops: 2 * p.N * p.R * (p.In * (p.nparts || 1) + parts('O')), exact: true };
    case 'attention.forward':
      return { flops: 4 * p.B * p.NH * p.HD * pairs(), exact: true };
    case 'attention.backward_dq':
      return { flops: 6 * p.B * p.NH * p.HD * pairs(), exact: true };
    case 'attention.backward_dkv':
      return { flops: 8 * p.B * p.NH * p.HD * pairs(), exact: true };
    case 'rmsnorm':
      return { flops: 5 * p.N * p.C, exact: false };
    case 'swiglu':
      return { flops: (entry === 'forward' ? 6 : 10) * p.n, exact: false };
    case 'adamw':
      return { flops: 16 * p.P, exact: false };
    default:
      return { flops: Math.min(lanes, 4 * 2 ** 30) * 2, exact: false }; // a couple per thread launched
  }
}

export interface KernelTally {
  launches: number;
  workgroups: number;
  bytesBound: number;
  flops: number;
  exact: boolean;
}

/** Launch counts by kernel name, snapshotted to take differences (one micro-batch = two minus one). */
export class LaunchTally {
  readonly byKernel = new Map<string, KernelTally>();

  record = (kernel: Kernel, bindings: Record<string, Region>, params: Record<string, number>, grid: Grid): void => {
    let t = this.byKernel.get(kernel.name);
    if (!t) this.byKernel.set(kernel.name, (t = { launches: 0, workgroups: 0, bytesBound: 0, flops: 0, exact: true }));
    t.launches++;
    t.workgroups += grid[0] * grid[1] * (grid[2] ?? 1);
    for (const name of kernel.bindings.keys()) t.bytesBound += bindings[name]?.size ?? 0;
    const f = launchFlops(kernel.name, params, grid);
    t.flops += f.flops;
    t.exact &&= f.exact;
  };

  snapshot(): Map<string, KernelTally> {
    return new Map([...this.byKernel].map(([k, t]) => [k, { ...t }]));
  }
}

/** after - before, kernel by kernel (kernels with no launch in between left out). */
export function tallyDiff(
  after: Map<string, KernelTally>,
  before: Map<string, KernelTally>,
  times = 1,
): Map<string, KernelTally> {
  const out = new Map<string, KernelTally>();
  for (const [k, a] of after) {
    const b = before.get(k) ?? { launches: 0, workgroups: 0, bytesBound: 0, flops: 0, exact: true };
    const d = {
      launches: (a.launches - b.launches) / times,
      workgroups: (a.workgroups - b.workgroups) / times,
      bytesBound: (a.bytesBound - b.bytesBound) / times,
      flops: (a.flops - b.flops) / times,
      exact: a.exact,
    };
    if (d.launches) out.set(k, d);
  }
  return out;
}

export function totals(t: Map<string, KernelTally>): KernelTally {
  let launches = 0,
    workgroups = 0,
    bytesBound = 0,
    flops = 0;
  for (const x of t.values()) {
    launches += x.launches;
    workgroups += x.workgroups;
    bytesBound += x.bytesBound;
    flops += x.flops;
  }
  return { launches, workgroups, bytesBound, flops, exact: true };
}

/** The table the bench prints: one row per kernel, busiest (FLOPs, then bytes) first. */
export function tallyTable(t: Map<string, KernelTally>): string[] {
  const rows = [...t].sort((a, b) => b[1].flops - a[1].flops || b[1].bytesBound - a[1].bytesBound);
  const tot = totals(t);
  const line = (k: string, x: KernelTally) =>
    `| ${k} | ${x.launches} | ${x.workgroups} | ${(x.bytesBound / 2 ** 20).toFixed(1)} | ${(x.flops / 1e9).toFixed(2)}${x.exact ? '' : ' ~'} | ${((100 * x.flops) / (tot.flops || 1)).toFixed(1)}% |`;
  return [
    '| kernel | launches | workgroups | MiB bound | GFLOP | of FLOPs |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(([k, x]) => line(k, x)),
    line('total', tot),
  ];
}

export interface CountOptions {
  preset: string;
  batch: number;
  seq: number;
  quant?: Quantization;
  /** Tokens decoded to average the launches of one (default 8). */
  decodeTokens?: number;
  /** A packed ragged micro-batch (bench --lengths' first) instead of B x T real tokens. */
  lengths?: [number, number];
}

/** Zero weights of the preset's shapes: what the counting device holds does not matter. */
function zeroWeights(cfg: Qwen2Config): WeightReader {
  const shapes = expectedTensors(cfg);
  const size = (name: string) => shapes.get(name)!.reduce((a, b) => a * b, 1);
  return { dtype: 'bf16', read: async (name) => new Uint16Array(size(name)), readInto: async () => {} };
}

/**
 * Loads the preset on the counting device and records a step of one micro-batch (B x T, all
 * real), then of two: the difference is one micro-batch. Decoding: a run of 1 + n new tokens
 * minus a run of 1, over n. Returns the JSON line's fields; `log` gets the tables.
 */
export async function runCountOnly(o: CountOptions, log: (line: string) => void): Promise<Record<string, unknown>> {
  const tally = new LaunchTally();
  // selfCheck off: a counting device computes nothing, so the per-device check of the f16 and
  // subgroup variants would wait for results that never come.
  const engine = await createEngine('webgpu', { gpu: { gpu: countingGpu(), selfCheck: false } });
  // the command stream's launch observer (a field the WebGPU backend keeps private)
  (engine.ops as unknown as { stream: CommandStream }).stream.observer = tally.record;
  const cfg = presetConfig(o.preset);
  const lora = { ...DEFAULT_LORA, r: 8, alpha: 32, dropout: 0.1 };
  const maxSeq = o.lengths ? o.lengths[1] : o.seq;
  const plan = await engine.load(cfg, zeroWeights(cfg), { maxBatch: o.batch, maxSeq, lora, quant: o.quant });
  await engine.initLora(1);
  const lens = o.lengths ? rowLengths(o.batch, 1, ...o.lengths) : null;
  const batch = lens ? raggedMicroBatch(cfg, lens, 7) : microBatch(cfg, o.batch, o.seq, 7);
  const opts = { ...DEFAULT_OPTIMIZER, lr: 1e-4, dropoutSeed: 0 };
  await engine.step([batch], opts);
  const s0 = tally.snapshot();
  await engine.step([batch], opts);
  const s1 = tally.snapshot();
  await engine.step([batch, batch], opts);
  const s2 = tally.snapshot();
  const one = tallyDiff(s1, s0),
    two = tallyDiff(s2, s1);
  const micro = tallyDiff(two, one),
    step = tallyDiff(one, micro);
  const n = o.decodeTokens ?? 8;
  const prompt = Int32Array.from({ length: 8 }, (_, i) => (i * 7919) % cfg.vocabSize);
  const gen = (k: number) =>
    engine.generate(prompt, { maxNewTokens: k, temperature: 0, topK: 0, topP: 1, stopTokens: [], seed: 0 });
  await gen(1);
  const d0 = tally.snapshot(),
    c0 = copied.bytes;
  await gen(1);
  const d1 = tally.snapshot(),
    c1 = copied.bytes;
  await gen(1 + n);
  const copiedPerToken = (copied.bytes - c1 - (c1 - c0)) / n;
  const token = tallyDiff(tallyDiff(tally.snapshot(), d1), tallyDiff(d1, d0), 1);
  const perToken = new Map(
    [...token].map(([k, t]) => [
      k,
      {
        ...t,
        launches: t.launches / n,
        workgroups: t.workgroups / n,
        bytesBound: t.bytesBound / n,
        flops: t.flops / n,
      },
    ]),
  );
  await engine.dispose();
  const m = totals(micro),
    tok = totals(perToken);
  const shape = lens ? `rows ${lens.join(', ')} packed` : `${o.batch} x ${o.seq}`;
  log(
    `counted on the counting device: preset ${o.preset}, ${shape}${o.quant === 'nf4' ? ', NF4 base' : ''}, planned ${(plan.total / 2 ** 20).toFixed(0)} MiB`,
  );
  log(
    `one micro-batch (forward, loss, backward): ${m.launches} launches, ${(m.flops / 1e9).toFixed(1)} GFLOP, ${(m.bytesBound / 2 ** 30).toFixed(2)} GiB bound`,
  );
  for (const l of tallyTable(micro)) log(l);
  log(`once per optimizer step: ${totals(step).launches} launches (${[...step.keys()].join(', ')})`);
  log(
    `one decoded token (greedy, KV cache, one row): ${tok.launches} launches, ${(tok.bytesBound / 2 ** 20).toFixed(1)} MiB bound, ${copiedPerToken} bytes copied (read back)`,
  );
  for (const l of tallyTable(perToken)) log(l);
  const kernels = Object.fromEntries(
    [...micro].map(([k, t]) => [
      k,
      {
        launches: t.launches,
        workgroups: t.workgroups,
        mib_bound: Number((t.bytesBound / 2 ** 20).toFixed(1)),
        gflop: Number((t.flops / 1e9).toFixed(6)),
      },
    ]),
  );
  return {
    engine: 'webgpu-count',
    preset: o.preset,
    batch: o.batch,
    seq: maxSeq,
    ...(lens ? { rows: lens } : {}),
    ...(o.quant === 'nf4' ? { quant: 'nf4' } : {}),
    dispatches_per_micro_batch: m.launches,
    dispatches_per_step: totals(step).launches,
    decode_launches_per_token: tok.launches,
    gflop_per_micro_batch: Number((m.flops / 1e9).toFixed(2)),
    gib_bound_per_micro_batch: Number((m.bytesBound / 2 ** 30).toFixed(3)),
    workgroups_per_micro_batch: m.workgroups,
    decode_mib_bound_per_token: Number((tok.bytesBound / 2 ** 20).toFixed(1)),
    decode_read_back_bytes_per_token: copiedPerToken,
    kernels,
  };
}
