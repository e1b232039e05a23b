// Hands files to the browser's download manager. Several files (an adapter folder, a merged
// model) travel as one uncompressed zip: one download prompt, and safetensors do not compress.

import { Zip, ZipPassThrough } from 'fflate';

export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own reference once started; give it a moment before revoking.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const SLICE = 16 * 1024 * 1024;

/**
 * Streams the files through the zip writer slice by slice, and every zip chunk becomes a Blob at
 * once, so a merged 1 GB model is never held as one array (the browser may keep Blobs on disk).
 */
export async function zipFiles(files: { name: string; blob: Blob }[], folder: string): Promise<Blob> {
  const parts: Blob[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) failure = err;
    else parts.push(new Blob([chunk as Uint8Array<ArrayBuffer>]));
  });
  for (const f of files) {
    const entry = new ZipPassThrough(`${folder}/${f.name}`);
    zip.add(entry);
    for (let at = 0; at < f.blob.size; at += SLICE) {
      entry.push(new Uint8Array(await f.blob.slice(at, at + SLICE).arrayBuffer()), false);
    }
    entry.push(new Uint8Array(0), true);
    if (failure) throw failure;
  }
  zip.end();
  if (failure) throw failure;
  return new Blob(parts, { type: 'application/zip' });
}
