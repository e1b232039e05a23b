// safetensors reader/writer against bytes laid out by hand with DataView (the format spec:
// u64 LE header length, JSON header, raw little-endian data) and against files PyTorch wrote.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  SafetensorsFile,
  ShardedSafetensors,
  encodeSafetensors,
  concatParts,
  READ_CHUNK,
  type TensorArray,
} from '../src/core/safetensors.ts';
import { SafetensorsError } from '../src/core/errors.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/core/dtype.ts';

const GOLDEN = new URL('./fixtures/golden/', import.meta.url);

/** A safetensors file from a header object (or raw header text) and the data bytes. */
function build(header: unknown, data: Uint8Array, headerLen?: number): Uint8Array<ArrayBuffer> {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bytes(n: number, fill: (dv: DataView) => void): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  fill(new DataView(b.buffer));
  return b;
}

// One tensor of each dtype, values chosen so every bit pattern is known by hand.
const F32_VALUES = [1, -2.5, 3.25, 0, 1e-3, -7];
const F16_BITS = [0x3c00, 0xc000, 0x3800, 0x7bff]; // 1, -2, 0.5, 65504
const BF16_BITS = [0x3f80, 0xc000, 0x3f00, 0x4049]; // 1, -2, 0.5, 3.140625
const I32_VALUES = [-100, 0, 151645, 2147483647];
const I64_VALUES = [-100n, 1n << 40n, 151643n];

function mixedFile(): Uint8Array<ArrayBuffer> {
  const data = bytes(24 + 8 + 8 + 16 + 24, (dv) => {
    F32_VALUES.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    F16_BITS.forEach((v, i) => dv.setUint16(24 + i * 2, v, true));
    BF16_BITS.forEach((v, i) => dv.setUint16(32 + i * 2, v, true));
    I32_VALUES.forEach((v, i) => dv.setInt32(40 + i * 4, v, true));
    I64_VALUES.forEach((v, i) => dv.setBigInt64(56 + i * 8, v, true));
  });
  return build(
    {
      __metadata__: { format: 'pt' },
      f32: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      f16: { dtype: 'F16', shape: [4], data_offsets: [24, 32] },
      bf16: { dtype: 'BF16', shape: [2, 2], data_offsets: [32, 40] },
      i32: { dtype: 'I32', shape: [4], data_offsets: [40, 56] },
      i64: { dtype: 'I64', shape: [3, 1], data_offsets: [56, 80] },
    },
    data,
  );
}

async function expectMixed(st: SafetensorsFile): Promise<void> {
  expect(st.metadata).toEqual({ format: 'pt' });
  expect(st.info('f32')).toMatchObject({ dtype: 'F32', shape: [2, 3] });
  expect(st.info('i64')).toMatchObject({ dtype: 'I64', shape: [3, 1] });
  const f32 = (await st.read('f32')) as Float32Array;
  expect(f32).toBeInstanceOf(Float32Array);
  expect(Array.from(f32)).toEqual(F32_VALUES.map(Math.fround));
  const f16 = (await st.read('f16')) as Uint16Array;
  expect(f16).toBeInstanceOf(Uint16Array);
  expect(Array.from(f16)).toEqual(F16_BITS);
  expect(Array.from(f16, f16ToF32)).toEqual([1, -2, 0.5, 65504]);
  const bf16 = (await st.read('bf16')) as Uint16Array;
  expect(Array.from(bf16)).toEqual(BF16_BITS);
  expect(Array.from(bf16, bf16ToF32)).toEqual([1, -2, 0.5, 3.140625]);
  expect(Array.from((await st.read('i32')) as Int32Array)).toEqual(I32_VALUES);
  expect(Array.from((await st.read('i64')) as BigInt64Array)).toEqual(I64_VALUES);
}

