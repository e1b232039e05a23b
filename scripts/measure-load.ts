// Peak JavaScript memory while an engine loads a model folder, against the largest tensor: the
// weights stream tensor by tensor from the file (a Blob, as from the cache or a picked folder),
// so the JS heap should hold about one tensor at a time, never the whole model.
//   npx tsx scripts/measure-load.ts --preset qwen3-4b-2l --engine webgpu      # makes the model in /tmp if missing
//   npx tsx scripts/measure-load.ts --model DIR --engine cpu --quant nf4
// Prints one JSON line: largest tensor, peak ArrayBuffer bytes above the start, peak RSS above
// the start, what the engine allocated, and the weight bytes on disk. Run with --expose-gc
// (node --expose-gc --import tsx ...) to start from a collected heap.

import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { scriptFlags } from '../src/cli/args.ts';
import { openModelFolder, weightReader } from '../src/cli/model-folder.ts';
import { createEngine } from '../src/engine/create.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { makeTinyModel } from './make-tiny-model.ts';
import { PRESETS, type PresetName } from './tiny/presets.ts';

const f = scriptFlags('measure-load', 'peak JS memory while an engine loads a model', {
  model: { kind: 'string', help: 'model folder (default: the preset, generated under the temp folder)' },
  preset: { kind: 'choice', choices: Object.keys(PRESETS), help: 'generated model shape (default qwen3-4b-2l)' },
  engine: { kind: 'choice', choices: ['cpu', 'webgpu'], help: 'engine (default webgpu)' },
  batch: { kind: 'int', min: 1, help: 'micro-batch the engine plans for (default 1)' },
  seq: { kind: 'int', min: 1, help: 'max length the engine plans for (default 64)' },
});

const preset = (f.preset as PresetName | undefined) ?? 'qwen3-4b-2l';
let dir = f.model as string | undefined;
if (!dir) {
  dir = join(tmpdir(), `webtune-${preset}`);
  const made = await makeTinyModel({ preset, out: dir, ifMissing: true });
  console.error(`${dir}: ${preset}, ${(made.bytes / 1e6).toFixed(0)} MB${made.written ? '' : ' (kept)'}`);
}
const gc = (globalThis as { gc?: () => void }).gc;
const folder = await openModelFolder(dir);
const engine = await createEngine((f.engine as 'cpu' | 'webgpu' | undefined) ?? 'webgpu');
let largest = 0,
  read = 0;
const inner = weightReader(folder);
const reader = {
  dtype: inner.dtype,
  read: async (name: string) => {
    const t = await inner.read(name);
    largest = Math.max(largest, t.byteLength);
    read += t.byteLength;
    return t;
  },
};
gc?.();
const base = process.memoryUsage();
let peakBuffers = 0,
  peakRss = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakBuffers = Math.max(peakBuffers, m.arrayBuffers - base.arrayBuffers);
  peakRss = Math.max(peakRss, m.rss - base.rss);
};
const timer = setInterval(sample, 2);
const t0 = performance.now();
const plan = await engine.load(folder.config, reader, {
  maxBatch: (f.batch as number | undefined) ?? 1,
  maxSeq: (f.seq as number | undefined) ?? 64,
  lora: DEFAULT_LORA,
});
sample();
clearInterval(timer);
const mb = (n: number) => +(n / 2 ** 20).toFixed(1);
console.log(
  JSON.stringify({
    model: dir,
    engine: f.engine ?? 'webgpu',
    gc: Boolean(gc),
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    weights_read_mib: mb(read),
    largest_tensor_mib: mb(largest),
    peak_array_buffers_mib: mb(peakBuffers),
    peak_rss_mib: mb(peakRss),
    planned_mib: mb(plan.total),
    allocated_mib: mb(plan.allocated),
  }),
);
await engine.dispose();
