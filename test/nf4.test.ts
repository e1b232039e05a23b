// The NF4 quantizer against PyTorch's reference (make_golden.py nf4_roundtrip, run through
// scripts/nf4_reference.py): the same code for every element and the same absmax bits for every
// block of every projection of both NF4 golden cases, a synthetic tensor of ties and edge
// values, and the golden case's own dequantized weight.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { validateWeights, parseQwen2Config } from '../src/core/config.ts';
import {
  NF4_BLOCK,
  NF4_CODES,
  checkNf4Shape,
  dequantizeNf4,
  nf4Absmax,
  nf4Code,
  nf4RowStep,
  nf4Words,
  quantizeNf4,
} from '../src/core/nf4.ts';
import { f32ToBf16, f32ToF16 } from '../src/core/dtype.ts';

async function open(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(new Uint8Array(readFileSync(new URL(path, import.meta.url))), path);
}

function bits(x: Float32Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, x.length);
}

/** Codes of the packed words, unpacked and repacked eight to an i32 as the reference stores them. */
function referencePacking(words: Uint32Array, n: number): Int32Array {
  const out = new Int32Array(n / 8);
  for (let w = 0; w < n / 8; w++) {
    let v = 0;
    for (let k = 0; k < 8; k++) v |= nf4Code(words, w * 8 + k) << (4 * k);
    out[w] = v;
  }
  return out;
}

function absmaxOf(words: Uint32Array, n: number): Float32Array {
  return Float32Array.from({ length: n / NF4_BLOCK }, (_, b) => nf4Absmax(words, b));
}

for (const name of ['qlora-nf4', 'nf4-odd-f32', 'qwen3-nf4-untied']) {
  describe(`NF4 quantizer on ${name}`, () => {
    it('gives the reference codes and absmax bit for bit on every projection', async () => {
      const model = await open(`./fixtures/golden/${name}/model.safetensors`);
      const ref = await open(`./fixtures/nf4/${name}.safetensors`);
      const cfg = parseQwen2Config(
        readFileSync(new URL(`./fixtures/golden/${name}/config.json`, import.meta.url), 'utf8'),
      );
      const dtype = validateWeights(cfg, model);
      const names = [...ref.tensors.keys()].filter((k) => k.startsWith('codes.model.')).map((k) => k.slice(6));
      expect(names.length).toBe(7 * cfg.numLayers);
      for (const t of names) {
        const w = (await model.read(t)) as Float32Array | Uint16Array;
        const q = quantizeNf4(w, dtype, t);
        expect(q.length).toBe(nf4Words(w.length));
        expect(referencePacking(q, w.length), t).toEqual(await ref.read(`codes.${t}`));
        expect(bits(absmaxOf(q, w.length)), t).toEqual(bits((await ref.read(`absmax.${t}`)) as Float32Array));
      }
    });

    it("dequantizes layer 0 down_proj to the case's expected tensor exactly", async () => {
      const model = await open(`./fixtures/golden/${name}/model.safetensors`);
      const exp = await open(`./fixtures/golden/${name}/expected.safetensors`);
      const cfg = parseQwen2Config(
        readFileSync(new URL(`./fixtures/golden/${name}/config.json`, import.meta.url), 'utf8'),
      );
      const t = 'model.layers.0.mlp.down_proj.weight';
      const w = (await model.read(t)) as Float32Array | Uint16Array;
      const q = quantizeNf4(w, validateWeights(cfg, model), t);
      const got = dequantizeNf4(q, 0, w.length, new Float32Array(w.length));
      expect(bits(got)).toEqual(bits((await exp.read(`dequant.${t}`)) as Float32Array));
    });
  });
}