describe('reading hand-built files', () => {
  it('reads F32, F16, BF16, I32 and I64 from an ArrayBuffer', async () => {
    const file = mixedFile();
    await expectMixed(await SafetensorsFile.open(file.slice().buffer, 'mixed.safetensors'));
  });

  it('reads the same from a Blob, slicing it per tensor', async () => {
    await expectMixed(await SafetensorsFile.open(new Blob([mixedFile()]), 'mixed.safetensors'));
  });

  it('reads the same from a Uint8Array view that does not start at offset 0', async () => {
    const file = mixedFile();
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    await expectMixed(await SafetensorsFile.open(padded.subarray(3), 'mixed.safetensors'));
  });

  it('copies misaligned tensor data instead of failing', async () => {
    // A 7-byte header puts the data at byte 15: not a multiple of 4.
    const header = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const data = bytes(8, (dv) => (dv.setFloat32(0, 1.5, true), dv.setFloat32(4, -3, true)));
    const file = build(header + ' ', data); // one space pad keeps it odd-sized
    expect((8 + header.length + 1) % 4).not.toBe(0);
    const st = await SafetensorsFile.open(file.buffer, 'odd.safetensors');
    expect(Array.from((await st.read('x')) as Float32Array)).toEqual([1.5, -3]);
  });

  it('reads a Blob a tensor at a time, never the whole file', async () => {
    // What keeps a 988 MB model from being held twice: every read is a slice no larger than the
    // header or the one tensor asked for.
    const slices: [number, number][] = [];
    class SpyBlob extends Blob {
      override slice(start?: number, end?: number, type?: string): Blob {
        slices.push([start ?? 0, end ?? this.size]);
        return super.slice(start, end, type);
      }
    }
    const file = mixedFile();
    const headerLen = Number(new DataView(file.buffer).getBigUint64(0, true));
    const st = await SafetensorsFile.open(new SpyBlob([file]), 'mixed.safetensors');
    expect(slices).toEqual([
      [0, 8],
      [8, 8 + headerLen],
    ]);
    slices.length = 0;
    await st.read('bf16');
    expect(slices).toEqual([[8 + headerLen + 32, 8 + headerLen + 40]]);
  });

  it('reads a tensor larger than READ_CHUNK in chunk-sized slices into one buffer, bytes unchanged', async () => {
    // Blob.arrayBuffer() of one big range may hold it twice while assembling (Node does); chunks
    // keep a tensor read at the tensor plus one chunk.
    const n = (READ_CHUNK * 2 + 1000) / 4;
    const data = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 7);
    const file = concatParts(encodeSafetensors([{ name: 'big', dtype: 'F32', shape: [n], data }]));
    const slices: [number, number][] = [];
    class SpyBlob extends Blob {
      override slice(start?: number, end?: number, type?: string): Blob {
        slices.push([start ?? 0, end ?? this.size]);
        return super.slice(start, end, type);
      }
    }
    const st = await SafetensorsFile.open(new SpyBlob([file as Uint8Array<ArrayBuffer>]), 'big.safetensors');
    slices.length = 0;
    const got = (await st.read('big')) as Float32Array;
    expect(got.length).toBe(n);
    expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(data.buffer))).toBe(true);
    expect(slices.map(([a, b]) => b - a)).toEqual([READ_CHUNK, READ_CHUNK, 1000]);
    expect(slices[1][0]).toBe(slices[0][1]);
  });

  it('takes the File name as the file name in messages', async () => {
    const f = new File([new Uint8Array(3)], 'shard-7.safetensors');
    await expect(SafetensorsFile.open(f)).rejects.toThrow(/shard-7\.safetensors/);
  });
});

describe('sharded models', () => {
  function shard(name: string, value: number): Uint8Array<ArrayBuffer> {
    return build(
      { [name]: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
      bytes(4, (dv) => dv.setFloat32(0, value, true)),
    );
  }
  const shards: Record<string, Uint8Array<ArrayBuffer>> = {
    'model-00001-of-00002.safetensors': shard('a.weight', 1.25),
    'model-00002-of-00002.safetensors': shard('b.weight', -4),
  };
  const index = JSON.stringify({
    metadata: { total_size: 8 },
    weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors' },
  });

  it('reads each tensor from the shard the index names', async () => {
    const opened: string[] = [];
    const st = await ShardedSafetensors.open(index, async (f) => (opened.push(f), new Blob([shards[f]])));
    expect(opened.sort()).toEqual(Object.keys(shards).sort());
    expect(st.tensors.get('b.weight')).toMatchObject({ file: 'model-00002-of-00002.safetensors', shape: [1] });
    expect(Array.from((await st.read('a.weight')) as Float32Array)).toEqual([1.25]);
    expect(Array.from((await st.read('b.weight')) as Float32Array)).toEqual([-4]);
    await expect(st.read('c.weight')).rejects.toThrow(SafetensorsError);
  });

  it('names the shard and tensor when the index lists a tensor the shard lacks', async () => {
    const bad = JSON.stringify({
      weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'z.weight': 'model-00001-of-00002.safetensors' },
    });
    const err = await ShardedSafetensors.open(bad, async (f) => shards[f]).catch((e) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err).toMatchObject({ file: 'model-00001-of-00002.safetensors', tensor: 'z.weight' });
  });

  it('refuses an index that is not JSON or has no weight_map, naming the index', async () => {
    await expect(ShardedSafetensors.open('{nope', async () => new Uint8Array())).rejects.toMatchObject({
      file: 'model.safetensors.index.json',
    });
    await expect(ShardedSafetensors.open('{"metadata":{}}', async () => new Uint8Array())).rejects.toThrow(
      /weight_map/,
    );
  });
});

