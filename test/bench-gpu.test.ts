// scripts/bench-gpu.ts without a GPU: its options, the matmul shapes it times (checked against
// the weight shapes the model loads) and its one table. Its run on SwiftShader is part of the
// GPU kit's end-to-end check (`npm run kit:check`).

import { describe, expect, it } from 'vitest';
import { expectedTensors } from '../src/core/config.ts';
import { UsageError } from '../src/cli/args.ts';
import { PRESETS, presetConfig } from '../scripts/bench-core.ts';
import { stepProjections } from '../scripts/bench-matmul.ts';
import {
  formatTable,
  isCpuEmulation,
  parseBenchGpuOptions,
  type BenchGpuOptions,
  type MatmulRun,
} from '../scripts/bench-gpu.ts';

describe('bench-gpu options', () => {
  it('defaults to tiny, mid and Qwen2.5-0.5B at the seed batch, timing the 0.5B step matmuls', () => {
    const o = parseBenchGpuOptions([]);
    expect(o).toMatchObject({
      presets: ['tiny', 'mid', 'qwen2.5-0.5b'],
      matmulPreset: 'qwen2.5-0.5b',
      batch: 4,
      seq: 64,
    });
    for (const p of o.presets) expect(PRESETS[p]).toBeDefined();
  });

  it('--quick is small; an explicit flag wins over it in either order', () => {
    expect(parseBenchGpuOptions(['--quick'])).toMatchObject({
      presets: ['tiny'],
      matmulPreset: 'tiny',
      batch: 2,
      seq: 16,
      steps: 1,
    });
    expect(parseBenchGpuOptions(['--presets', 'mid', '--quick'])).toMatchObject({ presets: ['mid'], batch: 2 });
    expect(parseBenchGpuOptions(['--quick', '--matmul-preset', 'none']).matmulPreset).toBeNull();
  });

  it('an unknown preset stops it before any work, naming the known ones', () => {
    expect(() => parseBenchGpuOptions(['--presets', 'tiny,huge'])).toThrow(
      `unknown preset "huge" (${Object.keys(PRESETS).join(', ')})`,
    );
    expect(() => parseBenchGpuOptions(['--batch', '0'])).toThrow(UsageError);
  });

  it('calls software rasterizers CPU emulation, GPUs not', () => {
    expect(isCpuEmulation('google swiftshader SwiftShader driver 5.0.0')).toBe(true);
    expect(isCpuEmulation('mesa llvmpipe (LLVM 15)')).toBe(true);
    expect(isCpuEmulation('nvidia hopper NVIDIA H200')).toBe(false);
    expect(isCpuEmulation('apple metal-3 Apple M2')).toBe(false);
  });
});

describe('the step matmul shapes', () => {
  it('are the weight shapes the model loads, per projection, per fused group and for the logits', () => {
    for (const preset of ['tiny', 'qwen2.5-0.5b', 'qwen3-4b-2l']) {
      const cfg = presetConfig(preset);
      const w = expectedTensors(cfg);
      const shape = (name: string) => {
        const [O, In] = w.get(name)!;
        return { In, O };
      };
      const L = 'model.layers.0';
      const s = stepProjections(cfg);
      expect(s.q).toEqual(shape(`${L}.self_attn.q_proj.weight`));
      expect(s.k_v).toEqual(shape(`${L}.self_attn.k_proj.weight`));
      expect(s.k_v).toEqual(shape(`${L}.self_attn.v_proj.weight`));
      expect(s.o).toEqual(shape(`${L}.self_attn.o_proj.weight`));
      expect(s.gate_up).toEqual(shape(`${L}.mlp.gate_proj.weight`));
      expect(s.down).toEqual(shape(`${L}.mlp.down_proj.weight`));
      expect(s.lm_head).toEqual(shape('model.embed_tokens.weight'));
      expect(s.qkv).toEqual({ In: s.q.In, O: s.q.O + 2 * s.k_v.O });
      expect(s.gate_up_fused).toEqual({ In: s.gate_up.In, O: 2 * s.gate_up.O });
    }
  });
});

describe('the bench-gpu table', () => {
  const o: BenchGpuOptions = {
    presets: ['tiny', 'mid'],
    matmulPreset: 'tiny',
    batch: 4,
    seq: 64,
    steps: 3,
    decodeTokens: 32,
    cpu: false,
    chromium: null,
  };
  const cfg = presetConfig('tiny');
  const shapes = stepProjections(cfg);
  const gflops: Record<string, number> = { lora_fwd: 1, lora_bwd: 2 };
  for (const k of Object.keys(shapes)) Object.assign(gflops, { [`${k}_fwd`]: 3, [`${k}_bwd`]: 4 });
  const matmuls: MatmulRun = { preset: 'tiny', N: 256, result: { gflops, timing: 'timestamp-query', shapes } };
  const ok = {
    train_tokens_per_s: 1000,
    ms_per_step: 256,
    gpu_mb: 10,
    decode_tokens_per_s: 50,
    decode_prompt: 8,
    decode_new_tokens: 32,
    peak_gpu_mb: 12,
  };

  it('is one markdown table: train, decode and peak memory per preset, both directions of every matmul shape and LoRA', () => {
    const lines = formatTable(
      [
        { engine: 'webgpu', preset: 'tiny', adapter: 'x', features: [], result: ok },
        { engine: 'webgpu', preset: 'mid', adapter: 'x', features: [], result: { error: 'OutOfMemoryError: no' } },
      ],
      matmuls,
      o,
    );
    expect(lines.every((l) => l.startsWith('|') && l.endsWith('|'))).toBe(true);
    expect(lines.filter((l) => /^\|( --- \|)+$/.test(l))).toHaveLength(1);
    const cells = lines.map((l) => l.split(' | ').length);
    expect(new Set(cells).size).toBe(1); // every row has the header's columns
    const rows = lines.slice(2);
    expect(rows.filter((r) => r.startsWith('| train | tiny | 4 x 64 | 1000 |'))).toHaveLength(1);
    expect(rows.filter((r) => r.startsWith('| decode | tiny | 1 row, 32 tokens after 8 | 50 |'))).toHaveLength(1);
    expect(rows.filter((r) => r.startsWith('| peak GPU memory | tiny | 4 x 64 | 12 |'))).toHaveLength(1);
    expect(rows.filter((r) => r.startsWith('| train | mid | 4 x 64 | failed: OutOfMemoryError: no |'))).toHaveLength(1);
    expect(rows.filter((r) => r.startsWith('| matmul '))).toHaveLength(2 * Object.keys(shapes).length + 2);
    expect(rows.find((r) => r.startsWith('| matmul logits (lm_head) x·Wᵀ'))).toContain(
      `256 x ${cfg.hiddenSize} · (${cfg.vocabSize} x ${cfg.hiddenSize})ᵀ | 3 |`,
    );
  });
});
