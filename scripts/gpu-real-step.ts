// One full training step (forward, backward with gradient checkpointing, AdamW) of the real
// Qwen2.5-0.5B shape with random bf16 weights on WebGPU, printing loss, time and planned versus
// allocated GPU memory, plus the plan for the target shape (batch 4 x seq 384, at most 2 GB; at
// most 1 GiB with --quant nf4, the 4-bit NF4 base of QLoRA).
//   npx tsx scripts/gpu-real-step.ts [--seq 64] [--batch 1] [--layers 24] [--quant nf4]
// In Node it runs on Dawn; without a GPU, VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
// selects SwiftShader (minutes per step: it is a correctness and memory check, not a benchmark).

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';

import { expectedTensors, parseQwen2Config, type Qwen2Config } from '../src/core/config.ts';
import type { MicroBatch, WeightReader } from '../src/engine/engine.ts';
import { DEFAULT_LORA, DEFAULT_OPTIMIZER } from '../src/train/recipe.ts';
import { LoraEngine } from '../src/engine/lora-engine.ts';
import { planMemory } from '../src/engine/plan.ts';
import type { Quantization } from '../src/core/nf4.ts';
import { createWebGpuBackend } from '../src/engine/gpu/backend.ts';
import { scriptFlags } from '../src/cli/args.ts';

const QWEN25_05B = {
  model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true,
  torch_dtype: 'bfloat16', max_position_embeddings: 32768, hidden_act: 'silu',
};
const TARGET = { B: 4, T: 384, bytes: 2 * 2 ** 30 };

const flags = scriptFlags('gpu-real-step', 'one real-shape Qwen2.5-0.5B training step on WebGPU', {
  seq: { kind: 'int', min: 1, help: 'tokens per row (default 64)' },
  batch: { kind: 'int', min: 1, help: 'rows (default 1)' },
  layers: { kind: 'int', min: 1, help: 'decoder layers (default 24)' },
  quant: { kind: 'choice', choices: ['none', 'nf4'], help: 'base projections 16-bit (none, default) or 4-bit NF4 (QLoRA)' },
});
const quant = (flags.quant as Quantization | undefined) ?? 'none';
const arg = (name: string, fallback: number) => (flags[name] as number | undefined) ?? fallback;

/** Random bf16 weights (uniform, std ~0.02 like the real checkpoint), made one tensor at a time. */
function randomWeights(seed: number): WeightReader {
  let s = seed >>> 0;
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  return {
    dtype: 'bf16',
    async read(name: string) {
      const shape = expected.get(name);
      if (!shape) throw new Error(`unexpected tensor ${name}`);
      const n = shape.reduce((a, b) => a * b, 1);
      const out = new Uint16Array(n);
      if (name.endsWith('layernorm.weight') || name === 'model.norm.weight') return out.fill(0x3f80); // 1.0
      for (let i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        f[0] = (s / 4294967296 - 0.5) * 0.07;
        out[i] = u[0] >>> 16;
      }
      return out;
    },
  };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

const cfg: Qwen2Config = parseQwen2Config({ ...QWEN25_05B, num_hidden_layers: arg('layers', 24) });
const B = arg('batch', 1), T = arg('seq', 64);
const expected = expectedTensors(cfg);
const lora = DEFAULT_LORA;

const backend = await createWebGpuBackend();
console.log(`device: ${backend.info.device}; max buffer ${mib(backend.info.maxBufferSize)}, max binding ${mib(backend.info.maxBindingSize)}`);
const engine = new LoraEngine(backend);
let t0 = performance.now();
const plan = await engine.load(cfg, randomWeights(7), { maxBatch: B, maxSeq: T, lora, quant });
console.log(`load: ${((performance.now() - t0) / 1000).toFixed(1)} s; ${cfg.numLayers} layers, batch ${B} x seq ${T}, base ${quant === 'nf4' ? 'NF4' : 'bf16'}`);
console.log(`planned ${mib(plan.total)} (${Object.entries(plan.parts).map(([k, v]) => `${k} ${mib(v)}`).join(', ')}); allocated by load ${mib(plan.allocated)}`);
await engine.initLora(1);

const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919 + 13) % cfg.vocabSize);
const labels = Int32Array.from(ids, (id, i) => (i % T < T / 4 ? -100 : id)); // first quarter is the prompt
const micro: MicroBatch = { B, T, inputIds: ids, attentionMask: new Int32Array(B * T).fill(1), labels };
t0 = performance.now();
const r = await engine.step([micro], { ...DEFAULT_OPTIMIZER, lr: 1e-4, dropoutSeed: 3 });
const stepSeconds = (performance.now() - t0) / 1000;
console.log(`step: loss ${r.loss.toFixed(4)} (ln V = ${Math.log(cfg.vocabSize).toFixed(4)}), grad norm ${r.gradNorm.toExponential(3)}, ${r.tokens} label tokens, ${stepSeconds.toFixed(1)} s`);
const now = backend.allocatedBytes();
console.log(`GPU memory allocated now: ${mib(now)}, ${((now / plan.total - 1) * 100).toFixed(1)}% over the plan of ${mib(plan.total)} (kernel scratch, rope tables, uniform ring, read-back)`);
if (!Number.isFinite(r.loss)) process.exitCode = 1;

const full = parseQwen2Config(QWEN25_05B);
const { parts: target, total: targetTotal } = planMemory('webgpu', full, { maxBatch: TARGET.B, maxSeq: TARGET.T, lora, quant }, 'bf16');
const bound = quant === 'nf4' ? 2 ** 30 : TARGET.bytes;
console.log(`target batch ${TARGET.B} x seq ${TARGET.T}, 24 layers: planned ${mib(targetTotal)} (${Object.entries(target).map(([k, v]) => `${k} ${mib(v)}`).join(', ')}) ${targetTotal <= bound ? '<=' : '>'} ${bound / 2 ** 30} GiB`);
await engine.dispose();