describe('writing', () => {
  it('writes F32, F16 and BF16 tensors that read back bit for bit', async () => {
    const f32 = new Float32Array([0.1, -1e-20, 3e38, -0]);
    const f16 = Uint16Array.from([0.1, -2, 65504, 6e-8], f32ToF16);
    const bf16 = Uint16Array.from([0.1, -2, 3e38, 1e-30], f32ToBf16);
    const parts = encodeSafetensors(
      [
        { name: 'w.f32', dtype: 'F32', shape: [2, 2], data: f32 },
        { name: 'w.f16', dtype: 'F16', shape: [4], data: f16 },
        { name: 'w.bf16', dtype: 'BF16', shape: [4, 1], data: bf16 },
      ],
      { format: 'pt' },
    );
    const file = concatParts(parts) as Uint8Array<ArrayBuffer>;
    // The header is padded so tensor data starts 8-aligned, as the Rust writer does.
    const headerLen = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLen)));
    expect(header['w.f32']).toEqual({ dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] });
    expect(header['w.f16'].data_offsets).toEqual([16, 24]);
    expect(header['w.bf16'].data_offsets).toEqual([24, 32]);
    // Data bytes by hand: the first F32 value little-endian.
    expect(new DataView(file.buffer).getFloat32(8 + headerLen, true)).toBe(Math.fround(0.1));

    // encodeSafetensors views the callers' buffers, typed ArrayBufferLike; these are plain ArrayBuffers.
    for (const src of [file.buffer, new Blob(parts as Uint8Array<ArrayBuffer>[])]) {
      const st = await SafetensorsFile.open(src, 'written.safetensors');
      expect(st.metadata).toEqual({ format: 'pt' });
      expect(Array.from((await st.read('w.f32')) as Float32Array)).toEqual(Array.from(f32));
      expect(Array.from((await st.read('w.f16')) as Uint16Array)).toEqual(Array.from(f16));
      expect(Array.from((await st.read('w.bf16')) as Uint16Array)).toEqual(Array.from(bf16));
    }
  });

  it('rounds to the known 16-bit patterns (round to nearest even)', () => {
    expect(f32ToF16(0.1)).toBe(0x2e66);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // halfway to the next binade: rounds up to infinity
    expect(f32ToF16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie goes to even (zero)
    expect(f32ToBf16(0.1)).toBe(0x3dcd);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // exact tie, even mantissa stays
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // exact tie, odd mantissa rounds up
    expect(f32ToBf16(NaN)).toBe(0x7fc0);
  });

  it('refuses to write a tensor whose data does not match its shape', () => {
    expect(() => encodeSafetensors([{ name: 'bad', dtype: 'F32', shape: [3], data: new Float32Array(2) }])).toThrow(
      SafetensorsError,
    );
  });
});

