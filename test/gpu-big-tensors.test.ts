// Qwen3-4B's 151936 x 2560 BF16 embedding (742 MiB) under the limits browsers really give: the
// weight is split by rows so each part fits one storage binding and one buffer. A recording
// stand-in for the device takes the buffers (nothing is allocated), so the real size is cheap;
// the kernels' correctness over chunked weights is test/full/gpu-ops-parity.test.ts's job.
import { describe, expect, it } from 'vitest';
import { GpuMemory } from '../src/engine/gpu/memory.ts';

function recordingDevice() {
  const buffers: { size: number; label: string }[] = [];
  const writes: { bytes: number; offset: number }[] = [];
  const device = {
    createBuffer: (d: { size: number; label: string }) => {
      buffers.push({ size: d.size, label: d.label });
      return { size: d.size, destroy() {} };
    },
    pushErrorScope() {},
    popErrorScope: async () => null,
  } as unknown as GPUDevice;
  const queue = {
    writeBuffer: (_b: unknown, _o: number, _d: ArrayBuffer, offset: number, bytes: number) =>
      void writes.push({ bytes, offset }),
  } as unknown as GPUQueue;
  return { device, queue, buffers, writes };
}

describe('a Qwen3-4B-sized embedding', () => {
  const V = 151936,
    C = 2560;
  const data = new Uint16Array(V * C); // 742 MiB of zeros, never written: pages stay untouched

  for (const binding of [128 * 2 ** 20, 2 ** 30 - 4, 2 ** 31]) {
    it(`splits into parts within a ${(binding / 2 ** 20).toFixed(0)} MiB binding, covering every row once`, () => {
      const { device, queue, buffers, writes } = recordingDevice();
      const mem = new GpuMemory(device, {
        maxBufferSize: binding,
        maxBindingSize: binding,
        maxWeightChunkBytes: binding,
        alignment: 256,
      });
      const w = mem.weight(queue, data, 'bf16', V, C, 'model.embed_tokens.weight');
      const rowsPerPart = Math.floor(binding / (C * 2));
      expect(w.chunks.length).toBe(Math.ceil(V / rowsPerPart));
      let next = 0;
      for (const c of w.chunks) {
        expect(c.row0).toBe(next);
        expect(c.size).toBeLessThanOrEqual(binding);
        expect(c.size).toBe(c.rows * C * 2);
        next += c.rows;
      }
      expect(next).toBe(V);
      expect(buffers.every((b) => b.size <= binding)).toBe(true);
      // every byte uploaded once, straight from the tensor, part by part
      expect(writes.reduce((a, x) => a + x.bytes, 0)).toBe(V * C * 2);
      expect(writes.map((x) => x.offset)).toEqual(w.chunks.map((c) => c.row0 * C * 2));
    });
  }
});
