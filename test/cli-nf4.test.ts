// QLoRA from the command line: --quant nf4 on train, generate and export, and the plan command.
// Oracles: the engine loaded with quant 'nf4' and driven directly, the merge recomputed from
// the quantizer and the adapter, and the engine's own memory plan.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { catalogModel } from '../src/core/catalog.ts';
import { parseQwen2Config, projShape } from '../src/core/config.ts';
import { dequantizeNf4, quantizeNf4 } from '../src/core/nf4.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { importDataset } from '../src/data/dataset.ts';
import { toTrainExamples } from '../src/data/examples.ts';
import { createEngine } from '../src/engine/create.ts';
import { loraScale, peftName } from '../src/engine/engine.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';
import { planMemory } from '../src/engine/plan.ts';
import { mergeProjection } from '../src/export/merged.ts';
import { main } from '../src/cli/main.ts';
import { epochOrder, makeMicroBatch } from '../src/train/trainer.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder, weightReader } from '../src/cli/model-folder.ts';

class Capture {
  text = '';
  write(s: string) {
    this.text += s;
    return true;
  }
}

async function cli(...argv: string[]) {
  const stdout = new Capture(),
    stderr = new Capture();
  const code = await main(argv, { stdout, stderr });
  const lines = stdout.text.trim().split('\n');
  return { code, out: stdout.text, err: stderr.text, json: () => JSON.parse(lines[lines.length - 1]) };
}

let tmp: string, modelDir: string;
const evalFile = new URL('../public/samples/meeting-eval.json', import.meta.url).pathname;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-nf4-'));
  modelDir = join(tmp, 'model');
  await makeTinyModel({ preset: 'tiny', out: modelDir, seed: 5 });
  writeFileSync(join(tmp, 'six.json'), JSON.stringify(JSON.parse(readFileSync(evalFile, 'utf8')).slice(0, 6)));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('--quant nf4', () => {
  it("train runs on the NF4 base (its first loss is the NF4 engine's, not the 16-bit one) and writes an ordinary PEFT adapter", async () => {
    const r = await cli(
      'train',
      '--model',
      modelDir,
      '--data',
      join(tmp, 'six.json'),
      '--out',
      join(tmp, 'adapter'),
      '--quant',
      'nf4',
      '--batch',
      '3',
      '--accum',
      '1',
      '--epochs',
      '1',
      '--lr',
      '0.01',
      '--dropout',
      '0',
      '--quiet',
    );
    expect(r.err).not.toMatch(/error/);
    expect(r.json()).toMatchObject({ command: 'train', quant: 'nf4', steps: 2 });
    const model = await openModelFolder(modelDir);
    const tok = await folderTokenizer(model);
    const examples = toTrainExamples(tok, importDataset(readFileSync(join(tmp, 'six.json'), 'utf8')).rows);
    const first = makeMicroBatch(
      epochOrder(6, 42, 0)
        .slice(0, 3)
        .map((i) => examples[i]),
      tok.endOfTextId,
    );
    const loss = async (quant: 'none' | 'nf4') => {
      const engine = await createEngine('cpu');
      await engine.load(model.config, weightReader(model), {
        maxBatch: 3,
        maxSeq: first.T,
        lora: { ...DEFAULT_LORA, dropout: 0 },
        quant,
      });
      await engine.initLora(42);
      const l = (await engine.forward(first, false)).loss;
      await engine.dispose();
      return l;
    };
    const [nf4, full] = [await loss('nf4'), await loss('none')];
    expect(r.json().first_loss).toBeCloseTo(nf4, 5);
    expect(Math.abs(nf4 - full)).toBeGreaterThan(1e-4);
    const conf = JSON.parse(readFileSync(join(tmp, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(conf).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 32 });
    expect(JSON.stringify(conf)).not.toMatch(/nf4|quant/i);
  });

  it('generate and eval take it too', async () => {
    const g = await cli(
      'generate',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--prompt',
      '静音',
      '--max-new-tokens',
      '3',
      '--quant',
      'nf4',
    );
    expect(g.code).toBe(0);
    const e = await cli(
      'eval',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--data',
      join(tmp, 'six.json'),
      '--limit',
      '2',
      '--max-new-tokens',
      '3',
      '--quant',
      'nf4',
      '--quiet',
    );
    expect(e.json()).toMatchObject({ rows: 2 });
  });

  it('export --format merged merges into the dequantized projections, as the NF4 engine computes them', async () => {
    const r = await cli(
      'export',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--format',
      'merged',
      '--out',
      join(tmp, 'merged'),
      '--dtype',
      'f32',
      '--quant',
      'nf4',
      '--quiet',
    );
    expect(r.json()).toMatchObject({ command: 'export', format: 'merged', quant: 'nf4' });
    const model = await openModelFolder(modelDir);
    const adapter = await openAdapterFolder(join(tmp, 'adapter'), model.config);
    const merged = await SafetensorsFile.open(new Uint8Array(readFileSync(join(tmp, 'merged', 'model.safetensors'))));
    const engine = await createEngine('cpu');
    await engine.load(model.config, weightReader(model), {
      maxBatch: 1,
      maxSeq: 8,
      lora: adapter.settings,
      quant: 'nf4',
    });
    await engine.setLora(adapter.tensors);
    for (const name of ['model.layers.0.self_attn.k_proj.weight', 'model.layers.1.mlp.down_proj.weight']) {
      const got = (await merged.read(name)) as Float32Array;
      // the engine's merge kernel over its NF4 weight
      const viaEngine = await engine.merged(name);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - viaEngine[i]));
      expect(worst, name).toBeLessThan(1e-6);
      // and from the quantizer: dequant(quant(W)) + s * B @ A
      const target = name.includes('k_proj') ? 'k_proj' : 'down_proj';
      const layer = Number(/layers\.(\d+)/.exec(name)![1]);
      const [O, In] = projShape(model.config, target);
      const w = (await model.weights.read(name)) as Uint16Array;
      const deq = dequantizeNf4(quantizeNf4(w, 'bf16'), 0, w.length, new Float32Array(w.length));
      const want = mergeProjection(
        deq,
        adapter.tensors[peftName(layer, target, 'A')],
        adapter.tensors[peftName(layer, target, 'B')],
        O,
        In,
        adapter.settings.r,
        loraScale(adapter.settings),
      );
      expect(got).toEqual(want);
    }
    await engine.dispose();
    // embeddings are not quantized: copied (widened to f32) as stored
    const emb = (await merged.read('model.embed_tokens.weight')) as Float32Array;
    const raw = (await model.weights.read('model.embed_tokens.weight')) as Uint16Array;
    expect(emb[5]).toBe(new Float32Array(new Uint32Array([raw[5] << 16]).buffer)[0]);
  });
});