describe('NF4 quantizer edge values', () => {
  it('breaks ties, zero blocks, negative absmax and subnormals as the reference does', async () => {
    const ref = await open('./fixtures/nf4/qlora-nf4.safetensors');
    const x = (await ref.read('edge.input')) as Float32Array;
    const q = quantizeNf4(x, 'f32', 'edge');
    expect(referencePacking(q, x.length)).toEqual(await ref.read('codes.edge'));
    expect(bits(absmaxOf(q, x.length))).toEqual(bits((await ref.read('absmax.edge')) as Float32Array));
    expect(bits(dequantizeNf4(q, 0, x.length, new Float32Array(x.length)))).toEqual(
      bits((await ref.read('dequant.edge')) as Float32Array),
    );
    // the midpoint between codes 7 and 8 went to the lower one (a tie), one step above it to the upper
    const mid78 = Math.fround((NF4_CODES[7] + NF4_CODES[8]) / 2);
    expect(x[8]).toBe(mid78);
    expect(nf4Code(q, 8)).toBe(7);
    expect(nf4Code(q, 64 + 8)).toBe(8);
  });

  it('picks, near every midpoint and at random, the code torch.argmin picks over all 16 distances', () => {
    // the quantizer's bucket table is a shortcut; this is the rule written out in full
    const fr = Math.fround;
    const argmin = (s: number) => {
      let best = 0;
      for (let k = 1; k < 16; k++) if (Math.abs(fr(s - NF4_CODES[k])) < Math.abs(fr(s - NF4_CODES[best]))) best = k;
      return best;
    };
    const f = new Float32Array(1),
      u = new Uint32Array(f.buffer);
    const near: number[] = [];
    for (let k = 0; k < 15; k++) {
      f[0] = (NF4_CODES[k] + NF4_CODES[k + 1]) / 2;
      const c = u[0];
      for (let d = -40; d <= 40; d++) {
        u[0] = f[0] < 0 ? c - d : c + d;
        near.push(f[0]);
        u[0] = c;
      }
      near.push(NF4_CODES[k], NF4_CODES[k + 1]);
    }
    let seed = 12345;
    for (let i = 0; i < 20000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      near.push(fr((seed / 2 ** 32) * 2 - 1));
    }
    // one block per value: 1 (or -1) sets absmax to 1, so s is the value itself
    const n = near.length,
      x = new Float32Array(n * 64);
    for (let i = 0; i < n; i++) {
      x[i * 64] = near[i];
      x[i * 64 + 1] = i % 2 ? -1 : 1;
    }
    const q = quantizeNf4(x, 'f32', 'near');
    for (let i = 0; i < n; i++)
      if (nf4Code(q, i * 64) !== argmin(near[i])) expect(nf4Code(q, i * 64), `value ${near[i]}`).toBe(argmin(near[i]));
  });

  it('reads bf16 and f16 bits as the values they stand for', () => {
    const vals = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i * 1.7) * (i % 64 === 5 ? 3 : 0.4));
    const bf = Uint16Array.from(vals, f32ToBf16),
      h = Uint16Array.from(vals, f32ToF16);
    const asF32 = (u: Uint16Array, conv: (b: number) => number) => Float32Array.from(u, conv);
    const bfVals = asF32(bf, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]);
    expect(quantizeNf4(bf, 'bf16')).toEqual(quantizeNf4(bfVals, 'f32'));
    const hVals = Float32Array.from(h, (b) => {
      const s = b & 0x8000 ? -1 : 1,
        e = (b >> 10) & 31,
        m = b & 1023;
      return e ? s * (1 + m / 1024) * 2 ** (e - 15) : s * m * 2 ** -24;
    });
    expect(quantizeNf4(h, 'f16')).toEqual(quantizeNf4(hVals, 'f32'));
  });

  it('refuses what it cannot quantize, with the tensor and element', () => {
    expect(() => quantizeNf4(new Float32Array(100), 'f32', 'w')).toThrow(
      /w: 100 values are not a multiple of the NF4 block of 64/,
    );
    const bad = new Float32Array(128);
    bad[70] = NaN;
    expect(() => quantizeNf4(bad, 'f32', 'w')).toThrow(/w: value NaN at element 70/);
    expect(() => checkNf4Shape(3, 10, 'p')).toThrow(/p: a \(3, 10\) weight has 30 values/);
  });

  it('row steps keep chunks on block boundaries', () => {
    for (const cols of [64, 128, 896, 96, 224, 100, 33, 1])
      expect((nf4RowStep(cols) * cols) % NF4_BLOCK, String(cols)).toBe(0);
    expect(nf4RowStep(896)).toBe(1);
    expect(nf4RowStep(96)).toBe(2);
    expect(nf4RowStep(33)).toBe(64);
  });
});
