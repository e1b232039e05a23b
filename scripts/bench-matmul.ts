// Throughput of the step's main matmuls at a model's real shapes: the base projections forward
// (out = x @ wᵀ) and backward (dx += dout @ w), and the LoRA pair, for N = B*T tokens. On WebGPU
// each is timed on the GPU with timestamp queries where the device has them, else by wall time
// around a flush; on the CPU by wall time. Used by scripts/bench.ts.

import { quantizeNf4, type Quantization } from '../src/core/nf4.ts';
import type { Qwen2Config } from '../src/core/config.ts';
import type { Ops } from '../src/engine/ops.ts';

/** A base projection's shape: x (N, In) @ wᵀ with w (O, In). */
export interface ProjShape {
  In: number;
  O: number;
}

/** The projections whose matmuls dominate a step: gate/up (C -> I), down (I -> C), q/o (C -> C). */
export function mainProjections(cfg: Qwen2Config): Record<'gate_up' | 'down' | 'q_o', ProjShape> {
  const C = cfg.hiddenSize,
    I = cfg.intermediateSize;
  return { gate_up: { In: C, O: I }, down: { In: I, O: C }, q_o: { In: C, O: C } };
}

/**
 * Every distinct base matmul shape of a training step (scripts/bench-gpu.ts): each projection,
 * the fused q|k|v and gate|up groups (one call per group where the engine fuses them), and the
 * logits against the whole vocabulary (the engine runs that in slices inside the cross-entropy).
 */
export function stepProjections(cfg: Qwen2Config): Record<string, ProjShape> {
  const C = cfg.hiddenSize,
    I = cfg.intermediateSize,
    Q = cfg.numHeads * cfg.headDim,
    KV = cfg.numKvHeads * cfg.headDim;
  return {
    q: { In: C, O: Q },
    k_v: { In: C, O: KV },
    o: { In: Q, O: C },
    qkv: { In: C, O: Q + 2 * KV },
    gate_up: { In: C, O: I },
    gate_up_fused: { In: C, O: 2 * I },
    down: { In: I, O: C },
    lm_head: { In: C, O: cfg.vocabSize },
  };
}

/** Floating-point operations (a multiply-add is two) of one call of each measured kernel. */
export function matmulFlops(kind: 'fwd' | 'bwd' | 'lora_fwd' | 'lora_bwd', N: number, s: ProjShape, R: number): number {
  switch (kind) {
    case 'fwd':
    case 'bwd':
      return 2 * N * s.In * s.O;
    case 'lora_fwd': // xa = x @ aᵀ, out += xa @ bᵀ
      return 2 * N * R * (s.In + s.O);
    case 'lora_bwd': // dxa, db, da, dx: two products over each factor
      return 4 * N * R * (s.In + s.O);
  }
}

/** What the WebGPU backend adds to Ops for this: GPU-side timing and giving weights back. */
interface Timable<T, W> extends Ops<T, W> {
  timeOnGpu?(encode: () => void): Promise<number | null>;
  freeWeight?(w: W): void;
}

export interface MatmulResult {
  /** GFLOP/s by kernel: gate_up_fwd, gate_up_bwd, down_fwd, down_bwd, q_o_fwd, q_o_bwd, lora_fwd, lora_bwd. */
  gflops: Record<string, number>;
  timing: 'timestamp-query' | 'wall';
}

function randomValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

/** bf16 weights like the bench model's (the upper halves of f32 values of about 1/sqrt(In)). */
function randomBf16(n: number, In: number, seed: number): Uint16Array {
  const f = randomValues(n, seed),
    u = new Uint32Array(f.buffer),
    out = new Uint16Array(n);
  const scale = 2 / Math.sqrt(In);
  for (let i = 0; i < n; i++) {
    f[i] *= scale;
    out[i] = u[i] >>> 16;
  }
  return out;
}

/**
 * Milliseconds per call of `encode`: one warm-up call (first use of a pipeline, buffer
 * residency) sets how many repetitions fill about `targetMs`, then those are timed together.
 */
