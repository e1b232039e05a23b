// The CLI's spill for the token store (data/token-store.ts): chunks past the memory budget go to
// one temporary file, read back by range when the trainer takes an example. The file is unlinked
// as soon as it is open (where the system allows), so nothing is left behind even after kill -9.

import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChunkSpill } from '../data/token-store.ts';

export class FileSpill implements ChunkSpill {
  private readonly fd: number;
  private readonly offsets = new Map<number, number>();
  private end = 0;
  readonly path: string;

  constructor(dir = tmpdir()) {
    this.path = join(dir, `.webtune-tokens-${process.pid}-${Date.now().toString(36)}`);
    this.fd = openSync(this.path, 'w+', 0o600);
    try {
      unlinkSync(this.path);
    } catch {
      // Windows keeps an open file's name: it goes in close().
    }
  }

  write(chunk: number, ids: Int32Array): void {
    const bytes = new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength);
    for (let done = 0; done < bytes.length;)
      done += writeSync(this.fd, bytes, done, bytes.length - done, this.end + done);
    this.offsets.set(chunk, this.end);
    this.end += bytes.length;
  }

  read(chunk: number, start: number, length: number): Int32Array {
    const at = this.offsets.get(chunk);
    if (at === undefined) throw new Error(`token chunk ${chunk} was never spilled`);
    const ids = new Int32Array(length);
    const bytes = new Uint8Array(ids.buffer);
    for (let done = 0; done < bytes.length;) {
      const got = readSync(this.fd, bytes, done, bytes.length - done, at + start * 4 + done);
      if (got === 0) throw new Error(`the token spill file ended early (chunk ${chunk})`);
      done += got;
    }
    return ids;
  }

  close(): void {
    closeSync(this.fd);
    try {
      unlinkSync(this.path);
    } catch {
      // already gone (unlinked when opened)
    }
  }
}
