import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { Sha256, sha256Hex, toHex } from '../src/io/sha256.ts';

const nodeHex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('incremental sha256', () => {
  it('matches the FIPS 180-2 test vectors', async () => {
    const enc = new TextEncoder();
    expect(await sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(await sha256Hex(enc.encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await sha256Hex(enc.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('matches node:crypto on random data at every length around block and padding edges', async () => {
    const data = randomBytes(300);
    for (let n = 0; n <= 300; n++)
      expect(await sha256Hex(data.subarray(0, n)), `length ${n}`).toBe(nodeHex(data.subarray(0, n)));
  });

  it('gives the same digest however the data is split into updates', async () => {
    const data = new Uint8Array(randomBytes(200_003));
    const want = nodeHex(data);
    for (let trial = 0; trial < 20; trial++) {
      const h = await Sha256.create();
      let off = 0;
      while (off < data.length) {
        const n = Math.min(data.length - off, Math.floor(Math.random() * 5000));
        h.update(data.subarray(off, off + n));
        off += n;
      }
      expect(h.hex()).toBe(want);
    }
  });

  it('continues from a saved state (as after a page reload mid-download)', async () => {
    const data = new Uint8Array(randomBytes(10_000));
    for (const cut of [0, 1, 63, 64, 65, 4097, 9999]) {
      const first = (await Sha256.create()).update(data.subarray(0, cut));
      // What IndexedDB keeps of it: a structured clone.
      const saved = structuredClone(first.state());
      const resumed = (await Sha256.fromState(saved)).update(data.subarray(cut));
      expect(resumed.hex(), `cut at ${cut}`).toBe(nodeHex(data));
    }
  });

  it('agrees with crypto.subtle on a 5 MB buffer', async () => {
    const data = new Uint8Array(randomBytes(5 << 20));
    const subtle = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    expect(toHex((await Sha256.create()).update(data).digest())).toBe(toHex(subtle));
  });
});