async function msPerCall<T, W>(
  ops: Timable<T, W>,
  encode: () => void,
  targetMs: number,
): Promise<{ ms: number; gpu: boolean }> {
  let t0 = performance.now();
  encode();
  await ops.flush();
  const warm = performance.now() - t0;
  const reps = Math.max(1, Math.min(50, Math.round(targetMs / Math.max(warm, 1e-3))));
  const repeated = () => {
    for (let i = 0; i < reps; i++) encode();
  };
  const gpuMs = ops.timeOnGpu ? await ops.timeOnGpu(repeated) : null;
  if (gpuMs !== null) return { ms: gpuMs / reps, gpu: true };
  t0 = performance.now();
  repeated();
  await ops.flush();
  return { ms: (performance.now() - t0) / reps, gpu: false };
}

const round = (x: number) => Number(x.toPrecision(4));

/**
 * GFLOP/s of the base matmuls at the preset's shapes (mainProjections unless `shapes` names
 * others) for N tokens and of the LoRA pair (rank R, dropout 0.1) on the gate/up shape.
 * Allocates its own tensors and weights and gives them back.
 */
export async function measureMatmuls<T, W>(
  ops: Timable<T, W>,
  cfg: Qwen2Config,
  N: number,
  R: number,
  targetMs = 200,
  quant: Quantization = 'none',
  shapes: Record<string, ProjShape> = mainProjections(cfg),
): Promise<MatmulResult> {
  const gflops: Record<string, number> = {};
  let allOnGpu = true;
  const record = (name: string, flops: number, t: { ms: number; gpu: boolean }) => {
    gflops[name] = round(flops / (t.ms / 1000) / 1e9);
    allOnGpu &&= t.gpu;
  };
  const tensors: T[] = [];
  const tensor = (n: number, label: string, seed: number) => {
    const t = ops.alloc('f32', n, `bench.${label}`);
    ops.upload(t, randomValues(n, seed));
    tensors.push(t);
    return t;
  };
  try {
    for (const [name, s] of Object.entries(shapes)) {
      const bits = randomBf16(s.O * s.In, s.In, s.O);
      if (quant === 'nf4') await ops.prepareWeights?.('nf4');
      const w =
        quant === 'nf4'
          ? ops.weight(quantizeNf4(bits, 'bf16'), 'nf4', s.O, s.In, `bench.${name}`)
          : ops.weight(bits, 'bf16', s.O, s.In, `bench.${name}`);
      const x = tensor(N * s.In, `${name}.x`, 1),
        y = tensor(N * s.O, `${name}.y`, 2);
      record(
        `${name}_fwd`,
        matmulFlops('fwd', N, s, R),
        await msPerCall(ops, () => ops.matmulForward(y, x, w, null, N, s.In, s.O), targetMs),
      );
      record(
        `${name}_bwd`,
        matmulFlops('bwd', N, s, R),
        await msPerCall(ops, () => ops.matmulBackward(x, y, w, N, s.In, s.O), targetMs),
      );
      ops.freeWeight?.(w);
    }
    const s = mainProjections(cfg).gate_up,
      dropout = { p: 0.1, seed: 5 };
    const x = tensor(N * s.In, 'lora.x', 3),
      out = tensor(N * s.O, 'lora.out', 4),
      xa = tensor(N * R, 'lora.xa', 5),
      dxa = tensor(N * R, 'lora.dxa', 6);
    const a = tensor(R * s.In, 'lora.a', 7),
      b = tensor(s.O * R, 'lora.b', 8),
      da = tensor(R * s.In, 'lora.da', 9),
      db = tensor(s.O * R, 'lora.db', 10);
    const dx = tensor(N * s.In, 'lora.dx', 11);
    record(
      'lora_fwd',
      matmulFlops('lora_fwd', N, s, R),
      await msPerCall(ops, () => ops.loraForward(out, xa, x, a, b, N, s.In, s.O, R, 4, dropout), targetMs),
    );
    record(
      'lora_bwd',
      matmulFlops('lora_bwd', N, s, R),
      await msPerCall(
        ops,
        () => ops.loraBackward(dx, da, db, dxa, out, x, xa, a, b, N, s.In, s.O, R, 4, dropout),
        targetMs,
      ),
    );
  } finally {
    for (const t of tensors) ops.free?.(t);
  }
  return { gflops, timing: allOnGpu ? 'timestamp-query' : 'wall' };
}
