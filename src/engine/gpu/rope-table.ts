// RoPE's cos/sin table per (head dim, theta), computed in f64 and rounded once to f32 (GPU sin/cos
// lose accuracy on angles of hundreds of radians), grown by doubling as decoding goes further.

import type { GpuTensor } from './memory.ts';

export class RopeTables {
  private tables = new Map<string, { table: GpuTensor; positions: number }>();

  constructor(private alloc: (n: number, label: string) => GpuTensor, private upload: (t: GpuTensor, data: Float32Array) => void,
    private release: (buffer: GPUBuffer) => void) {}

  /** A table of (2, positions, HD/2): cos, then sin, of pos * theta^(-2j/HD); positions >= positionsNeeded. */
  get(HD: number, theta: number, positionsNeeded: number): { table: GpuTensor; positions: number } {
    const key = `${HD}:${theta}`;
    const have = this.tables.get(key);
    if (have && have.positions >= positionsNeeded) return have;
    let positions = 1024;
    while (positions < positionsNeeded) positions *= 2;
    const half = HD / 2;
    const data = new Float32Array(2 * positions * half);
    for (let j = 0; j < half; j++) {
      const invFreq = 1 / Math.pow(theta, (2 * j) / HD);
      for (let p = 0; p < positions; p++) {
        data[p * half + j] = Math.cos(p * invFreq);
        data[(positions + p) * half + j] = Math.sin(p * invFreq);
      }
    }
    if (have) this.release(have.table.buffer);
    const table = this.alloc(data.length, `rope.${key}`);
    this.upload(table, data);
    const entry = { table, positions };
    this.tables.set(key, entry);
    return entry;
  }
}
