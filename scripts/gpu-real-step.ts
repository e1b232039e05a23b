// One full training step (forward, backward, AdamW) of a real model shape with random bf16
// weights, printing loss, time and planned versus allocated memory, plus the plan for the
// preset's target (Qwen2.5-0.5B: batch 4 x seq 384, at most 2 GB, at most 1 GiB with --quant
// nf4; Qwen3-4B-Instruct-2507, all 36 layers: batch 1 x seq 384 with NF4, at most 4 GiB).
//   npx tsx scripts/gpu-real-step.ts [--preset qwen2.5-0.5b|qwen3-4b-2l] [--engine webgpu|cpu]
//                                    [--seq 64] [--batch 1] [--layers N] [--quant nf4]
// On WebGPU it runs on Dawn; without a GPU, VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
// selects SwiftShader (minutes per step: it is a correctness and memory check, not a benchmark).
// The last line is JSON: planned and allocated bytes and allocation over plan in percent.

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';

import { parseQwen2Config, type Qwen2Config } from '../src/core/config.ts';
import { catalogModel } from '../src/core/catalog.ts';
import type { Quantization } from '../src/core/nf4.ts';
import { createEngine, type EngineKind } from '../src/engine/create.ts';
import { planMemory } from '../src/engine/plan.ts';
import { DEFAULT_LORA, DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';
import { scriptFlags } from '../src/cli/args.ts';
import { presetConfig, randomWeights } from './bench-core.ts';

/** Per preset: the published model it stands for and the target load its plan must fit. */
const TARGETS: Record<string, { repo: string; B: number; T: number; bytes: { none: number; nf4: number } }> = {
  'qwen2.5-0.5b': { repo: 'Qwen/Qwen2.5-0.5B-Instruct', B: 4, T: 384, bytes: { none: 2 * 2 ** 30, nf4: 2 ** 30 } },
  'qwen3-4b-2l': { repo: 'Qwen/Qwen3-4B-Instruct-2507', B: 1, T: 384, bytes: { none: Infinity, nf4: 4 * 2 ** 30 } },
};

const flags = scriptFlags('gpu-real-step', 'one real-shape training step: loss, time, planned vs allocated memory', {
  preset: { kind: 'choice', choices: Object.keys(TARGETS), help: 'model shape (default qwen2.5-0.5b)' },
  engine: { kind: 'choice', choices: ['webgpu', 'cpu'], help: 'engine (default webgpu)' },
  seq: { kind: 'int', min: 1, help: 'tokens per row (default 64)' },
  batch: { kind: 'int', min: 1, help: 'rows (default 1)' },
  layers: { kind: 'int', min: 1, help: "decoder layers (default: the preset's)" },
  quant: {
    kind: 'choice',
    choices: ['none', 'nf4'],
    help: 'base projections 16-bit (none, default) or 4-bit NF4 (QLoRA)',
  },
});
const preset = (flags.preset as string | undefined) ?? 'qwen2.5-0.5b';
const kind = (flags.engine as EngineKind | undefined) ?? 'webgpu';
const quant = (flags.quant as Quantization | undefined) ?? 'none';
const arg = (name: string, fallback: number) => (flags[name] as number | undefined) ?? fallback;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

const base = presetConfig(preset);
const cfg: Qwen2Config = { ...base, numLayers: arg('layers', base.numLayers) };
const B = arg('batch', 1),
  T = arg('seq', 64);
const lora = DEFAULT_LORA;

const engine = await createEngine(kind);
const info = await engine.info();
const ops = engine.ops as {
  allocatedBytes(): number;
  info?: { maxBufferSize: number; maxBindingSize: number };
  kernels?: { heap: { bytesInUse: number; memory: WebAssembly.Memory } };
};
console.log(
  `device: ${info.device}${ops.info ? `; max buffer ${mib(ops.info.maxBufferSize)}, max binding ${mib(ops.info.maxBindingSize)}` : ''}`,
);
let t0 = performance.now();
const plan = await engine.load(cfg, randomWeights(cfg, 7), { maxBatch: B, maxSeq: T, lora, quant });
const before = ops.allocatedBytes() - plan.allocated;
console.log(
  `load: ${((performance.now() - t0) / 1000).toFixed(1)} s; ${preset}, ${cfg.numLayers} layers, batch ${B} x seq ${T}, base ${quant === 'nf4' ? 'NF4' : 'bf16'}, ${kind}`,
);
console.log(
  `planned ${mib(plan.total)} (${Object.entries(plan.parts)
    .map(([k, v]) => `${k} ${mib(v)}`)
    .join(', ')}); allocated by load ${mib(plan.allocated)}`,
);
await engine.initLora(1);

const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919 + 13) % cfg.vocabSize);
const labels = Int32Array.from(ids, (id, i) => (i % T < T / 4 ? -100 : id)); // first quarter is the prompt
t0 = performance.now();
const r = await engine.step([{ B, T, inputIds: ids, attentionMask: new Int32Array(B * T).fill(1), labels }], {
  ...DEFAULT_OPTIMIZER,
  lr: 1e-4,
  dropoutSeed: 3,
});
const stepSeconds = (performance.now() - t0) / 1000;
console.log(
  `step: loss ${r.loss.toFixed(4)} (ln V = ${Math.log(cfg.vocabSize).toFixed(4)}), grad norm ${r.gradNorm.toExponential(3)}, ${r.tokens} label tokens, ${stepSeconds.toFixed(1)} s`,
);
// Everything the engine's memory holds after the step, not only what load placed: the GPU's
// buffers (kernel scratch, rope tables, uniform ring, read-back included), or the CPU engine's
// WebAssembly heap up to its top (kernel job blocks and scratch included).
const now = ops.kernels ? ops.kernels.heap.bytesInUse : ops.allocatedBytes() - before;
const over = (now / plan.total - 1) * 100;
console.log(
  `${kind === 'cpu' ? 'WebAssembly heap in use' : 'GPU memory allocated'} after the step: ${mib(now)}, ${over.toFixed(1)}% over the plan of ${mib(plan.total)}${ops.kernels ? ` (the memory has grown to ${mib(ops.kernels.heap.memory.buffer.byteLength)}: it grows by at least 1/8 at a time)` : ''}`,
);
if (!Number.isFinite(r.loss)) process.exitCode = 1;

const target = TARGETS[preset];
const full = catalogModel(target.repo);
if (!full) throw new Error(`${target.repo} is not in the catalog`);
const { total: targetTotal, parts: targetParts } = planMemory(
  kind,
  parseQwen2Config(full.config),
  { maxBatch: target.B, maxSeq: target.T, lora, quant },
  'bf16',
);
const bound = target.bytes[quant];
console.log(
  `${target.repo}, batch ${target.B} x seq ${target.T}: ${kind} plans ${mib(targetTotal)} (${Object.entries(targetParts)
    .map(([k, v]) => `${k} ${mib(v)}`)
    .join(', ')})${Number.isFinite(bound) ? ` ${targetTotal <= bound ? '<=' : '>'} ${bound / 2 ** 30} GiB` : ''}`,
);
console.log(
  JSON.stringify({
    preset,
    engine: kind,
    quant,
    layers: cfg.numLayers,
    batch: B,
    seq: T,
    loss: r.loss,
    step_s: +stepSeconds.toFixed(1),
    planned_bytes: plan.total,
    allocated_after_step_bytes: now,
    over_plan_pct: +over.toFixed(2),
  }),
);
await engine.dispose();
