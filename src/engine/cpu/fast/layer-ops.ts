// The fast CPU backend, part one: the kernels' shared memory (tensors, weights, staging of foreign
// arrays, scratch) and the row-wise SIMD kernels (RMSNorm, base matmuls, SwiGLU). FastCpuOps in
// ops.ts adds the LoRA, attention and cross-entropy kernels; the split keeps each file readable.

import type { WeightFormat } from '../../../core/dtype.ts';
import { EngineError } from '../../../core/errors.ts';
import { checkWeightData } from '../../ops.ts';
import { CpuOps, type CpuTensor, type CpuWeight } from '../ops.ts';
import type { FastKernels } from './kernels.ts';

type View = Float32Array | Int32Array | Uint16Array | Uint32Array;

/** Operand addresses for one call; copies foreign arrays in and outputs back out. */
export class Staging {
  private readonly mark: number;
  private readonly writeBack: Array<{ ptr: number; t: View }> = [];

  constructor(private readonly k: FastKernels) {
    this.mark = k.heap.mark();
  }

  private place(t: View, copyIn: boolean): number {
    const own = this.k.heap.addressOf(t);
    if (own >= 0) return own;
    const ptr = this.k.heap.allocBytes(t.byteLength, 'staging');
    if (copyIn)
      new Uint8Array(this.k.heap.memory.buffer, ptr, t.byteLength).set(
        new Uint8Array(t.buffer, t.byteOffset, t.byteLength),
      );
    return ptr;
  }

  in(t: View): number {
    return this.place(t, true);
  }

  /** An output (possibly accumulated into): copied in, and back out by done(). */
  out(t: View): number {
    const own = this.k.heap.addressOf(t);
    if (own >= 0) return own;
    const ptr = this.place(t, true);
    this.writeBack.push({ ptr, t });
    return ptr;
  }

  done(): void {
    for (const { ptr, t } of this.writeBack) {
      new Uint8Array(t.buffer, t.byteOffset, t.byteLength).set(
        new Uint8Array(this.k.heap.memory.buffer, ptr, t.byteLength),
      );
    }
    this.k.heap.reset(this.mark);
  }
}

/** Memory and row-wise kernels of FastCpuOps (ops.ts); not used on its own. */
export class FastCpuLayerOps extends CpuOps {
  /** Grow-only scratch blocks by purpose (dropped inputs, LoRA input gradient, CE logits). */
  private readonly scratchBlocks = new Map<string, { ptr: number; bytes: number }>();

  constructor(readonly kernels: FastKernels) {
    super();
  }

  get threads(): number {
    return this.kernels.threads;
  }

  /** Whether tensors live in the kernels' memory (shared) or are staged per call (private). */
  protected get inPlace(): boolean {
    return this.kernels.shared;
  }

  // ---- memory

  override alloc(dtype: 'f32' | 'i32', n: number, label = 'tensor'): CpuTensor {
    if (!this.inPlace) return super.alloc(dtype, n);
    this.allocated += n * 4;
    const ptr = this.kernels.heap.allocBytes(n * 4, label);
    return dtype === 'f32' ? this.kernels.heap.f32(ptr, n) : this.kernels.heap.i32(ptr, n);
  }

  override arena(dtype: 'f32' | 'i32', sizes: Record<string, number>, label = 'arena'): Record<string, CpuTensor> {
    if (!this.inPlace) return super.arena(dtype, sizes);
    const out: Record<string, CpuTensor> = {};
    // each tensor on its own cache line: the SIMD kernels split rows across threads
    for (const [name, n] of Object.entries(sizes)) out[name] = this.alloc(dtype, n, `${label}.${name}`);
    return out;
  }

  /** Weight memory in the kernels' heap (shared memory only): weight() then keeps it as it is. */
  weightStorage(format: WeightFormat, n: number, label: string): Float32Array | Uint16Array | Uint32Array | undefined {
    if (!this.inPlace) return undefined;
    const heap = this.kernels.heap;
    const bytes = n * (format === 'bf16' || format === 'f16' ? 2 : 4);
    const ptr = heap.allocBytes(bytes, label);
    return format === 'f32' ? heap.f32(ptr, n) : format === 'nf4' ? heap.u32(ptr, n) : heap.u16(ptr, n);
  }

