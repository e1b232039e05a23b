// Generated model folders must load through the same code paths as a downloaded Qwen2 folder:
// config.ts, safetensors.ts + validateWeights, and the tokenizer with its chat template.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, truncate } from 'node:fs/promises';
import { openAsBlob } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { PRESETS } from '../scripts/tiny/presets.ts';
import { parseQwen2Config, validateWeights, paramCount, type Qwen2Config } from '../src/core/config.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { bf16ToF32 } from '../src/core/dtype.ts';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import { QWEN2_CHAT_TEMPLATE } from '../src/tokenizer/qwen2-template.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'webtune-tiny-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function load(
  dir: string,
): Promise<{ raw: Record<string, any>; cfg: Qwen2Config; st: SafetensorsFile; tok: ChatTokenizer }> {
  const raw = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  const st = await SafetensorsFile.open(await openAsBlob(join(dir, 'model.safetensors')), 'model.safetensors');
  const tok = ChatTokenizer.fromJson(
    await readFile(join(dir, 'tokenizer.json'), 'utf8'),
    await readFile(join(dir, 'tokenizer_config.json'), 'utf8'),
  );
  return { raw, cfg: parseQwen2Config(raw), st, tok };
}

describe('tiny preset', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'tiny');
    const made = await makeTinyModel({ preset: 'tiny', out: dir, seed: 7 });
    expect(made.written).toBe(true);
  });

  it('parses as a Qwen2 model with BF16 weights of the right shapes', async () => {
    const { cfg, st } = await load(dir);
    expect(cfg).toMatchObject({
      hiddenSize: 64,
      intermediateSize: 176,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      vocabSize: 8192,
      tieWordEmbeddings: true,
      ropeTheta: 1e6,
      rmsNormEps: 1e-6,
    });
    expect(validateWeights(cfg, st)).toBe('bf16');
    expect([...st.tensors.values()].every((t) => t.dtype === 'BF16')).toBe(true);
    expect(st.metadata).toMatchObject({ format: 'pt', webtune_preset: 'tiny', webtune_seed: '7' });
  });

  it('initialises norms to 1 and weights as N(0, 0.02)', async () => {
    const { st } = await load(dir);
    const norm = (await st.read('model.layers.1.post_attention_layernorm.weight')) as Uint16Array;
    expect(Array.from(norm).every((h) => h === 0x3f80)).toBe(true);
    const emb = Array.from((await st.read('model.embed_tokens.weight')) as Uint16Array, bf16ToF32);
    const mean = emb.reduce((a, b) => a + b, 0) / emb.length;
    const std = Math.sqrt(emb.reduce((a, b) => a + (b - mean) ** 2, 0) / emb.length);
    // 524,288 samples: the standard error of the std estimate is ~2e-5.
    expect(Math.abs(mean)).toBeLessThan(2e-4);
    expect(std).toBeGreaterThan(0.0197);
    expect(std).toBeLessThan(0.0203);
  });

  it('carries a tokenizer whose special ids agree with config, tokenizer_config and generation_config', async () => {
    const { raw, tok } = await load(dir);
    const tcfg = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
    const gen = JSON.parse(await readFile(join(dir, 'generation_config.json'), 'utf8'));
    expect(tok.imEndId).toBe(raw.eos_token_id);
    expect(tok.endOfTextId).toBe(raw.bos_token_id);
    expect(gen.eos_token_id).toEqual([tok.imEndId, tok.endOfTextId]);
    expect(gen.pad_token_id).toBe(tok.endOfTextId);
    for (const [id, t] of Object.entries(tcfg.added_tokens_decoder) as [string, { content: string }][])
      expect(tok.tokenId(t.content)).toBe(Number(id));
    expect(tcfg.eos_token).toBe('<|im_end|>');
    expect(tcfg.pad_token).toBe('<|endoftext|>');
    expect(tcfg.chat_template).toBe(QWEN2_CHAT_TEMPLATE);
    expect(tok.vocabSize).toBeLessThanOrEqual(raw.vocab_size);
  });

  it('round-trips Chinese and JSON, every id inside the embedding table', async () => {
    const { cfg, tok } = await load(dir);
    for (const s of [
      '创建汇报会会议',
      '{"tool_name":"SCHEDULE_MEETING","parameters":{"meeting_name":"周例会","time":"明天上午十点"}}',
      '会议 😀 \n\n  end',
    ]) {
      const ids = tok.encode(s);
      expect(tok.decode(ids)).toBe(s);
      expect(Math.max(...ids)).toBeLessThan(cfg.vocabSize);
    }
    const prompt = tok.renderChat(
      [
        { role: 'system', content: '现在你要扮演会议语音助手' },
        { role: 'user', content: '静音' },
      ],
      { addGenerationPrompt: true },
    );
    const ids = tok.encode(prompt);
    expect(ids[0]).toBe(tok.imStartId);
    expect(ids.filter((i) => i === tok.imEndId)).toHaveLength(2);
    expect(tok.decode(ids)).toBe(prompt);
  });

  it('is the same bytes for the same seed and different for another', async () => {
    await makeTinyModel({ preset: 'tiny', out: join(root, 'same'), seed: 7 });
    await makeTinyModel({ preset: 'tiny', out: join(root, 'other'), seed: 8 });
    const a = await readFile(join(dir, 'model.safetensors'));
    expect((await readFile(join(root, 'same', 'model.safetensors'))).equals(a)).toBe(true);
    const b = await readFile(join(root, 'other', 'model.safetensors'));
    expect(b.length).toBe(a.length);
    expect(b.equals(a)).toBe(false);
  });

  it('with ifMissing keeps a complete folder and rebuilds a truncated or differently seeded one', async () => {
    const d = join(root, 'keep');
    await makeTinyModel({ preset: 'tiny', out: d, seed: 3 });
    const before = (await stat(join(d, 'model.safetensors'))).mtimeMs;
    expect((await makeTinyModel({ preset: 'tiny', out: d, seed: 3, ifMissing: true })).written).toBe(false);
    expect((await stat(join(d, 'model.safetensors'))).mtimeMs).toBe(before);
    expect((await makeTinyModel({ preset: 'tiny', out: d, seed: 4, ifMissing: true })).written).toBe(true);
    await truncate(join(d, 'model.safetensors'), 1000);
    expect((await makeTinyModel({ preset: 'tiny', out: d, seed: 4, ifMissing: true })).written).toBe(true);
    const { cfg, st } = await load(d);
    expect(validateWeights(cfg, st)).toBe('bf16');
  });

  it('runs from the command line and refuses unknown presets', async () => {
    const run = promisify(execFile);
    const tsx = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
    const script = new URL('../scripts/make-tiny-model.ts', import.meta.url).pathname;
    const out = join(root, 'cli');
    const { stdout } = await run(tsx, [script, '--preset', 'tiny', '--out', out, '--if-missing']);
    expect(stdout).toMatch(/617,024 parameters/);
    const bad = await run(tsx, [script, '--preset', 'huge', '--out', out]).catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--preset must be one of tiny, small, mid, qwen2\.5-0\.5b/);
  });
});

