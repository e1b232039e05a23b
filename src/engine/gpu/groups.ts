// The buffers a fused projection group binds as one: its weights moved into one buffer the first
// time the group runs (each weight keeps a chunk view of its own rows, so single-projection
// kernels still see it), and its biases copied into one packed tensor.

import { NF4_BLOCK, NF4_BLOCK_WORDS } from '../../core/nf4.ts';
import type { CommandStream } from './command-stream.ts';
import { USAGE, type GpuMemory, type GpuTensor, type GpuWeight, type Region } from './memory.ts';

const ALIGN = 256;
/** NF4 members start on a whole block (36 bytes) as well as a binding offset: lcm(256, 36). */
const NF4_ALIGN = 2304;
const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

export class GroupCache {
  /** Weights sharing a group buffer: the buffer goes back once all of them are freed. */
  private members = new Map<GPUBuffer, Set<GpuWeight>>();
  private packs = new WeakMap<GpuTensor, { parts: (GpuTensor | null)[]; packed: GpuTensor }>();

  constructor(
    private memory: GpuMemory,
    private stream: CommandStream,
    private alloc: (n: number, label: string) => GpuTensor,
    private copy: (dst: GpuTensor, dstOffset: number, src: GpuTensor, srcOffset: number, n: number) => void,
    private release: (buffer: GPUBuffer) => void,
  ) {}

  /** The weights as one region with each one's element offset in it, or null when they cannot share a binding. */
  weights(ws: GpuWeight[]): { region: Region; offs: number[] } | null {
    if (ws.some((w) => w.chunks.length !== 1 || w.dtype !== ws[0].dtype || w.stride !== ws[0].stride)) return null;
    const nf4 = ws[0].dtype === 'nf4';
    // element offsets: NF4 by whole blocks (64 values in 36 bytes)
    const elems = (bytes: number) =>
      nf4 ? (bytes / (NF4_BLOCK_WORDS * 4)) * NF4_BLOCK : bytes / (ws[0].dtype === 'f32' ? 4 : 2);
    const chunks = ws.map((w) => w.chunks[0]);
    const same = chunks.every((c) => c.buffer === chunks[0].buffer);
    if (!same) {
      if (ws.length === 1) return null;
      const sizes = chunks.map((c) => alignUp(c.size, nf4 ? NF4_ALIGN : ALIGN));
      const total = sizes.reduce((a, b) => a + b, 0);
      if (total > this.memory.limits.maxBindingSize || total > this.memory.limits.maxBufferSize) return null;
      const label = ws.map((w) => w.label).join(' | ');
      const buffer = this.memory.createBuffer(total, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label);
      const group = new Set<GpuWeight>();
      let at = 0;
      chunks.forEach((c, i) => {
        this.stream.copyBuffer(c.buffer, c.offset, buffer, at, c.size);
        this.dropMember(ws[i], c.buffer);
        c.buffer = buffer;
        c.offset = at;
        group.add(ws[i]);
        at += sizes[i];
      });
      this.members.set(buffer, group);
    }
    const lo = Math.min(...chunks.map((c) => c.offset)),
      hi = Math.max(...chunks.map((c) => c.offset + c.size));
    return {
      region: { buffer: chunks[0].buffer, offset: lo, size: hi - lo },
      offs: chunks.map((c) => elems(c.offset - lo)),
    };
  }

  /** Forgets a weight's place in a group (it moved, or was freed); the buffer goes back with its last member. */
  private dropMember(w: GpuWeight, buffer: GPUBuffer): void {
    const group = this.members.get(buffer);
    if (!group) {
      this.release(buffer); // a weight's own buffer, now copied into the group
      return;
    }
    group.delete(w);
    if (group.size === 0) {
      this.members.delete(buffer);
      this.release(buffer);
    }
  }

  /** Gives back a weight's buffers, keeping a group buffer while other members use it. */
  free(w: GpuWeight): void {
    for (const chunk of w.chunks) this.dropMember(w, chunk.buffer);
    w.chunks = [];
  }

  /** The biases (null = zeros) one after another in one tensor, made once per group. */
  biases(parts: (GpuTensor | null)[], widths: number[]): GpuTensor {
    const key = parts.find((p) => p)!;
    const have = this.packs.get(key);
    if (have && have.parts.length === parts.length && have.parts.every((p, i) => p === parts[i])) return have.packed;
    const packed = this.alloc(
      widths.reduce((a, b) => a + b, 0),
      'bias pack',
    );
    let at = 0;
    parts.forEach((p, i) => {
      if (p) this.copy(packed, at, p, 0, widths[i]);
      at += widths[i];
    });
    this.packs.set(key, { parts, packed });
    return packed;
  }
}
