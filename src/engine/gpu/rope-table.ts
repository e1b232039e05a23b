// RoPE's cos/sin table per (head dim, theta), computed in f64 and rounded once to f32 (GPU sin/cos
// lose accuracy on angles of hundreds of radians), grown by doubling as decoding goes further.

import type { GpuTensor } from './memory.ts';

export class RopeTables {
  private tables = new Map<string, { table: GpuTensor; positions: number }>();

  constructor(
    private alloc: (n: number, label: string) => GpuTensor,
    private upload: (t: GpuTensor, data: Float32Array) => void,
    private release: (buffer: GPUBuffer) => void,
  ) {}

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

  private rows: { key: string; of: Int32Array; table: GpuTensor; capacity: number } | null = null;

  /**
   * A packed batch's table: row t holds the angles of position positions[t], so the kernel reads
   * it at t (posOffset 0) with no change. Made once per batch (the model passes the same array to
   * every layer's calls), into one buffer grown by doubling.
   */
  perToken(HD: number, theta: number, of: Int32Array): { table: GpuTensor; positions: number } {
    const key = `${HD}:${theta}`;
    const r = this.rows;
    if (r && r.key === key && r.of === of) return { table: r.table, positions: r.capacity };
    let capacity = r && r.capacity >= of.length ? r.capacity : 256;
    while (capacity < of.length) capacity *= 2;
    const half = HD / 2;
    const data = new Float32Array(2 * capacity * half);
    for (let j = 0; j < half; j++) {
      const invFreq = 1 / Math.pow(theta, (2 * j) / HD);
      for (let t = 0; t < of.length; t++) {
        data[t * half + j] = Math.cos(of[t] * invFreq);
        data[(capacity + t) * half + j] = Math.sin(of[t] * invFreq);
      }
    }
    let table = r?.table;
    if (!r || r.capacity !== capacity || r.key !== key) {
      if (r) this.release(r.table.buffer);
      table = this.alloc(data.length, `rope.packed.${key}`);
    }
    this.upload(table!, data);
    this.rows = { key, of, table: table!, capacity };
    return { table: table!, positions: capacity };
  }
}
