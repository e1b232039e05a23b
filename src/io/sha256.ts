// Incremental SHA-256 over hash-wasm's WebAssembly SHA-256 (twice as fast as the plain
// TypeScript one it replaced; scripts/bench-sha256.ts, BENCHMARKS.md). SubtleCrypto only digests
// a whole buffer, and a 1 GB weight file must be hashed as it streams in, chunk by chunk, across
// page reloads; so the running state can also be saved and restored (see Sha256State).

import { createSHA256, type IHasher } from 'hash-wasm';

/** hash-wasm's saved hasher state: plain bytes, kept in IndexedDB with a download's record. */
export type Sha256State = Uint8Array;

export function isSha256State(v: unknown): v is Sha256State {
  return v instanceof Uint8Array;
}

export class Sha256 {
  private done = false;

  private constructor(private readonly h: IHasher) {}

  static async create(): Promise<Sha256> {
    return new Sha256((await createSHA256()).init());
  }

  /** Continues where state() left off (in this page or after a reload). */
  static async fromState(s: Sha256State): Promise<Sha256> {
    return new Sha256((await createSHA256()).init().load(s));
  }

  state(): Sha256State {
    return this.h.save();
  }

  update(data: Uint8Array): this {
    if (this.done) throw new Error('Sha256: update after digest');
    this.h.update(data);
    return this;
  }

  digest(): Uint8Array {
    if (this.done) throw new Error('Sha256: digest called twice');
    this.done = true;
    return this.h.digest('binary');
  }

  hex(): string {
    return toHex(this.digest());
  }
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  return (await Sha256.create()).update(data).hex();
}
