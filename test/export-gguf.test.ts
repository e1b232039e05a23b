// Oracles: bytes laid out by hand from the GGUF v3 spec (llama.cpp docs/gguf.md), the files
// parsed back by @huggingface/gguf, and the golden PEFT adapter's tensors for the data.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseQwen2Config } from '../src/core/config.ts';
import { importPeftAdapter } from '../src/export/peft-import.ts';
import { GgufType, writeLoraGguf } from '../src/export/gguf.ts';
import { parseGguf } from './helpers/gguf.ts';
import { BlobFolder } from '../src/export/sink.ts';

const dir = new URL('./fixtures/golden/tiny-bf16-untied/', import.meta.url);
const cfg = parseQwen2Config(readFileSync(new URL('config.json', dir), 'utf8'));

async function goldenAdapter() {
  return importPeftAdapter(
    readFileSync(new URL('adapter_config.json', dir), 'utf8'),
    new Uint8Array(readFileSync(new URL('adapter_model.safetensors', dir))),
    cfg,
  );
}

async function writeToBytes(rslora = false): Promise<Uint8Array> {
  const a = await goldenAdapter();
  const folder = new BlobFolder();
  await writeLoraGguf(await folder.create('a.gguf'), cfg, { ...a.settings, rslora }, a.tensors);
  return folder.bytes('a.gguf');
}