  override weight(
    data: Float32Array | Uint16Array | Uint32Array,
    dtype: WeightFormat,
    rows: number,
    cols: number,
    label: string,
  ): CpuWeight {
    if (!this.inPlace) return super.weight(data, dtype, rows, cols, label);
    checkWeightData(data, dtype, rows, cols, label);
    if (this.kernels.heap.addressOf(data) >= 0) {
      this.allocated += data.byteLength;
      return { data, dtype, rows, cols };
    }
    const ptr = this.kernels.heap.allocBytes(data.byteLength, label);
    const heap = this.kernels.heap;
    const copy =
      dtype === 'f32'
        ? heap.f32(ptr, data.length)
        : dtype === 'nf4'
          ? heap.u32(ptr, data.length)
          : heap.u16(ptr, data.length);
    copy.set(data);
    this.allocated += data.byteLength;
    return { data: copy, dtype, rows, cols };
  }

  override dispose(): void {
    this.kernels.dispose();
  }

  protected scratch(name: string, bytes: number): number {
    const have = this.scratchBlocks.get(name);
    if (have && have.bytes >= bytes) return have.ptr;
    const ptr = this.kernels.heap.allocBytes(bytes, `scratch.${name}`);
    this.scratchBlocks.set(name, { ptr, bytes });
    return ptr;
  }

  // ---- RMSNorm

  override rmsnormForward(
    out: CpuTensor,
    rstd: CpuTensor,
    inp: CpuTensor,
    weight: CpuTensor,
    N: number,
    C: number,
    eps: number,
  ): void {
    const s = new Staging(this.kernels);
    try {
      this.kernels.rmsnormForward(s.out(out), s.out(rstd), s.in(inp), s.in(weight), N, C, eps);
    } finally {
      s.done();
    }
  }

  override rmsnormBackward(
    dinp: CpuTensor,
    dout: CpuTensor,
    inp: CpuTensor,
    weight: CpuTensor,
    rstd: CpuTensor,
    N: number,
    C: number,
  ): void {
    const s = new Staging(this.kernels);
    try {
      this.kernels.rmsnormBackward(s.out(dinp), s.in(dout), s.in(inp), s.in(weight), s.in(rstd), N, C);
    } finally {
      s.done();
    }
  }

  // ---- base matmuls

  override matmulForward(
    out: CpuTensor,
    inp: CpuTensor,
    w: CpuWeight,
    bias: CpuTensor | null,
    N: number,
    In: number,
    O: number,
  ): void {
    checkWeight(w, O, In, 'matmulForward');
    const s = new Staging(this.kernels);
    try {
      this.kernels.gemm({
        M: N,
        J: O,
        K: In,
        A: s.in(inp),
        sAm: In,
        sAk: 1,
        B: s.in(w.data),
        bdtype: w.dtype,
        sBk: 1,
        sBj: In,
        C: s.out(out),
        ldc: O,
        alpha: 1,
        accumulate: false,
        bias: bias ? s.in(bias) : 0,
      });
    } finally {
      s.done();
    }
  }

  override matmulBackward(dinp: CpuTensor, dout: CpuTensor, w: CpuWeight, N: number, In: number, O: number): void {
    checkWeight(w, O, In, 'matmulBackward');
    const s = new Staging(this.kernels);
    try {
      this.kernels.gemm({
        M: N,
        J: In,
        K: O,
        A: s.in(dout),
        sAm: O,
        sAk: 1,
        B: s.in(w.data),
        bdtype: w.dtype,
        sBk: In,
        sBj: 1,
        C: s.out(dinp),
        ldc: In,
        alpha: 1,
        accumulate: true,
        bias: 0,
      });
    } finally {
      s.done();
    }
  }

  // ---- SwiGLU

  override swigluForward(out: CpuTensor, gate: CpuTensor, up: CpuTensor, n: number): void {
    const s = new Staging(this.kernels);
    try {
      this.kernels.swigluForward(s.out(out), s.in(gate), s.in(up), n);
    } finally {
      s.done();
    }
  }

  override swigluBackward(
    dgate: CpuTensor,
    dup: CpuTensor,
    dout: CpuTensor,
    gate: CpuTensor,
    up: CpuTensor,
    n: number,
  ): void {
    const s = new Staging(this.kernels);
    try {
      this.kernels.swigluBackward(s.out(dgate), s.out(dup), s.in(dout), s.in(gate), s.in(up), n);
    } finally {
      s.done();
    }
  }
}

export function checkWeight(w: CpuWeight, rows: number, cols: number, op: string): void {
  if (w.rows !== rows || w.cols !== cols)
    throw new EngineError(`${op}: weight is (${w.rows}, ${w.cols}), the call expects (${rows}, ${cols})`);
}
