// Oracle: the golden adapters, written by PyTorch + PEFT's layout (test/fixtures/golden/*).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseQwen2Config } from '../src/core/config.ts';
import { AdapterError } from '../src/core/errors.ts';
import { concatParts, encodeSafetensors, SafetensorsFile } from '../src/core/safetensors.ts';
import { narrow } from '../src/core/dtype.ts';
import { adapterConfig, encodeAdapterWeights, writePeftAdapter } from '../src/export/peft.ts';
import { importPeftAdapter, parseAdapterConfig, pickAdapterFiles } from '../src/export/peft-import.ts';
import { BlobFolder } from '../src/export/sink.ts';

const dir = (c: string) => new URL(`./fixtures/golden/${c}/`, import.meta.url);
const read = (c: string, f: string) => new Uint8Array(readFileSync(new URL(f, dir(c))));
const text = (c: string, f: string) => readFileSync(new URL(f, dir(c)), 'utf8');

async function goldenTensors(c: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const f = await SafetensorsFile.open(read(c, 'adapter_model.safetensors'));
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, info] of f.tensors) m.set(name, { shape: info.shape, data: (await f.read(name)) as Float32Array });
  return m;
}

for (const c of ['tiny-f32', 'tiny-bf16-untied']) {
  describe(`PEFT adapter ${c}`, () => {
    const cfg = parseQwen2Config(text(c, 'config.json'));
    const golden = JSON.parse(text(c, 'adapter_config.json'));

    it('imports the PEFT-written adapter with its settings and every tensor', async () => {
      const a = await importPeftAdapter(text(c, 'adapter_config.json'), read(c, 'adapter_model.safetensors'), cfg);
      expect(a.settings).toEqual({
        r: golden.r,
        alpha: golden.lora_alpha,
        dropout: golden.lora_dropout,
        targets: golden.target_modules,
        rslora: false,
      });
      const g = await goldenTensors(c);
      expect(Object.keys(a.tensors).sort()).toEqual([...g.keys()].sort());
      for (const [name, t] of g) expect(a.tensors[name]).toEqual(t.data);
    });

    it('exports the same layout PEFT writes, and reads back bit-identical', async () => {
      const a = await importPeftAdapter(text(c, 'adapter_config.json'), read(c, 'adapter_model.safetensors'), cfg);
      const folder = new BlobFolder();
      await writePeftAdapter(folder, cfg, a.settings, a.tensors, golden.base_model_name_or_path);
      const out = await SafetensorsFile.open(await folder.bytes('adapter_model.safetensors'));
      const g = await goldenTensors(c);
      expect(out.metadata).toEqual({ format: 'pt' });
      expect([...out.tensors.keys()].sort()).toEqual([...g.keys()].sort());
      for (const [name, t] of g) {
        expect(out.tensors.get(name)!.dtype).toBe('F32');
        expect(out.tensors.get(name)!.shape).toEqual(t.shape);
        expect(await out.read(name)).toEqual(t.data);
      }
      const conf = JSON.parse(await folder.text('adapter_config.json'));
      for (const k of Object.keys(golden)) expect(conf[k], k).toEqual(golden[k]);
      // The keys PEFT adds when it saves (present in every PEFT >= 0.10 adapter_config.json).
      expect(conf).toMatchObject({
        inference_mode: true,
        init_lora_weights: true,
        layers_to_transform: null,
        modules_to_save: null,
        revision: null,
        use_dora: false,
      });
      const back = await importPeftAdapter(
        await folder.text('adapter_config.json'),
        await folder.bytes('adapter_model.safetensors'),
        cfg,
      );
      expect(back.tensors).toEqual(a.tensors);
      expect(back.baseModel).toBe(golden.base_model_name_or_path);
    });
  });
}

