// Encodes kernel launches into one open compute pass and submits lazily. Kernel parameters go
// into a uniform ring: a CPU mirror filled slot by slot, written to the GPU ring once per
// submit, and bound with a dynamic offset, so a bind group depends only on the storage buffers
// it names and is built once: the first launch of a kernel on a set of buffers creates it, every
// later launch (the next micro-batch, the next step) reuses it. Work is submitted when the ring
// is full, before any queue write or read-back (to keep queue order equal to call order), and
// on flush.

import { EngineError } from '../../core/errors.ts';
import type { Kernel } from './pipelines.ts';
import { USAGE, type GpuMemory, type Region } from './memory.ts';
import type { KernelProfiler } from './profiler.ts';

const SLOT_BYTES = 256; // minUniformBufferOffsetAlignment
const RING_SLOTS = 4096;

export type Grid = [number, number, number?];

/** Workgroups for n threads of wg each, folded into 2-D when one dimension would pass 65535. */
export function grid1d(n: number, wg = 256): Grid {
  return rowsGrid(Math.ceil(n / wg));
}

/** One workgroup per row, folded the same way (row = y * gridX + x). */
export function rowsGrid(rows: number): Grid {
  const x = Math.min(rows, 65535);
  return [x, x ? Math.ceil(rows / x) : 0];
}

export class CommandStream {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private timedPass: GPUComputePassEncoder | null = null;
  private ringCpu = new ArrayBuffer(SLOT_BYTES * RING_SLOTS);
  private ringView = new DataView(this.ringCpu);
  private ring: GPUBuffer;
  private slot = 0;
  /** Work to run once the open encoder is submitted: destroying buffers it still references. */
  private afterSubmit: (() => void)[] = [];
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private groups = new Map<string, GPUBindGroup>();
  /** Cache keys that name a buffer, to drop them when the buffer is destroyed. */
  private keysOfBuffer = new Map<number, Set<string>>();
  /** Kernel launches encoded since creation. */
  dispatches = 0;
  /** Bind groups created since creation (a steady training step creates none). */
  bindGroupsCreated = 0;
  /** When set, every launch gets its own timed pass (benchmark --profile). */
  profiler: KernelProfiler | null = null;
  /** When set, sees every launch as it is encoded (bench --count-only tallies them). */
  observer:
    ((kernel: Kernel, bindings: Record<string, Region>, params: Record<string, number>, grid: Grid) => void) | null =
    null;

