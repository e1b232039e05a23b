// Hands files to the browser's download manager. Several files (an adapter folder, a merged
// model) travel as one uncompressed zip: one download prompt, and safetensors do not compress.

import { zipSync, type Zippable } from 'fflate';

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

export async function zipFiles(files: { name: string; blob: Blob }[], folder: string): Promise<Blob> {
  const entries: Zippable = {};
  for (const f of files) entries[`${folder}/${f.name}`] = [new Uint8Array(await f.blob.arrayBuffer()), { level: 0 }];
  return new Blob([zipSync(entries) as Uint8Array<ArrayBuffer>], { type: 'application/zip' });
}
