// FolderSink over a directory on disk: each file is written sequentially through a FileHandle,
// under a .partial name renamed on close, so an interrupted export never looks complete.

import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ByteSink, FolderSink } from '../export/sink.ts';

export class NodeFolder implements FolderSink {
  constructor(readonly dir: string) {}

  async create(name: string): Promise<ByteSink> {
    await mkdir(this.dir, { recursive: true });
    return nodeFileSink(join(this.dir, name));
  }
}

export async function nodeFileSink(path: string): Promise<ByteSink> {
  const partial = `${path}.partial`;
  const fh = await open(partial, 'w');
  return {
    async write(chunk) {
      let off = 0;
      while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
    },
    async close() {
      await fh.close();
      await rename(partial, path);
    },
  };
}