describe('other presets', () => {
  it('small parses and validates', async () => {
    const d = join(root, 'small');
    await makeTinyModel({ preset: 'small', out: d });
    const { cfg, st, tok } = await load(d);
    expect(cfg).toMatchObject({
      hiddenSize: 256,
      intermediateSize: 704,
      numLayers: 4,
      numHeads: 4,
      numKvHeads: 2,
      vocabSize: 8192,
    });
    expect(validateWeights(cfg, st)).toBe('bf16');
    expect(tok.vocabSize).toBe(8192);
  });

  it('qwen2.5-0.5b has the published shape (494,032,768 parameters, counted by hand in config.test.ts)', () => {
    const p = PRESETS['qwen2.5-0.5b'];
    const cfg = parseQwen2Config({
      model_type: 'qwen2',
      hidden_size: p.hidden,
      intermediate_size: p.intermediate,
      num_hidden_layers: p.layers,
      num_attention_heads: p.heads,
      num_key_value_heads: p.kvHeads,
      vocab_size: p.vocabSize,
      tie_word_embeddings: true,
    });
    expect(paramCount(cfg)).toBe(494_032_768);
    expect(p.keepTokens).toBeNull();
  });

  it("qwen3-tiny is a Qwen3 folder: head_dim 32, q/k norms at 1, no biases, Qwen3's own chat template", async () => {
    const d = join(root, 'qwen3-tiny');
    await makeTinyModel({ preset: 'qwen3-tiny', out: d });
    const { raw, cfg, st, tok } = await load(d);
    expect(raw.architectures).toEqual(['Qwen3ForCausalLM']);
    expect(cfg).toMatchObject({
      architecture: 'qwen3',
      hiddenSize: 64,
      numHeads: 4,
      headDim: 32,
      qkNorm: true,
      attentionBias: false,
      vocabSize: 8192,
    });
    expect(validateWeights(cfg, st)).toBe('bf16');
    expect(st.info('model.layers.1.self_attn.q_proj.weight').shape).toEqual([128, 64]);
    expect(st.tensors.has('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    const qn = (await st.read('model.layers.0.self_attn.k_norm.weight')) as Uint16Array;
    expect(Array.from(qn, bf16ToF32)).toEqual(new Array(32).fill(1));
    expect(tok.chatTemplate).toContain('enable_thinking');
  });

  it("qwen3-4b-2l has Qwen3-4B-Instruct-2507's widths with 2 layers", () => {
    const p = PRESETS['qwen3-4b-2l'];
    expect(p).toMatchObject({
      arch: 'qwen3',
      hidden: 2560,
      intermediate: 9728,
      heads: 32,
      kvHeads: 8,
      headDim: 128,
      vocabSize: 151936,
      layers: 2,
    });
  });
});
