// The per-device self-check (src/engine/gpu/self-check.ts) on Mesa 25 lavapipe, the one driver
// here with shader-f16 and subgroups: both variants pass against the CPU twin and the kernel path
// is named; a deliberately broken variant (an injected shader source, as a driver bug would act)
// is refused with a notice, and a golden case then passes on the fallback.
import { needGpu } from '../helpers/gpu-env.ts';

import { afterEach, describe, expect, it } from 'vitest';
import { runGoldenCase } from '../../src/cli/golden.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../../src/engine/gpu/index.ts';
import { loadShaderSources } from '../../src/engine/gpu/shader-sources.ts';
import { SELF_CHECK_BOUNDS } from '../../src/engine/gpu/self-check.ts';

const run = needGpu('lavapipe', 'the f16 and subgroup self-check');
const CASE = 'test/fixtures/golden/tiny-f32';
let backends: WebGpuBackend[] = [];
afterEach(() => {
  for (const b of backends) b.dispose();
  backends = [];
});

async function backend(opts: Parameters<typeof createWebGpuBackend>[0] = {}): Promise<WebGpuBackend> {
  const b = await createWebGpuBackend(opts);
  backends.push(b);
  return b;
}

function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from).length, `the shader still holds "${from}"`).toBe(2);
  return text.replace(from, to);
}

/** Golden-case lines and failures on a backend. */
async function golden(b: WebGpuBackend): Promise<{ lines: string[]; failed: string[] }> {
  const lines: string[] = [];
  const { checks } = await runGoldenCase(CASE, 'webgpu', (l) => lines.push(l), { backend: b });
  return { lines, failed: checks.filter((c) => !c.ok).map((c) => `${c.name}: maxAbs ${c.maxAbs} relL2 ${c.relL2}`) };
}

