import { describe, expect, it } from 'vitest';
import { unzipSync } from 'fflate';
import { zipFiles } from '../src/ui/shared/save-files.ts';

describe('zipFiles', () => {
  it('stores every file byte for byte under the folder name', async () => {
    // 40 MB crosses the 16 MB slice boundary twice; random bytes catch any reordering.
    const big = new Uint8Array(40 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i * 2654435761) >>> 24;
    const small = new TextEncoder().encode('{"r": 8}\n');
    const zip = await zipFiles(
      [
        { name: 'adapter_model.safetensors', blob: new Blob([big]) },
        { name: 'adapter_config.json', blob: new Blob([small]) },
        { name: 'empty.txt', blob: new Blob([]) },
      ],
      'tiny-lora-adapter',
    );
    const files = unzipSync(new Uint8Array(await zip.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual([
      'tiny-lora-adapter/adapter_config.json',
      'tiny-lora-adapter/adapter_model.safetensors',
      'tiny-lora-adapter/empty.txt',
    ]);
    expect(files['tiny-lora-adapter/adapter_config.json']).toEqual(small);
    expect(files['tiny-lora-adapter/empty.txt'].length).toBe(0);
    const got = files['tiny-lora-adapter/adapter_model.safetensors'];
    expect(got.length).toBe(big.length);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(big))).toBe(0);
    // Stored, not deflated: the archive is barely larger than its contents.
    expect(zip.size).toBeLessThan(big.length + small.length + 1024);
  });
});
