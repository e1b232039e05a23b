// Small seeded random numbers for everything that must be reproducible from a seed:
// dataset splits, tiny-model weights, shuffles. mulberry32 is tiny, fast and good enough
// for these (it is not for cryptography, and it is not torch's generator).

/** A function returning uniform floats in [0, 1), fully determined by the 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SeededRng {
  private readonly uniform: () => number;
  /** Box-Muller yields two normals per draw; the second waits here. */
  private spare: number | null = null;

  constructor(readonly seed: number) {
    this.uniform = mulberry32(seed);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (mean 0, std 1). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    // 1 - u keeps the log argument in (0, 1], so the result is always finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Fills `out` with normal(0, std) values. */
  fillNormal(out: Float32Array, std: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal() * std;
    return out;
  }
}

/** A new array with the items in a seed-determined order (Fisher-Yates); the input is not touched. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const rng = new SeededRng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
