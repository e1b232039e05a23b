// Oracles: PyTorch's merged projection in the golden cases (W + alpha/r · B @ A in float64), and
// the engine's own forward with base + adapter (the merged model must give the same logits).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseQwen2Config, validateWeights } from '../src/core/config.ts';
import { bf16ToF32, f32ToBf16, widen } from '../src/core/dtype.ts';
import { SafetensorsFile, type TensorSource } from '../src/core/safetensors.ts';
import { createEngine } from '../src/engine/create.ts';
import type { LoraSettings, MicroBatch } from '../src/engine/engine.ts';
import { writeMergedModel } from '../src/export/merged.ts';
import { importPeftAdapter } from '../src/export/peft-import.ts';
import { BlobFolder, type ByteSink, type FolderSink } from '../src/export/sink.ts';

const file = (c: string, f: string) => new URL(`./fixtures/golden/${c}/${f}`, import.meta.url);
const bytes = (c: string, f: string) => new Uint8Array(readFileSync(file(c, f)));
const text = (c: string, f: string) => readFileSync(file(c, f), 'utf8');

async function openCase(c: string) {
  const rawConfig = JSON.parse(text(c, 'config.json'));
  const config = parseQwen2Config(rawConfig);
  const weights = await SafetensorsFile.open(bytes(c, 'model.safetensors'));
  const expected = await SafetensorsFile.open(bytes(c, 'expected.safetensors'));
  const initial = await importPeftAdapter(
    text(c, 'adapter_config.json'),
    bytes(c, 'adapter_model.safetensors'),
    config,
  );
  const steps = JSON.parse(text(c, 'case.json')).optimizer_steps as number;
  // The adapter after the last step: what PyTorch merged into merged.* in expected.safetensors.
  const tensors: Record<string, Float32Array> = {};
  for (const name of Object.keys(initial.tensors))
    tensors[name] = (await expected.read(`step${steps}.${name}`)) as Float32Array;
  return { rawConfig, config, weights, expected, settings: initial.settings, tensors };
}

/** Records each write, to check the file is streamed header first, tensor by tensor. */
class RecordingFolder implements FolderSink {
  inner = new BlobFolder();
  writes = new Map<string, number[]>();
  async create(name: string): Promise<ByteSink> {
    const sink = await this.inner.create(name);
    const sizes: number[] = [];
    this.writes.set(name, sizes);
    return {
      write: (c) => {
        sizes.push(c.byteLength);
        return sink.write(c);
      },
      close: () => sink.close(),
    };
  }
}

for (const c of ['tiny-f32', 'tiny-bf16-untied', 'qwen3-bf16']) {
  describe(`merged model ${c}`, () => {
    it("matches PyTorch's merged projection (F32 output); other tensors copied, or widened when stored as BF16", async () => {
      const k = await openCase(c);
      const folder = new RecordingFolder();
      await writeMergedModel(
        folder,
        {
          rawConfig: k.rawConfig,
          config: k.config,
          weights: k.weights,
          extraFiles: { 'generation_config.json': '{"eos_token_id": 301}' },
        },
        k,
        { dtype: 'F32' },
      );
      const out = await SafetensorsFile.open(await folder.inner.bytes('model.safetensors'));
      expect(out.metadata).toEqual({ format: 'pt' });
      const name = 'model.layers.0.self_attn.q_proj.weight';
      const got = (await out.read(name)) as Float32Array;
      const want = (await k.expected.read(`merged.${name}`)) as Float32Array;
      let maxAbs = 0;
      for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
      expect(maxAbs).toBeLessThan(1e-6);
      for (const [n, info] of k.weights.tensors) {
        expect(out.tensors.get(n)!.shape).toEqual(info.shape);
        if (/_proj\.weight$/.test(n)) continue;
        expect(out.tensors.get(n)!.dtype).toBe('F32');
        if (info.dtype === 'F32') expect(await out.readBytes(n)).toEqual(await k.weights.readBytes(n));
        else expect(await out.read(n)).toEqual(widen((await k.weights.read(n)) as Uint16Array, 'bf16')); // exact: bf16 -> f32
      }
      // streamed: the header alone first, then one write per tensor
      const sizes = folder.writes.get('model.safetensors')!;
      expect(sizes.length).toBe(1 + k.weights.tensors.size);
      expect(sizes[0]).toBe(Math.min(...[...out.tensors.values()].map((t) => t.start))); // 8-byte length + JSON header
      expect(Math.max(...sizes.slice(1))).toBe(Math.max(...[...out.tensors.values()].map((t) => t.end - t.start)));
      expect(JSON.parse(await folder.inner.text('config.json'))).toEqual({ ...k.rawConfig, torch_dtype: 'float32' });
      expect(await folder.inner.text('generation_config.json')).toBe('{"eos_token_id": 301}');
      expect(folder.inner.files.has('tokenizer.json')).toBe(false);
    });

    it('rounds the merged projections to BF16 by default', async () => {
      const k = await openCase(c);
      const folder = new BlobFolder();
      await writeMergedModel(folder, { rawConfig: k.rawConfig, config: k.config, weights: k.weights }, k);
      const out = await SafetensorsFile.open(await folder.bytes('model.safetensors'));
      const name = 'model.layers.0.self_attn.q_proj.weight';
      expect(out.tensors.get(name)!.dtype).toBe('BF16');
      const got = (await out.read(name)) as Uint16Array;
      const want = (await k.expected.read(`merged.${name}`)) as Float32Array;
      for (let i = 0; i < want.length; i++) {
        // within half a bf16 step of the float64 value (plus f32 noise that can flip a tie)
        const ulp = Math.abs(bf16ToF32(f32ToBf16(want[i]) + 1) - bf16ToF32(f32ToBf16(want[i])));
        expect(Math.abs(bf16ToF32(got[i]) - want[i])).toBeLessThanOrEqual(ulp / 2 + 1e-7);
      }
      expect(JSON.parse(await folder.text('config.json')).torch_dtype).toBe('bfloat16');
    });
  });
}

