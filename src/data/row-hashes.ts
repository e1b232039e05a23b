// Which rows were seen before, in bounded memory: a 64-bit hash per row (two independent 32-bit
// FNV-1a variants over system, user and answer) in an open-addressing table of typed arrays,
// 8 bytes a slot. Streaming imports keep no row text, so two different rows whose 64-bit hashes
// collide would be taken for one; at a million rows that chance is about 3e-8.

export interface RowTexts {
  system?: string;
  user: string;
  answer: string;
}

/** Two 32-bit hashes of a row's three texts (the separator keeps "ab"+"c" apart from "a"+"bc"). */
export function rowHash64(r: RowTexts): [number, number] {
  let a = 0x811c9dc5,
    b = 0x01000193 ^ 0x5bd1e995;
  for (const s of [r.system ?? '\u0000', r.user, r.answer]) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    a = Math.imul(a ^ 0xffff, 0x01000193);
    b = Math.imul(b ^ 0xffff, 0x5bd1e995);
  }
  return [a >>> 0, b >>> 0 || 1];
}

/**
 * 64-bit keys (hi, lo with lo != 0) to a 32-bit value (where the row was first seen), growing by
 * doubling at 50% load: 12 bytes a slot.
 */
export class HashMap64 {
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  private val = new Uint32Array(1024);
  size = 0;

  /** Adds the key with `value`; when it was there already, returns the value it has. */
  addOrGet([h, l]: [number, number], value: number): number | undefined {
    if (2 * (this.size + 1) > this.lo.length) this.grow();
    const mask = this.lo.length - 1;
    for (let i = (h ^ Math.imul(l, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      if (this.lo[i] === 0) {
        this.hi[i] = h;
        this.lo[i] = l;
        this.val[i] = value;
        this.size++;
        return undefined;
      }
      if (this.lo[i] === l && this.hi[i] === h) return this.val[i];
    }
  }

  private grow(): void {
    const { hi, lo, val } = this;
    this.hi = new Uint32Array(lo.length * 2);
    this.lo = new Uint32Array(lo.length * 2);
    this.val = new Uint32Array(lo.length * 2);
    this.size = 0;
    for (let i = 0; i < lo.length; i++) if (lo[i] !== 0) this.addOrGet([hi[i], lo[i]], val[i]);
  }
}
