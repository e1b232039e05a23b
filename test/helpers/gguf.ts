// GGUF files read back with @huggingface/gguf, an independent and maintained parser: the tests
// see what the llama.cpp ecosystem sees of a file Webtune wrote, not what our writer believes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';

export interface ParsedGguf {
  version: number;
  metadata: Map<string, unknown>;
  /** GGUF value type of each metadata key (the spec's numbers: 4 UINT32, 6 FLOAT32, 8 STRING, 9 ARRAY). */
  types: Map<string, number>;
  tensors: Map<string, { name: string; dims: number[]; type: number; start: number }>;
  /** Absolute offset of the tensor data section. */
  dataStart: number;
  /** An F32 tensor's values. */
  read(name: string): Float32Array;
}

export async function parseGguf(bytes: Uint8Array): Promise<ParsedGguf> {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-'));
  try {
    const path = join(dir, 'file.gguf');
    writeFileSync(path, bytes);
    const r = await gguf(path, { allowLocalFile: true, typedMetadata: true });
    const dataStart = Number(r.tensorDataOffset);
    const metadata = new Map<string, unknown>(),
      types = new Map<string, number>();
    for (const [key, v] of Object.entries(r.typedMetadata)) {
      metadata.set(key, v.value);
      types.set(key, v.type);
    }
    const tensors = new Map(
      r.tensorInfos.map((t) => [
        t.name,
        { name: t.name, dims: t.shape.map(Number), type: t.dtype, start: dataStart + Number(t.offset) },
      ]),
    );
    return {
      version: r.metadata.version,
      metadata,
      types,
      tensors,
      dataStart,
      read(name) {
        const t = tensors.get(name);
        if (!t || t.type !== 0) throw new Error(`${name}: no F32 tensor of that name`);
        const n = t.dims.reduce((a, b) => a * b, 1);
        return new Float32Array(bytes.slice(t.start, t.start + 4 * n).buffer);
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