describe('GGUF LoRA adapter', () => {
  it('starts with the v3 header llama.cpp expects', async () => {
    const b = await writeToBytes();
    const d = new DataView(b.buffer, b.byteOffset);
    expect(new TextDecoder().decode(b.subarray(0, 4))).toBe('GGUF');
    expect(d.getUint32(4, true)).toBe(3);
    expect(d.getBigUint64(8, true)).toBe(BigInt(3 * 7 * 2)); // 3 layers x 7 projections x (a, b)
    expect(d.getBigUint64(16, true)).toBe(8n);
    // first key: u64 length, "general.architecture", type STRING (8), u64 length, "qwen2"
    expect(d.getBigUint64(24, true)).toBe(20n);
    expect(new TextDecoder().decode(b.subarray(32, 52))).toBe('general.architecture');
    expect(d.getUint32(52, true)).toBe(8);
    expect(d.getBigUint64(56, true)).toBe(5n);
    expect(new TextDecoder().decode(b.subarray(64, 69))).toBe('qwen2');
  });

  it('parses back with the adapter metadata and every tensor in ggml order', async () => {
    const a = await goldenAdapter();
    const g = await parseGguf(await writeToBytes());
    expect(g.version).toBe(3);
    expect(g.metadata.get('general.architecture')).toBe('qwen2');
    expect(g.metadata.get('general.type')).toBe('adapter');
    expect(g.metadata.get('adapter.type')).toBe('lora');
    expect(g.types.get('adapter.lora.alpha')).toBe(GgufType.FLOAT32);
    expect(g.metadata.get('adapter.lora.alpha')).toBe(a.settings.alpha);
    expect(g.metadata.get('general.alignment')).toBe(32);
    expect(g.types.get('general.alignment')).toBe(GgufType.UINT32);
    expect(g.tensors.size).toBe(42);
    const r = a.settings.r; // 8; hidden 96, intermediate 224, kv 2 heads x 16
    const expectDims: Record<string, [number, number]> = {
      attn_q: [96, 96],
      attn_k: [32, 96],
      attn_v: [32, 96],
      attn_output: [96, 96],
      ffn_gate: [224, 96],
      ffn_up: [224, 96],
      ffn_down: [96, 224],
    };
    const peft: Record<string, string> = {
      attn_q: 'self_attn.q_proj',
      attn_k: 'self_attn.k_proj',
      attn_v: 'self_attn.v_proj',
      attn_output: 'self_attn.o_proj',
      ffn_gate: 'mlp.gate_proj',
      ffn_up: 'mlp.up_proj',
      ffn_down: 'mlp.down_proj',
    };
    for (let l = 0; l < 3; l++) {
      for (const [proj, [out, inp]] of Object.entries(expectDims)) {
        const ta = g.tensors.get(`blk.${l}.${proj}.weight.lora_a`)!;
        const tb = g.tensors.get(`blk.${l}.${proj}.weight.lora_b`)!;
        expect(ta.dims).toEqual([inp, r]); // PyTorch [r, in] reversed
        expect(tb.dims).toEqual([r, out]); // PyTorch [out, r] reversed
        expect(ta.type).toBe(0);
        expect((ta.start - g.dataStart) % 32).toBe(0);
        expect((tb.start - g.dataStart) % 32).toBe(0);
        expect(g.read(ta.name)).toEqual(a.tensors[`base_model.model.model.layers.${l}.${peft[proj]}.lora_A.weight`]);
        expect(g.read(tb.name)).toEqual(a.tensors[`base_model.model.model.layers.${l}.${peft[proj]}.lora_B.weight`]);
      }
    }
  });

  it('stores alpha * sqrt(r) for rsLoRA so llama.cpp applies alpha / sqrt(r)', async () => {
    const g = await parseGguf(await writeToBytes(true));
    // r = 8, alpha = 32: alpha / sqrt(8) = 11.3137 = stored / 8 -> stored = 90.5097 (as f32)
    expect(g.metadata.get('adapter.lora.alpha')).toBeCloseTo(32 * Math.sqrt(8), 4);
  });

  it('a Qwen3 adapter is architecture "qwen3" with llama.cpp\'s names and the non-square q/o shapes', async () => {
    const q3dir = new URL('./fixtures/golden/qwen3-bf16/', import.meta.url);
    const q3 = parseQwen2Config(readFileSync(new URL('config.json', q3dir), 'utf8'));
    const a = await importPeftAdapter(
      readFileSync(new URL('adapter_config.json', q3dir), 'utf8'),
      new Uint8Array(readFileSync(new URL('adapter_model.safetensors', q3dir))),
      q3,
    );
    const folder = new BlobFolder();
    await writeLoraGguf(await folder.create('q3.gguf'), q3, a.settings, a.tensors);
    const g = await parseGguf(await folder.bytes('q3.gguf'));
    expect(g.metadata.get('general.architecture')).toBe('qwen3');
    expect(g.tensors.size).toBe(2 * 7 * 2);
    // hidden 64, 4 heads x head_dim 32 = 128: q_proj [128, 64], o_proj [64, 128]; r = 4
    expect(g.tensors.get('blk.1.attn_q.weight.lora_b')!.dims).toEqual([4, 128]);
    expect(g.tensors.get('blk.1.attn_output.weight.lora_a')!.dims).toEqual([128, 4]);
    expect(g.read('blk.0.attn_output.weight.lora_a')).toEqual(
      a.tensors['base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight'],
    );
  });

  it('the parser reads a file laid out by hand, with an array and padding', async () => {
    const parts: number[] = [];
    const u32 = (v: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v, true);
      parts.push(...b);
    };
    const u64 = (v: number) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
      parts.push(...b);
    };
    const str = (s: string) => {
      const b = new TextEncoder().encode(s);
      u64(b.length);
      parts.push(...b);
    };
    u32(0x46554747);
    u32(3);
    u64(1);
    u64(2);
    str('general.alignment');
    u32(4);
    u32(64);
    str('x.list');
    u32(9);
    u32(5);
    u64(2);
    u32(-7 >>> 0);
    u32(9);
    str('t');
    u32(2);
    u64(3);
    u64(2);
    u32(0);
    u64(0);
    while (parts.length % 64) parts.push(0);
    const start = parts.length;
    for (const v of [1, 2, 3, 4, 5, 6]) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setFloat32(0, v, true);
      parts.push(...b);
    }
    const g = await parseGguf(new Uint8Array(parts));
    expect(g.metadata.get('general.alignment')).toBe(64);
    expect(g.dataStart).toBe(start);
    expect(g.metadata.get('x.list')).toEqual([-7, 9]);
    expect(g.tensors.get('t')!.dims).toEqual([3, 2]);
    expect([...g.read('t')]).toEqual([1, 2, 3, 4, 5, 6]);
    await expect(parseGguf(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).rejects.toThrow(/not a valid gguf file/i);
  });
});