describe.skipIf(!run)('self-check of the kernel variants on lavapipe 25', () => {
  it('passes f16 tiles and subgroups against the CPU, names the path, and leaves no buffer behind', async () => {
    const b = await backend();
    const checks = Object.fromEntries(b.info.checks.map((c) => [c.variant, c]));
    expect(Object.keys(checks).sort()).toEqual(['f16', 'subgroups']);
    // f16 operands really are rounded (not silently f32), and within the bound
    expect(checks.f16.error).toBeGreaterThan(1e-5);
    expect(checks.f16.error).toBeLessThan(SELF_CHECK_BOUNDS.f16);
    expect(checks.subgroups.error).toBeLessThan(SELF_CHECK_BOUNDS.subgroups);
    expect(b.describe()).toMatchObject({
      kernels: 'f16 tiles, subgroups (norms, cross-entropy, attention, LoRA x@A)',
      notices: [],
    });
    const unchecked = await backend({ selfCheck: false });
    expect(unchecked.info.checks).toEqual([]);
    expect(b.allocatedBytes()).toBe(unchecked.allocatedBytes());

    // Node's Dawn runs without timestamp quantization (65.5 µs steps by default): kernel times
    // that are not all multiples of 65536 ns
    expect(unchecked.startProfile()).toBe(true);
    const N = 64,
      C = 4096;
    const x = unchecked.alloc('f32', N * C, 'x'),
      g = unchecked.alloc('f32', C, 'g'),
      out = unchecked.alloc('f32', N * C, 'out'),
      rstd = unchecked.alloc('f32', N, 'rstd');
    unchecked.upload(g, new Float32Array(C).fill(1));
    for (let i = 0; i < 6; i++) unchecked.rmsnormForward(out, rstd, x, g, N, C, 1e-6);
    await unchecked.flush();
    const ns = Object.values(await unchecked.stopProfile()).map((r) => Math.round(r.ms * 1e6));
    expect(ns.length).toBeGreaterThan(0);
    expect(
      ns.some((t) => t % 65536 !== 0),
      `kernel times ${ns.join(', ')} ns`,
    ).toBe(true);
  }, 900_000);

  it('refuses a subgroup reduction that drops a partial and runs on the plain reductions', async () => {
    const shaders = await loadShaderSources();
    // the last subgroup's partial never added: the kind of error one driver's lane layout makes
    shaders.reduce_subgroups = replaceOnce(
      shaders.reduce_subgroups,
      'for (var i = 1u; i < (WG + n - 1u) / n; i++)',
      'for (var i = 1u; i + 1u < (WG + n - 1u) / n; i++)',
    );
    const b = await backend({ shaders });
    const refused = b.info.checks.find((c) => c.variant === 'subgroups');
    expect(refused?.ok).toBe(false);
    expect(refused!.error).toBeGreaterThan(1e-3);
    expect(b.info.subgroups).toBe(false);
    expect(b.describe().kernels).toBe('f16 tiles, plain reductions');
    expect(b.info.notices).toEqual([
      expect.stringMatching(/^self-check: the subgroups kernels differ .* switched off, running on plain reductions$/),
    ]);
    const { lines, failed } = await golden(b);
    expect(lines.slice(0, 3)).toEqual([
      'bounds: f16 kernel path',
      'kernels: f16 tiles, plain reductions',
      b.info.notices.map((n) => `notice: ${n}`)[0],
    ]);
    expect(failed).toEqual([]);
  }, 900_000);

  // Each subgroup kernel of shaders/lanes_subgroups.wgsl's users made wrong as a driver's lane
  // layout would: the self-check names the probe, refuses subgroups alone (f16 judged again on
  // the fallback and kept), and the case passes on the plain kernels.
  const brokenLanes: [string, string, (s: Record<string, string>) => void][] = [
    [
      'cross-entropy',
      "a row's last column thread left out of the fold",
      (s) => {
        s.crossentropy = replaceOnce(
          s.crossentropy,
          'for (var mask = 1u; mask < w; mask *= 2u)',
          'for (var mask = 1u; mask < w / 2u; mask *= 2u)',
        );
      },
    ],
    [
      'attention',
      "a key's quarters added from the wrong lanes",
      (s) => {
        s.attention = replaceOnce(s.attention, 'tot += lane_xor(tot, 2u);', 'tot += lane_xor(tot, 4u);');
      },
    ],
    [
      'lora',
      "x @ A's lanes summing only their first half of the chunk",
      (s) => {
        s.lora = replaceOnce(
          s.lora,
          'for (var mask = 1u; mask < G; mask *= 2u)',
          'for (var mask = 2u; mask < G; mask *= 2u)',
        );
      },
    ],
  ];
  for (const [probe, how, breakIt] of brokenLanes) {
    it(`refuses subgroup ${probe} kernels (${how}) and runs on the plain ones`, async () => {
      const shaders = await loadShaderSources();
      breakIt(shaders);
      const b = await backend({ shaders });
      const refused = b.info.checks.find((c) => c.variant === 'subgroups');
      expect(refused).toMatchObject({ ok: false, worst: probe });
      expect(refused!.error).toBeGreaterThan(refused!.bound * 10);
      expect(b.info.checks.find((c) => c.variant === 'f16')).toMatchObject({ ok: true });
      expect(b.describe().kernels).toBe('f16 tiles, plain reductions');
      const { failed } = await golden(b);
      expect(failed).toEqual([]);
    }, 900_000);
  }

  it('refuses f16 tiles that underflow their operands and runs on f32 tiles', async () => {
    const shaders = await loadShaderSources();
    // A's tiles stored scaled by 2^-20 and scaled back on reading: exact in f32, f16 subnormals
    // (or zeros, where a driver flushes them) on the f16 path: an underflow bug of the f16 tiles
    let mm = replaceOnce(shaders.mm_core, '= tile_t(pre_a[j][i]); }', '= tile_t(pre_a[j][i] * 9.5367431640625e-7); }');
    mm = replaceOnce(
      mm,
      'let a = vec4<f32>(tile_a[k * (BM / 4u) + g * WY + ty]);',
      'let a = vec4<f32>(tile_a[k * (BM / 4u) + g * WY + ty]) * 1048576.0;',
    );
    shaders.mm_core = mm;
    const b = await backend({ shaders });
    const refused = b.info.checks.find((c) => c.variant === 'f16');
    expect(refused).toMatchObject({ ok: false });
    expect(refused!.error).toBeGreaterThan(SELF_CHECK_BOUNDS.f16 * 2);
    expect(b.info.path).toBe('f32');
    expect(b.describe().kernels).toBe('f32 tiles, subgroups (norms, cross-entropy, attention, LoRA x@A)');
    expect(b.info.notices).toEqual([
      expect.stringMatching(/^self-check: the f16 tiles kernels differ .* switched off, running on f32 tiles$/),
    ]);
    const { lines, failed } = await golden(b);
    expect(lines[0]).toBe('bounds: f32');
    expect(failed).toEqual([]);
  }, 900_000);
});
