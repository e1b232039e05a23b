// Streaming SHA-256 over 1 GiB, the way a model download hashes: 64 KiB pieces as fetch delivers
// them, the hasher's state saved and restored every 32 MiB (a stored download chunk). Times
// src/io/sha256.ts (hash-wasm) and, with --old, the plain TypeScript hasher it replaced:
//   git show 527300d:src/io/sha256.ts > /tmp/sha256-ts.ts
//   npx tsx scripts/bench-sha256.ts [--mib 1024] [--old /tmp/sha256-ts.ts]
// Every digest is checked against node:crypto, which is timed too for reference.

import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Sha256 } from '../src/io/sha256.ts';
import { scriptFlags } from '../src/cli/args.ts';

const flags = scriptFlags('bench-sha256', 'streaming SHA-256 throughput of the download hasher', {
  mib: { kind: 'int', min: 32, help: 'MiB to hash (default 1024)' },
  old: { kind: 'string', help: "also time this module's synchronous Sha256 class (the replaced TypeScript hasher)" },
});
const MIB = (flags.mib as number | undefined) ?? 1024;
const PIECE = 64 << 10,
  CHUNK = 32 << 20;

// 32 MiB of xorshift bytes, hashed over and over: the data does not matter to the speed.
const block = new Uint8Array(CHUNK);
const words = new Uint32Array(block.buffer);
let x = 2463534242;
for (let i = 0; i < words.length; i++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  words[i] = x >>> 0;
}
const rounds = Math.ceil((MIB << 20) / CHUNK);

interface Hasher {
  update(piece: Uint8Array): void;
  /** The hasher as a reload leaves it: rebuilt from its stored state. */
  reload(): Promise<void>;
  hex(): string;
}

const reference = createHash('sha256');
for (let r = 0; r < rounds; r++) reference.update(block);
const want = reference.digest('hex');

async function time(name: string, h: Hasher): Promise<void> {
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let off = 0; off < CHUNK; off += PIECE) h.update(block.subarray(off, off + PIECE));
    await h.reload();
  }
  const hex = h.hex();
  const s = (performance.now() - t0) / 1000;
  if (hex !== want) throw new Error(`${name} disagrees with node:crypto`);
  console.log(`${name.padEnd(12)} ${(MIB / s).toFixed(0).padStart(5)} MiB/s  ${s.toFixed(2)} s`);
}

console.log(
  `${MIB} MiB in ${PIECE >> 10} KiB pieces, state stored and restored every ${CHUNK >> 20} MiB; ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`,
);
let wasm = await Sha256.create();
await time('hash-wasm', {
  update: (p) => void wasm.update(p),
  reload: async () => void (wasm = await Sha256.fromState(structuredClone(wasm.state()))),
  hex: () => wasm.hex(),
});

if (flags.old) {
  type Old = { update(d: Uint8Array): unknown; state(): unknown; hex(): string };
  const mod = (await import(pathToFileURL(resolve(flags.old as string)).href)) as {
    Sha256: { new (): Old; fromState(s: unknown): Old };
  };
  let ts = new mod.Sha256();
  await time('typescript', {
    update: (p) => void ts.update(p),
    reload: async () => void (ts = mod.Sha256.fromState(structuredClone(ts.state()))),
    hex: () => ts.hex(),
  });
}

const t0 = performance.now();
const n = createHash('sha256');
for (let r = 0; r < rounds; r++) n.update(block);
n.digest();
console.log(
  `${'node:crypto'.padEnd(12)} ${(MIB / ((performance.now() - t0) / 1000)).toFixed(0).padStart(5)} MiB/s  (native, for reference; not in the page)`,
);
