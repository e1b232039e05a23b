// Padding-free micro-batches (src/engine/packing.ts): the packed layout itself, and on the CPU
// engine (WebAssembly SIMD and the scalar twins) the packed step equal to the padded one.
// test/full/gpu-packing.test.ts runs the same comparison on WebGPU; the golden cases run packed
// by default and padded with `golden --pad` (test/golden.test.ts runs both).

import { describe, expect, it } from 'vitest';
import { packMicroBatch, packedRows } from '../src/engine/packing.ts';
import { createEngine } from '../src/engine/create.ts';
import { checkPackedMatchesPadded, PACK_CONFIGS, raggedBatch } from './helpers/packing-check.ts';

describe('packMicroBatch', () => {
  it('lays the real tokens end to end with row starts, positions and label places', () => {
    const mb = raggedBatch(100, [4, 2, 3], 1);
    const p = packMicroBatch(mb)!;
    expect(Array.from(p.ids)).toEqual([
      ...mb.inputIds.subarray(0, 4),
      ...mb.inputIds.subarray(4, 6),
      ...mb.inputIds.subarray(8, 11),
    ]);
    expect(Array.from(p.mask)).toEqual([1, 1, 1, 1, 5, 5, 7, 7, 7]);
    expect(Array.from(p.positions)).toEqual([0, 1, 2, 3, 0, 1, 0, 1, 2]);
    expect(Array.from(p.packedIndex)).toEqual([0, 1, 2, 3, 4, 5, -1, -1, 6, 7, 8, -1]);
    expect(p.rows).toEqual([
      [0, 4],
      [4, 2],
      [6, 3],
    ]);
    expect(packedRows(p.mask, 1, 9, 9, 9)).toEqual(p.rows);
  });

  it('leaves alone what packing would not compute exactly or would not shorten', () => {
    expect(packMicroBatch(raggedBatch(100, [4, 4], 1))).toBeNull(); // no padding
    expect(packMicroBatch(raggedBatch(100, [3], 1))).toBeNull(); // one row
    const left = raggedBatch(100, [4, 2], 1);
    left.attentionMask.set([0, 0, 1, 1], 4); // left padded
    expect(packMicroBatch(left)).toBeNull();
    expect(packMicroBatch(raggedBatch(100, [4, 0], 1))).toBeNull(); // an empty row
  });

  it('reads an ordinary mask as unpacked and refuses a packed one that is not row starts', () => {
    expect(packedRows(Int32Array.of(1, 1, 1, 0), 1, 4, 4, 4)).toBeNull();
    expect(packedRows(Int32Array.of(1, 1, 3, 3), 2, 2, 2, 2)).toBeNull(); // B > 1: not packed
    expect(packedRows(Int32Array.of(1, 1, 3, 4), 1, 4, 4, 4)).toEqual([
      [0, 2],
      [2, 1],
      [3, 1],
    ]);
    expect(() => packedRows(Int32Array.of(1, 1, 3, 2), 1, 4, 4, 4)).toThrow(/token 3 has 2, a row start's 4/);
  });
});

describe('packed micro-batches on the CPU engine equal the padded ones', () => {
  for (const [name, cfg] of Object.entries(PACK_CONFIGS)) {
    for (const scalar of [false, true]) {
      it(`${name}, ${scalar ? 'scalar' : 'WebAssembly SIMD'}`, async () => {
        await checkPackedMatchesPadded(() => createEngine('cpu', { scalar, threads: 2 }), cfg, {
          loss: 1e-6,
          grad: 1e-5,
        });
      });
    }
  }
});