async function logitsOf(
  config: ReturnType<typeof parseQwen2Config>,
  weights: TensorSource,
  lora: LoraSettings,
  adapter: Record<string, Float32Array> | null,
  mb: MicroBatch,
) {
  const engine = await createEngine('cpu', { scalar: true });
  try {
    const dtype = validateWeights(config, weights);
    await engine.load(
      config,
      { dtype, read: async (n) => (await weights.read(n)) as Float32Array | Uint16Array },
      { maxBatch: mb.B, maxSeq: mb.T, lora },
    );
    if (adapter) await engine.setLora(adapter);
    else await engine.initLora(1); // B = 0: the adapter adds nothing
    return (await engine.forward(mb, true)).logits!;
  } finally {
    await engine.dispose();
  }
}

describe('merged model logits', () => {
  it.each(['tiny-f32', 'qwen3-bf16'])('equal base + adapter within f32 rounding (%s)', async (c) => {
    const k = await openCase(c);
    const batches = await SafetensorsFile.open(bytes(c, 'batches.safetensors'));
    const [B, T] = batches.info('micro0.input_ids').shape;
    const mb: MicroBatch = {
      B,
      T,
      inputIds: (await batches.read('micro0.input_ids')) as Int32Array,
      attentionMask: (await batches.read('micro0.attention_mask')) as Int32Array,
      labels: (await batches.read('micro0.labels')) as Int32Array,
    };
    const folder = new BlobFolder();
    await writeMergedModel(folder, { rawConfig: k.rawConfig, config: k.config, weights: k.weights }, k, {
      dtype: 'F32',
    });
    const merged = await SafetensorsFile.open(await folder.bytes('model.safetensors'));
    const withAdapter = await logitsOf(k.config, k.weights, k.settings, k.tensors, mb);
    const fromMerged = await logitsOf(k.config, merged, k.settings, null, mb);
    const V = k.config.vocabSize;
    let maxAbs = 0,
      maxRef = 0;
    for (let i = 0; i < withAdapter.length; i++) {
      if (!mb.attentionMask[Math.floor(i / V)]) continue;
      maxAbs = Math.max(maxAbs, Math.abs(withAdapter[i] - fromMerged[i]));
      maxRef = Math.max(maxRef, Math.abs(withAdapter[i]));
    }
    expect(maxRef).toBeGreaterThan(0.1);
    expect(maxAbs).toBeLessThan(1e-4); // the golden README's f32 logits bound
  });

  it('refuses an adapter that does not fit the base before writing anything', async () => {
    const k = await openCase('tiny-f32');
    const folder = new BlobFolder();
    const name = 'base_model.model.model.layers.1.mlp.up_proj.lora_B.weight';
    await expect(
      writeMergedModel(
        folder,
        { rawConfig: k.rawConfig, config: k.config, weights: k.weights },
        { settings: k.settings, tensors: { ...k.tensors, [name]: new Float32Array(3) } },
      ),
    ).rejects.toThrow(/layers\.1\.mlp\.up_proj\.lora_B\.weight: has 3 values/);
    expect(folder.files.size).toBe(0);
  });
});

describe('BlobFolder', () => {
  it('keeps what was written even when the caller reuses its buffer', async () => {
    const folder = new BlobFolder();
    const sink = await folder.create('f.bin');
    const buf = Uint8Array.of(1, 2, 3);
    await sink.write(buf);
    buf.fill(9);
    await sink.write(buf.subarray(0, 2));
    await sink.close();
    expect([...(await folder.bytes('f.bin'))]).toEqual([1, 2, 3, 9, 9]);
  });
});