describe('bad files name the file and the tensor', () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const eight = new Uint8Array(8);

  async function failure(file: Uint8Array<ArrayBuffer>): Promise<SafetensorsError> {
    const err = await SafetensorsFile.open(new Blob([file]), 'bad.safetensors').catch((e) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err.file).toBe('bad.safetensors');
    expect(err.message).toContain('bad.safetensors');
    return err;
  }

  it('a file too short for the header length', async () => {
    expect((await failure(new Uint8Array(5))).message).toMatch(/truncated/);
  });

  it('a header length above the 100 MB limit', async () => {
    const f = build({ x: ok }, eight, 2 ** 40);
    expect((await failure(f)).message).toMatch(/header length/);
  });

  it('a header running past the end of a truncated file', async () => {
    const f = build({ x: ok }, eight);
    expect((await failure(f.subarray(0, 20))).message).toMatch(/truncated/);
  });

  it('a header that is not JSON, or not a JSON object', async () => {
    expect((await failure(build('{"x": {', eight))).message).toMatch(/not valid JSON/);
    expect((await failure(build('[1,2]', eight))).message).toMatch(/not a JSON object/);
  });

  it('data offsets outside the file', async () => {
    const err = await failure(build({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, eight));
    expect(err.tensor).toBe('x');
    expect(err.message).toMatch(/outside/);
  });

  it('overlapping data offsets', async () => {
    const err = await failure(
      build(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        new Uint8Array(12),
      ),
    );
    expect(err.tensor).toBe('b');
    expect(err.message).toMatch(/overlaps tensor "a"/);
  });

  it('an unknown dtype', async () => {
    const err = await failure(build({ q: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, eight));
    expect(err.tensor).toBe('q');
    expect(err.message).toMatch(/F8_E4M3/);
  });

  it('a shape that does not match the byte size', async () => {
    const err = await failure(build({ m: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight));
    expect(err.tensor).toBe('m');
    expect(err.message).toMatch(/needs 12 bytes/);
  });

  it('malformed shape or offsets', async () => {
    expect((await failure(build({ s: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eight))).tensor).toBe('s');
    expect((await failure(build({ o: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, eight))).tensor).toBe('o');
    expect((await failure(build({ e: 5 }, eight))).tensor).toBe('e');
  });

  it('metadata that is not a map of strings', async () => {
    for (const meta of [5, ['pt'], { format: 1 }]) {
      const err = await failure(build({ __metadata__: meta, x: ok }, eight));
      expect(err.tensor).toBe('__metadata__');
      expect(err.message).toMatch(/string/);
    }
  });

  it('asking for a tensor the file does not have', async () => {
    const st = await SafetensorsFile.open(build({ x: ok }, eight), 'good.safetensors');
    await expect(st.read('y')).rejects.toMatchObject({ file: 'good.safetensors', tensor: 'y' });
  });
});

describe('files written by PyTorch', () => {
  /** The header parsed independently of the reader under test. */
  function rawHeader(buf: Uint8Array): {
    len: number;
    header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  } {
    const len = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(0, true));
    return { len, header: JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + len))) };
  }

  for (const c of ['tiny-f32', 'tiny-bf16-untied']) {
    it(`${c}: every tensor of every file reads with the header's dtype, shape and bytes`, async () => {
      for (const f of ['model', 'adapter_model', 'batches', 'expected']) {
        const buf = new Uint8Array(readFileSync(new URL(`${c}/${f}.safetensors`, GOLDEN)));
        const { len, header } = rawHeader(buf);
        const st = await SafetensorsFile.open(new Blob([buf]), `${f}.safetensors`);
        const names = Object.keys(header).filter((k) => k !== '__metadata__');
        expect([...st.tensors.keys()].sort()).toEqual(names.sort());
        for (const name of names) {
          const h = header[name];
          const t = st.info(name);
          expect(t.dtype).toBe(h.dtype);
          expect(t.shape).toEqual(h.shape);
          const arr: TensorArray = await st.read(name);
          expect(arr.length).toBe(h.shape.reduce((a, b) => a * b, 1));
          // First element straight from the file bytes.
          const dv = new DataView(buf.buffer, buf.byteOffset + 8 + len + h.data_offsets[0]);
          if (arr.length === 0) continue;
          if (h.dtype === 'F32') expect(arr[0]).toBe(dv.getFloat32(0, true));
          else if (h.dtype === 'I32') expect(arr[0]).toBe(dv.getInt32(0, true));
          else if (h.dtype === 'BF16' || h.dtype === 'F16') expect(arr[0]).toBe(dv.getUint16(0, true));
          else throw new Error(`unexpected dtype ${h.dtype} in ${c}/${f}`);
        }
      }
    });
  }
});