  constructor(
    private device: GPUDevice,
    memory: GpuMemory,
  ) {
    this.ring = memory.createBuffer(SLOT_BYTES * RING_SLOTS, USAGE.UNIFORM | USAGE.COPY_DST, 'uniform ring');
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /** Drops cached bind groups that name a buffer about to be destroyed. */
  forget(buffer: GPUBuffer): void {
    const id = this.bufferIds.get(buffer);
    if (id === undefined) return;
    for (const key of this.keysOfBuffer.get(id) ?? []) this.groups.delete(key);
    this.keysOfBuffer.delete(id);
  }

  private bindGroup(kernel: Kernel, bindings: Record<string, Region>): GPUBindGroup {
    const parts: string[] = [String(kernel.id)];
    const ids: number[] = [];
    for (const [name, { binding, readOnly }] of kernel.bindings) {
      const r = bindings[name];
      if (!r) throw new EngineError(`${kernel.name}: storage binding ${name} not given`);
      if (readOnly) {
        // a buffer bound read-only may not also be bound writable in the same launch
        for (const [other, o] of kernel.bindings)
          if (!o.readOnly && bindings[other]?.buffer === r.buffer)
            throw new EngineError(`${kernel.name}: ${name} (read) and ${other} (read_write) share one buffer`);
      }
      const id = this.bufferId(r.buffer);
      ids.push(id);
      parts.push(`${binding}:${id}:${r.offset}:${r.size}`);
    }
    for (const name of Object.keys(bindings))
      if (!kernel.bindings.has(name)) throw new EngineError(`${kernel.name}: no storage binding named ${name}`);
    const key = parts.join('|');
    let group = this.groups.get(key);
    if (group) return group;
    const entries: GPUBindGroupEntry[] = [];
    if (kernel.uniform !== null)
      entries.push({
        binding: kernel.uniform,
        resource: { buffer: this.ring, offset: 0, size: Math.max(16, Math.ceil((kernel.params.length * 4) / 16) * 16) },
      });
    for (const [name, { binding }] of kernel.bindings) {
      const r = bindings[name];
      entries.push({ binding, resource: { buffer: r.buffer, offset: r.offset, size: r.size } });
    }
    group = this.device.createBindGroup({ label: kernel.name, layout: kernel.layout, entries });
    this.bindGroupsCreated++;
    this.groups.set(key, group);
    for (const id of ids) {
      let keys = this.keysOfBuffer.get(id);
      if (!keys) this.keysOfBuffer.set(id, (keys = new Set()));
      keys.add(key);
    }
    return group;
  }

  dispatch(kernel: Kernel, bindings: Record<string, Region>, params: Record<string, number>, grid: Grid): void {
    if (!grid[0] || !grid[1] || grid[2] === 0) return; // nothing to do (an empty tensor)
    this.observer?.(kernel, bindings, params, grid);
    const group = this.bindGroup(kernel, bindings);
    if (kernel.uniform !== null && this.slot === RING_SLOTS) this.submit();
    const base = this.slot * SLOT_BYTES;
    if (kernel.uniform !== null) {
      kernel.params.forEach((f, i) => {
        const v = params[f.name];
        if (v === undefined) throw new EngineError(`${kernel.name}: parameter ${f.name} not given`);
        if (f.type === 'f32') this.ringView.setFloat32(base + 4 * i, v, true);
        else if (f.type === 'u32') this.ringView.setUint32(base + 4 * i, v >>> 0, true);
        else this.ringView.setInt32(base + 4 * i, v, true);
      });
      this.slot++;
    }
    this.dispatches++;
    const pass = this.profiler ? this.profiledPass(kernel.name) : this.openPass();
    pass.setPipeline(kernel.pipeline);
    if (kernel.uniform !== null) pass.setBindGroup(0, group, [base]);
    else pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2] ?? 1);
    if (this.profiler) this.closePass();
  }

  /** A pass of its own for one launch, with its start and end written to the profiler's query set. */
  private profiledPass(name: string): GPUComputePassEncoder {
    if (this.profiler!.full) this.submit();
    this.closePass();
    const encoder = this.openEncoder();
    const writes = this.profiler!.next(name);
    this.pass = writes ? encoder.beginComputePass({ timestampWrites: writes }) : encoder.beginComputePass();
    return this.pass;
  }

  /** Opens a compute pass that writes its start and end GPU times into slots 0 and 1 of querySet. */
  beginTimedPass(querySet: GPUQuerySet): void {
    this.closePass();
    this.pass = this.openEncoder().beginComputePass({
      timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
    this.timedPass = this.pass;
  }

  /**
   * Ends the timed pass and resolves its two timestamps into `resolve` (16 bytes). False when
   * something closed the pass early (a full uniform ring, a copy or clear): the times would then
   * cover only part of the work.
   */
  endTimedPass(querySet: GPUQuerySet, resolve: GPUBuffer): boolean {
    const whole = this.pass !== null && this.pass === this.timedPass;
    this.timedPass = null;
    this.closePass();
    this.openEncoder().resolveQuerySet(querySet, 0, 2, resolve, 0);
    return whole;
  }

  /** Zero bytes of a buffer in stream order. */
  clear(buffer: GPUBuffer, offset: number, bytes: number): void {
    if (bytes <= 0) return;
    this.closePass();
    this.openEncoder().clearBuffer(buffer, offset, bytes);
  }

  /** Copy between different buffers in stream order. */
  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.closePass();
    this.openEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Send everything encoded so far, with the parameters it was encoded with. */
  submit(): void {
    if (!this.encoder) return;
    this.closePass();
    this.profiler?.resolve(this.encoder);
    if (this.slot) this.device.queue.writeBuffer(this.ring, 0, this.ringCpu, 0, this.slot * SLOT_BYTES);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.slot = 0;
    this.profiler?.submitted();
    const jobs = this.afterSubmit;
    this.afterSubmit = [];
    for (const job of jobs) job();
  }

  /**
   * Runs `job` now when nothing is encoded, else right after the next submit. Destroying a
   * buffer that an encoded but unsubmitted command uses makes the submit a validation error;
   * once submitted, WebGPU keeps the buffer alive until that work is done.
   */
  whenSubmitted(job: () => void): void {
    if (this.encoder) this.afterSubmit.push(job);
    else job();
  }

  private openEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private openPass(): GPUComputePassEncoder {
    return (this.pass ??= this.openEncoder().beginComputePass());
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

/**
 * Node's Dawn binding can let the process exit while a GPU promise is pending (nothing else
 * keeps the event loop alive), so a timer holds the loop open until the promise settles.
 */
export async function keepAlive<R>(p: Promise<R>): Promise<R> {
  const timer = setInterval(() => {}, 50);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}