describe('PEFT import: other spellings and refusals', () => {
  const c = 'tiny-f32';
  const cfg = parseQwen2Config(text(c, 'config.json'));
  const conf = text(c, 'adapter_config.json');

  async function renamed(rename: (n: string) => string, convert?: 'BF16'): Promise<Uint8Array> {
    const g = await goldenTensors(c);
    const ts = [...g].map(([name, t]) => ({
      name: rename(name),
      dtype: (convert ?? 'F32') as 'F32' | 'BF16',
      shape: t.shape,
      data: convert ? narrow(t.data, 'bf16') : t.data,
    }));
    return concatParts(encodeSafetensors(ts));
  }

  it('accepts names without base_model.model. and with .default', async () => {
    const ref = await importPeftAdapter(conf, read(c, 'adapter_model.safetensors'), cfg);
    const a = await importPeftAdapter(conf, await renamed((n) => n.replace('base_model.model.', '')), cfg);
    const b = await importPeftAdapter(conf, await renamed((n) => n.replace('.weight', '.default.weight')), cfg);
    expect(a.tensors).toEqual(ref.tensors);
    expect(b.tensors).toEqual(ref.tensors);
  });

  it('widens BF16 adapters', async () => {
    const ref = await importPeftAdapter(conf, read(c, 'adapter_model.safetensors'), cfg);
    const a = await importPeftAdapter(conf, await renamed((n) => n, 'BF16'), cfg);
    const name = 'base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight';
    for (let i = 0; i < ref.tensors[name].length; i++)
      expect(Math.abs(a.tensors[name][i] - ref.tensors[name][i])).toBeLessThanOrEqual(
        Math.abs(ref.tensors[name][i]) * 2 ** -8,
      );
  });

  it('refuses an adapter for another base shape, naming the tensor', async () => {
    const other = parseQwen2Config({ ...JSON.parse(text(c, 'config.json')), hidden_size: 96, num_attention_heads: 6 });
    await expect(importPeftAdapter(conf, read(c, 'adapter_model.safetensors'), other)).rejects.toThrow(
      /tensor "base_model\.model\.model\.layers\.0\.mlp\.down_proj\.lora_B\.weight" has shape \[64,4\].*\[96,4\]/,
    );
  });

  it('refuses unsupported target modules by name', () => {
    const withEmbed = JSON.stringify({ ...JSON.parse(conf), target_modules: ['q_proj', 'embed_tokens'] });
    expect(() => parseAdapterConfig(withEmbed, cfg)).toThrow(AdapterError);
    expect(() => parseAdapterConfig(withEmbed, cfg)).toThrow(/target module "embed_tokens" is not supported/);
    const regex = JSON.stringify({ ...JSON.parse(conf), target_modules: '.*(proj|lm_head)' });
    expect(() => parseAdapterConfig(regex, cfg)).toThrow(/matches unsupported module lm_head/);
    const regexOk = JSON.stringify({ ...JSON.parse(conf), target_modules: '.*\\.(q_proj|v_proj)' });
    expect(parseAdapterConfig(regexOk, cfg).settings.targets).toEqual(['q_proj', 'v_proj']);
    expect(
      parseAdapterConfig(JSON.stringify({ ...JSON.parse(conf), target_modules: 'all-linear' }), cfg).settings.targets,
    ).toHaveLength(7);
  });

  it('refuses lm_head / embedding tensors and options it cannot reproduce', async () => {
    const extra = concatParts(
      encodeSafetensors([
        { name: 'base_model.model.lm_head.lora_A.weight', dtype: 'F32', shape: [4, 64], data: new Float32Array(256) },
      ]),
    );
    await expect(importPeftAdapter(conf, extra, cfg)).rejects.toThrow(
      /"base_model\.model\.lm_head\.lora_A\.weight" targets the embeddings or lm_head/,
    );
    const c2 = (patch: object) => JSON.stringify({ ...JSON.parse(conf), ...patch });
    expect(() => parseAdapterConfig(c2({ use_dora: true }), cfg)).toThrow(/use_dora/);
    expect(() => parseAdapterConfig(c2({ modules_to_save: ['lm_head'] }), cfg)).toThrow(/modules_to_save/);
    expect(() => parseAdapterConfig(c2({ bias: 'all' }), cfg)).toThrow(/bias/);
    expect(() => parseAdapterConfig(c2({ peft_type: 'IA3' }), cfg)).toThrow(/peft_type/);
    expect(() => parseAdapterConfig('{"peft_type": "LORA", r: 4}', cfg)).toThrow(/not valid JSON/);
  });

  it('refuses a missing tensor, naming it', async () => {
    const g = await goldenTensors(c);
    const ts = [...g]
      .filter(([n]) => !n.includes('layers.1.mlp.up_proj.lora_B'))
      .map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.data }));
    await expect(importPeftAdapter(conf, concatParts(encodeSafetensors(ts)), cfg)).rejects.toThrow(
      /"base_model\.model\.model\.layers\.1\.mlp\.up_proj\.lora_B\.weight" is missing/,
    );
  });

  it('picks the safetensors file and refuses a pickle with a way out', () => {
    expect(pickAdapterFiles(['x/adapter_config.json', 'x/adapter_model.safetensors', 'x/README.md'])).toEqual({
      config: 'x/adapter_config.json',
      weights: 'x/adapter_model.safetensors',
    });
    expect(() => pickAdapterFiles(['adapter_config.json', 'adapter_model.bin'])).toThrow(
      /adapter_model\.bin is a PyTorch pickle.*safe_serialization=True/,
    );
    expect(() => pickAdapterFiles(['adapter_model.safetensors'])).toThrow(/no adapter_config\.json/);
  });

  it('writes the config keys PEFT reads, with our hyperparameters', () => {
    const conf2 = adapterConfig(
      { r: 8, alpha: 32, dropout: 0.1, targets: ['v_proj', 'q_proj'], rslora: true },
      'Qwen/Qwen2.5-0.5B-Instruct',
    );
    expect(conf2).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 8,
      lora_alpha: 32,
      lora_dropout: 0.1,
      target_modules: ['q_proj', 'v_proj'],
      bias: 'none',
      fan_in_fan_out: false,
      use_rslora: true,
      base_model_name_or_path: 'Qwen/Qwen2.5-0.5B-Instruct',
    });
    expect(() =>
      encodeAdapterWeights(cfg, { r: 4, alpha: 16, dropout: 0, targets: ['q_proj'], rslora: false }, {}),
    ).toThrow(/layers\.0\.self_attn\.q_proj\.lora_A\.weight: missing/);
  });
});
