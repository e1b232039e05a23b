// Encodes kernel launches into one open compute pass and submits lazily. Kernel parameters go
// into a uniform ring: a CPU mirror filled slot by slot, written to the GPU ring once per
// submit, so no buffer is created per dispatch. Work is submitted when the ring is full, before
// any queue write or read-back (to keep queue order equal to call order), and on flush.

import { EngineError } from '../../core/errors.ts';
import type { Kernel } from './pipelines.ts';
import { USAGE, type GpuMemory, type Region } from './memory.ts';

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
  dispatches = 0;

  constructor(private device: GPUDevice, memory: GpuMemory) {
    this.ring = memory.createBuffer(SLOT_BYTES * RING_SLOTS, USAGE.UNIFORM | USAGE.COPY_DST, 'uniform ring');
  }

  dispatch(kernel: Kernel, bindings: Record<string, Region>, params: Record<string, number>, grid: Grid): void {
    if (!grid[0] || !grid[1] || grid[2] === 0) return; // nothing to do (an empty tensor)
    if (this.slot === RING_SLOTS) this.submit();
    const base = this.slot * SLOT_BYTES;
    kernel.params.forEach((f, i) => {
      const v = params[f.name];
      if (v === undefined) throw new EngineError(`${kernel.name}: parameter ${f.name} not given`);
      if (f.type === 'f32') this.ringView.setFloat32(base + 4 * i, v, true);
      else if (f.type === 'u32') this.ringView.setUint32(base + 4 * i, v >>> 0, true);
      else this.ringView.setInt32(base + 4 * i, v, true);
    });
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.ring, offset: base, size: Math.ceil((kernel.params.length * 4) / 16) * 16 } }];
    for (const [name, r] of Object.entries(bindings)) {
      const binding = kernel.bindings.get(name);
      if (binding === undefined) throw new EngineError(`${kernel.name}: no storage binding named ${name}`);
      entries.push({ binding, resource: { buffer: r.buffer, offset: r.offset, size: r.size } });
    }
    const group = this.device.createBindGroup({ label: kernel.name, layout: kernel.layout, entries });
    this.slot++;
    this.dispatches++;
    const pass = this.openPass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2] ?? 1);
  }

  /** Opens a compute pass that writes its start and end GPU times into slots 0 and 1 of querySet. */
  beginTimedPass(querySet: GPUQuerySet): void {
    this.closePass();
    this.pass = this.openEncoder().beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
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
    if (this.slot) this.device.queue.writeBuffer(this.ring, 0, this.ringCpu, 0, this.slot * SLOT_BYTES);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.slot = 0;
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
