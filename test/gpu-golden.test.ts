// The whole engine on WebGPU (Node Dawn, SwiftShader) against PyTorch: the f32 golden case
// (logits, loss, every LoRA gradient, three AdamW steps, greedy generation, merge) through
// the same model code the CPU engine runs. The shipped bf16 case passes too but takes about a minute
// under SwiftShader: `npx tsx src/cli/main.ts golden test/fixtures/golden/tiny-bf16-untied --engine webgpu`.

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';

import { expect, it } from 'vitest';
import { runGoldenCase } from '../src/cli/golden.ts';

it('WebGPU engine reproduces the PyTorch f32 golden case', async () => {
  const { checks } = await runGoldenCase('test/fixtures/golden/tiny-f32', 'webgpu', () => {});
  expect(checks.length).toBeGreaterThan(40);
  const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`);
  expect(failed).toEqual([]);
});

// Odd sizes (3 heads / 1 KV head, hidden 48, seq 9, r 3), BF16 weights, untied head, weight
// decay and active clipping: a case generated with make_golden.py, not one of the shipped two.
it('WebGPU engine reproduces the generated odd-size BF16 golden case', async () => {
  const { checks } = await runGoldenCase('test/fixtures/golden/odd-bf16', 'webgpu', () => {});
  const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`);
  expect(failed).toEqual([]);
}, 180_000);

// Qwen3: head_dim 32 with hidden 64 and 4 heads (q_proj 128 x 64), per-head q/k RMSNorms, no
// q/k/v bias, one warmup step: the same decoder block with its Qwen3 branches on the GPU.
it('WebGPU engine reproduces the Qwen3 BF16 golden case', async () => {
  const { checks } = await runGoldenCase('test/fixtures/golden/qwen3-bf16', 'webgpu', () => {});
  const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`);
  expect(failed).toEqual([]);
}, 180_000);

// QLoRA: the engine quantizes the seven projections to NF4 on load and the WGSL matmuls
// dequantize inside the kernel; the dequantized weight must equal PyTorch's bit for bit (max
// relative error 1e-6), the rest stays within the f32 bounds. qlora-nf4 is the shared case
// (BF16, 1 warmup step, cosine); nf4-odd-f32 ours (F32, 96 and 224 columns: blocks straddle rows);
// qwen3-nf4-untied ours (Qwen3 head_dim 32 over hidden 48, q/k norms, NF4 base, untied lm_head).
it.each(['qlora-nf4', 'nf4-odd-f32', 'qwen3-nf4-untied'])('WebGPU engine with a 4-bit NF4 base reproduces the %s golden case', async (name) => {
  const { checks } = await runGoldenCase(`test/fixtures/golden/${name}`, 'webgpu', () => {});
  expect(checks.find((c) => c.name === 'dequant.model.layers.0.mlp.down_proj.weight')).toMatchObject({ ok: true, maxAbs: 0 });
  const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`);
  expect(failed).toEqual([]);
}, 300_000);