describe('plan', () => {
  const qwen05 = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_act: 'silu',
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    vocab_size: 151936,
    rope_theta: 1000000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
    torch_dtype: 'bfloat16',
    max_position_embeddings: 32768,
  };

  it("prints the engine's plan as a table, then JSON with total_bytes; Qwen2.5-0.5B at batch 4 x 384 with NF4 on WebGPU fits 1 GiB", async () => {
    const path = join(tmp, 'config.json');
    writeFileSync(path, JSON.stringify(qwen05));
    const lora = { ...DEFAULT_LORA };
    for (const quant of ['none', 'nf4'] as const) {
      const r = await cli(
        'plan',
        '--model',
        path,
        '--batch',
        '4',
        '--seq',
        '384',
        '--quant',
        quant,
        '--engine',
        'webgpu',
      );
      expect(r.code).toBe(0);
      const j = r.json();
      const want = planMemory('webgpu', parseQwen2Config(qwen05), { maxBatch: 4, maxSeq: 384, lora, quant }, 'bf16');
      expect(j).toMatchObject({
        command: 'plan',
        engine: 'webgpu',
        quant,
        dtype: 'bf16',
        dtype_from: 'torch_dtype',
        total_bytes: want.total,
        parts: want.parts,
      });
      expect(r.out).toMatch(new RegExp(`^total\\s+${(want.total / 2 ** 20).toFixed(1)}\\s+${want.total}$`, 'm'));
      for (const [part, bytes] of Object.entries(want.parts))
        expect(r.out).toMatch(new RegExp(`^${part}\\s+[\\d.]+\\s+${bytes}$`, 'm'));
      if (quant === 'nf4') expect(j.total_bytes).toBeLessThanOrEqual(2 ** 30);
      else expect(j.total_bytes).toBeGreaterThan(2 ** 30);
    }
  });

  it('Qwen3-4B-Instruct-2507 (its published config.json, from the catalog) at batch 1 x 384 with NF4 on WebGPU fits 4 GiB, and 16-bit does not', async () => {
    const model = catalogModel('Qwen/Qwen3-4B-Instruct-2507')!;
    const path = join(tmp, 'qwen3-4b-config.json');
    writeFileSync(path, JSON.stringify(model.config));
    const totals: Record<string, number> = {};
    for (const quant of ['none', 'nf4'] as const) {
      const r = await cli(
        'plan',
        '--model',
        path,
        '--batch',
        '1',
        '--seq',
        '384',
        '--quant',
        quant,
        '--engine',
        'webgpu',
      );
      expect(r.code).toBe(0);
      const j = r.json();
      expect(j).toMatchObject({
        command: 'plan',
        engine: 'webgpu',
        quant,
        dtype: 'bf16',
        batch: 1,
        seq: 384,
        recompute: true,
      });
      expect(j.total_bytes).toBe(Object.values(j.parts as Record<string, number>).reduce((a, b) => a + b, 0));
      totals[quant] = j.total_bytes;
    }
    expect(totals.nf4).toBeLessThanOrEqual(4 * 2 ** 30);
    expect(totals.none).toBeGreaterThan(4 * 2 ** 30);
  });

  it("reads the dtype from a folder's weights, and plans the CPU engine's kept activations", async () => {
    const r = await cli(
      'plan',
      '--model',
      modelDir,
      '--batch',
      '2',
      '--seq',
      '32',
      '--engine',
      'cpu',
      '--quant',
      'nf4',
    );
    expect(r.json()).toMatchObject({ dtype: 'bf16', dtype_from: 'weights', engine: 'cpu', recompute: false });
    expect(r.json().parts.savedActivations).toBeGreaterThan(0);
    const bad = await cli('plan', '--model', join(tmp, 'nowhere'), '--batch', '1', '--seq', '8');
    expect(bad.code).toBe(3);
    expect(bad.err).toMatch(/nowhere: not found/);
    expect((await cli('plan', '--model', modelDir, '--batch', '0', '--seq', '8')).err).toMatch(
      /--batch must be at least 1/,
    );
  });
});
