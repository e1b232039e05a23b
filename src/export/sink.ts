// Where exported files go. Exporters write tensor by tensor into a ByteSink, so a merged model
// is never held twice: the CLI streams to disk (src/cli/node-sink.ts), the browser collects
// parts into a Blob (which the browser may keep on disk) or writes through File System Access.

export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface FolderSink {
  /** A new file in the folder (replacing one of the same name). */
  create(name: string): Promise<ByteSink>;
}

export async function writeFile(
  folder: FolderSink,
  name: string,
  content: string | Uint8Array | Uint8Array[],
): Promise<void> {
  const sink = await folder.create(name);
  const parts =
    typeof content === 'string' ? [new TextEncoder().encode(content)] : Array.isArray(content) ? content : [content];
  for (const p of parts) await sink.write(p);
  await sink.close();
}

/** Files as Blobs, for downloads and tests. */
export class BlobFolder implements FolderSink {
  readonly files = new Map<string, Blob>();

  async create(name: string): Promise<ByteSink> {
    let parts: Blob[] = [];
    return {
      write: async (chunk) => {
        // Each chunk becomes a Blob at once: the bytes move to the browser's blob store (which
        // may spill to disk) and the caller's array can be freed or reused for the next tensor.
        parts.push(new Blob([chunk as Uint8Array<ArrayBuffer>]));
      },
      close: async () => {
        this.files.set(name, new Blob(parts));
        parts = [];
      },
    };
  }

  async bytes(name: string): Promise<Uint8Array> {
    const b = this.files.get(name);
    if (!b) throw new Error(`no file ${name} was written`);
    return new Uint8Array(await b.arrayBuffer());
  }

  async text(name: string): Promise<string> {
    return new TextDecoder().decode(await this.bytes(name));
  }
}

/** Writes through to one ByteSink, counting bytes (for progress and for offsets). */
export class CountingSink implements ByteSink {
  bytes = 0;
  constructor(private readonly inner: ByteSink) {}
  async write(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.byteLength;
    await this.inner.write(chunk);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
