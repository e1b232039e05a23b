// The CLI commands, called in-process through main() with captured streams (one spawn checks
// the `npx tsx src/cli/main.ts` entry). Oracles: the engine and tokenizer driven directly, the
// exported files parsed back, and hand-written bad data with known problems.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { strFromU8, unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { SafetensorsFile } from '../src/core/safetensors.ts';
import { widen } from '../src/core/dtype.ts';
import { importDataset } from '../src/data/dataset.ts';
import { encodePrompt, toTrainExamples } from '../src/data/examples.ts';
import { createEngine } from '../src/engine/create.ts';
import { GREEDY } from '../src/engine/engine.ts';
import { parseGguf } from './helpers/gguf.ts';
import { cli } from './helpers/cli.ts';
import { epochOrder, makeMicroBatch } from '../src/train/trainer.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder, weightReader } from '../src/cli/model-folder.ts';

let tmp: string;
let modelDir: string;
const evalFile = new URL('../public/samples/meeting-eval.json', import.meta.url).pathname;
const golden = new URL('./fixtures/golden/tiny-bf16-untied', import.meta.url).pathname;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-cli-'));
  modelDir = join(tmp, 'model');
  await makeTinyModel({ preset: 'tiny', out: modelDir, seed: 5 });
  const rows = JSON.parse(readFileSync(evalFile, 'utf8')).slice(0, 6);
  writeFileSync(join(tmp, 'six.json'), JSON.stringify(rows));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('cli train', () => {
  it('trains the asked steps and writes a PEFT adapter with the chosen hyperparameters', async () => {
    const r = await cli(
      'train',
      '--model',
      modelDir,
      '--data',
      join(tmp, 'six.json'),
      '--out',
      join(tmp, 'adapter'),
      '--batch',
      '3',
      '--accum',
      '1',
      '--epochs',
      '2',
      '--lr',
      '0.01',
      '--r',
      '4',
      '--alpha',
      '8',
      '--dropout',
      '0.05',
      '--seed',
      '1',
      '--quiet',
    );
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ command: 'train', examples: 6, steps: 4, total_steps: 4 }); // 6 rows / 3 per batch x 2 epochs
    const conf = JSON.parse(readFileSync(join(tmp, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(conf).toMatchObject({
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.05,
      peft_type: 'LORA',
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    });
    const w = await SafetensorsFile.open(
      new Uint8Array(readFileSync(join(tmp, 'adapter', 'adapter_model.safetensors'))),
    );
    expect(w.info('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight').shape).toEqual([4, 64]);
    expect(w.tensors.size).toBe(2 * 7 * 2);
  });

  it('continues training from an imported adapter (--adapter), keeping its shape', async () => {
    // lr 0 and no weight decay: AdamW moves nothing, so the output must be the input adapter
    // bit for bit; a fresh init (B = 0, new A) could not produce it.
    const r = await cli(
      'train',
      '--model',
      modelDir,
      '--data',
      join(tmp, 'six.json'),
      '--out',
      join(tmp, 'continued'),
      '--adapter',
      join(tmp, 'adapter'),
      '--batch',
      '3',
      '--accum',
      '1',
      '--epochs',
      '1',
      '--lr',
      '0',
      '--dropout',
      '0',
      '--quiet',
    );
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ command: 'train', from_adapter: join(tmp, 'adapter'), steps: 2 });
    expect(JSON.parse(readFileSync(join(tmp, 'continued', 'adapter_config.json'), 'utf8'))).toMatchObject({
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0,
    }); // --dropout overrides the adapter's 0.05
    expect(readFileSync(join(tmp, 'continued', 'adapter_model.safetensors'))).toEqual(
      readFileSync(join(tmp, 'adapter', 'adapter_model.safetensors')),
    );
    // The adapter's loss, not a fresh one: the first step's loss (no dropout) equals a forward pass with it.
    const model = await openModelFolder(modelDir);
    const tok = await folderTokenizer(model);
    const adapter = await openAdapterFolder(join(tmp, 'adapter'), model.config);
    const examples = toTrainExamples(tok, importDataset(readFileSync(join(tmp, 'six.json'), 'utf8')).rows);
    const engine = await createEngine('cpu');
    await engine.load(model.config, weightReader(model), {
      maxBatch: 3,
      maxSeq: Math.max(...examples.map((e) => e.ids.length)),
      lora: adapter.settings,
    });
    await engine.setLora(adapter.tensors);
    const first = epochOrder(6, 42, 0)
      .slice(0, 3)
      .map((i) => examples[i]);
    const { loss } = await engine.forward(makeMicroBatch(first, tok.endOfTextId), false);
    await engine.dispose();
    expect(r.json().first_loss).toBeCloseTo(loss, 5);
    const clash = await cli(
      'train',
      '--model',
      modelDir,
      '--data',
      join(tmp, 'six.json'),
      '--out',
      join(tmp, 'x'),
      '--adapter',
      join(tmp, 'adapter'),
      '--r',
      '8',
    );
    expect(clash.code).toBe(2);
    expect(clash.err).toMatch(/--r 8 conflicts with --adapter, whose r is 4/);
  });

  it('stops on bad data before training, listing every problem, exit code 3', async () => {
    const bad = join(tmp, 'bad.jsonl');
    writeFileSync(
      bad,
      [
        '{"instruct": "a", "input": "结束会议", "output": {"tool_name": "END_MEETING", "parameters": {}}}',
        '{"instruct": "a", "input": "静音"}',
        'not json',
        '{"instruct": "a", "input": "开会", "output": {"tool_name": "INSTANT_MEETING", "parameters": {}}}',
      ].join('\n'),
    );
    const r = await cli('train', '--model', modelDir, '--data', bad, '--out', join(tmp, 'never'));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/2 problem\(s\)/);
    expect(r.err).toMatch(/line 2, field "output"/);
    expect(r.err).toMatch(/line 3/);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(join(tmp, 'never'))).toBe(false);
  });

  it('--eval-fraction trains on one side of the seeded split and evaluates the other', async () => {
    const t = await cli(
      'train',
      '--model',
      modelDir,
      '--data',
      join(tmp, 'six.json'),
      '--out',
      join(tmp, 'split'),
      '--eval-fraction',
      '0.5',
      '--seed',
      '3',
      '--batch',
      '3',
      '--accum',
      '1',
      '--epochs',
      '1',
      '--quiet',
    );
    expect(t.json()).toMatchObject({ examples: 3, steps: 1 });
    const e = await cli(
      'eval',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'split'),
      '--data',
      join(tmp, 'six.json'),
      '--eval-fraction',
      '0.5',
      '--seed',
      '3',
      '--max-new-tokens',
      '4',
      '--quiet',
    );
    expect(e.json()).toMatchObject({ rows: 3 });
  });

  it('refuses bad flags with exit code 2 and the flag named', async () => {
    expect((await cli('train', '--model', modelDir)).err).toMatch(/--data is required/);
    const r = await cli('train', '--model', modelDir, '--data', evalFile, '--out', join(tmp, 'x'), '--lr', 'fast');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--lr must be a number, got "fast"/);
    expect((await cli('train', '--model', modelDir, '--data', evalFile, '--out', 'x', '--dropout', '1')).err).toMatch(
      /--dropout must be below 1/,
    );
    expect((await cli('train', '--bogus')).err).toMatch(/unknown flag --bogus/);
    expect((await cli('nope')).code).toBe(2);
    expect((await cli('export', '--help')).out).toMatch(/--format peft\|merged\|gguf/);
  });

  it('refuses a tokenizer with more ids than the model embeds, naming vocab_size', async () => {
    // The golden case embeds 320 ids; the tiny model's tokenizer has 8192.
    const mixed = join(tmp, 'mixed');
    mkdirSync(mixed);
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(golden, f), join(mixed, f));
    copyFileSync(join(modelDir, 'tokenizer.json'), join(mixed, 'tokenizer.json'));
    const r = await cli('generate', '--model', mixed, '--prompt', 'hi');
    expect(r.code).toBe(3);
    expect(r.err).toMatch(
      /ModelConfigError: vocab_size: 320 in .*config\.json is smaller than the 8192 ids of .*tokenizer\.json/,
    );
  });

  it('prints a typed error as one line, the stack only with --verbose', async () => {
    const r = await cli('eval', '--model', join(tmp, 'missing'), '--data', evalFile);
    expect(r.code).toBe(3);
    expect(r.err.trim()).toBe(`error: ModelFilesError: ${join(tmp, 'missing')}: is not a folder`);
    const v = await cli('eval', '--model', join(tmp, 'missing'), '--data', evalFile, '--verbose');
    expect(v.err).toMatch(/\n\s+at /);
  });
});

/** The trained adapter on the tiny model, loaded by hand: the oracle for what eval and generate print. */
async function tunedEngine() {
  const model = await openModelFolder(modelDir);
  const tok = await folderTokenizer(model);
  const adapter = await openAdapterFolder(join(tmp, 'adapter'), model.config);
  const engine = await createEngine('cpu');
  await engine.load(model.config, weightReader(model), { maxBatch: 1, maxSeq: 64, lora: adapter.settings });
  await engine.setLora(adapter.tensors);
  return { tok, engine };
}

describe('cli eval and generate', () => {
  it('eval reports what greedy decoding of each prompt actually produced', async () => {
    const r = await cli(
      'eval',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--data',
      evalFile,
      '--limit',
      '5',
      '--max-new-tokens',
      '24',
      '--quiet',
    );
    expect(r.code).toBe(0);
    const summary = r.json();
    // Independent run: the same engine, prompt and greedy decoding, scored by a simple count here.
    const { tok, engine } = await tunedEngine();
    const rows = importDataset(readFileSync(evalFile, 'utf8')).rows.slice(0, 5);
    let intents = 0,
      invalid = 0;
    for (const row of rows) {
      const { tokens } = await engine.generate(encodePrompt(tok, row), {
        ...GREEDY,
        maxNewTokens: 24,
        stopTokens: tok.eosTokenIds,
      });
      const text = tok.decode(
        Array.from(tokens).filter((t) => !tok.eosTokenIds.includes(t)),
        { skipSpecial: true },
      );
      let parsed: { tool_name?: unknown } | undefined;
      try {
        parsed = JSON.parse(text.trim());
      } catch {
        invalid++;
      }
      if (parsed && parsed.tool_name === row.expected!.tool_name) intents++;
    }
    await engine.dispose();
    expect(summary).toMatchObject({ command: 'eval', rows: 5 });
    expect(summary.intent_accuracy).toBeCloseTo(intents / 5, 12);
    expect(summary.invalid_json_rate).toBeCloseTo(invalid / 5, 12);
    expect(r.out).toMatch(/intent\s+rows\s+intent\s+slot P/);
  });

  it('generate streams the greedy answer', async () => {
    const r = await cli(
      'generate',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--prompt',
      '请将以下会议语音指令转换为工具调用JSON：结束会议',
      '--max-new-tokens',
      '12',
    );
    expect(r.code).toBe(0);
    const { tok, engine } = await tunedEngine();
    const { tokens } = await engine.generate(
      encodePrompt(tok, { user: '请将以下会议语音指令转换为工具调用JSON：结束会议' }),
      { ...GREEDY, maxNewTokens: 12, stopTokens: tok.eosTokenIds },
    );
    await engine.dispose();
    const want = tok.decode(
      Array.from(tokens).filter((t) => !tok.eosTokenIds.includes(t)),
      { skipSpecial: true },
    );
    expect(r.out).toBe(want + '\n');
  });
});

describe('cli export', () => {
  it('writes gguf, merged (with tokenizer files) and peft from a trained adapter', async () => {
    const g = await cli(
      'export',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--format',
      'gguf',
      '--out',
      join(tmp, 'a.gguf'),
    );
    expect(g.code).toBe(0);
    const gguf = await parseGguf(new Uint8Array(readFileSync(join(tmp, 'a.gguf'))));
    expect(gguf.metadata.get('adapter.lora.alpha')).toBe(8);
    expect(gguf.tensors.get('blk.1.ffn_down.weight.lora_b')!.dims).toEqual([4, 64]);

    const m = await cli(
      'export',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--format',
      'merged',
      '--out',
      join(tmp, 'merged'),
      '--quiet',
    );
    expect(m.code).toBe(0);
    for (const f of [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'model.safetensors',
    ])
      expect(existsSync(join(tmp, 'merged', f)), f).toBe(true);
    expect(readFileSync(join(tmp, 'merged', 'tokenizer.json'), 'utf8')).toBe(
      readFileSync(join(modelDir, 'tokenizer.json'), 'utf8'),
    );
    const merged = await openModelFolder(join(tmp, 'merged'));
    expect(merged.dtype).toBe('bf16');

    const p = await cli(
      'export',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--format',
      'peft',
      '--out',
      join(tmp, 'peft'),
    );
    expect(p.code).toBe(0);
    expect(readFileSync(join(tmp, 'peft', 'adapter_model.safetensors'))).toEqual(
      readFileSync(join(tmp, 'adapter', 'adapter_model.safetensors')),
    );

    const j = await cli(
      'export',
      '--model',
      modelDir,
      '--adapter',
      join(tmp, 'adapter'),
      '--format',
      'job',
      '--data',
      join(tmp, 'six.json'),
      '--out',
      join(tmp, 'job.zip'),
    );
    expect(j.code).toBe(0);
    const zip = unzipSync(new Uint8Array(readFileSync(join(tmp, 'job.zip'))));
    expect(JSON.parse(strFromU8(zip['webtune-job/config.json'])).lora).toEqual({
      r: 4,
      alpha: 8,
      dropout: 0.05,
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
      use_rslora: false,
    });
    expect(JSON.parse(strFromU8(zip['webtune-job/data/train.json']))).toHaveLength(6);
    expect(
      (
        await cli(
          'export',
          '--model',
          modelDir,
          '--adapter',
          join(tmp, 'adapter'),
          '--format',
          'job',
          '--out',
          join(tmp, 'j2.zip'),
        )
      ).err,
    ).toMatch(/needs --data/);
  });

  it('merges a golden case folder, which has no tokenizer files', async () => {
    const r = await cli(
      'export',
      '--model',
      golden,
      '--adapter',
      golden,
      '--format',
      'merged',
      '--out',
      join(tmp, 'gm'),
      '--dtype',
      'f32',
      '--quiet',
    );
    expect(r.code).toBe(0);
    expect(existsSync(join(tmp, 'gm', 'tokenizer.json'))).toBe(false);
    const out = await SafetensorsFile.open(new Uint8Array(readFileSync(join(tmp, 'gm', 'model.safetensors'))));
    // W (bf16, widened) + alpha/r * B @ A of the golden adapter, summed here in float64
    const base = await SafetensorsFile.open(new Uint8Array(readFileSync(join(golden, 'model.safetensors'))));
    const ad = await SafetensorsFile.open(new Uint8Array(readFileSync(join(golden, 'adapter_model.safetensors'))));
    const conf = JSON.parse(readFileSync(join(golden, 'adapter_config.json'), 'utf8'));
    const W = widen((await base.read('model.layers.2.mlp.up_proj.weight')) as Uint16Array, 'bf16');
    const A = (await ad.read('base_model.model.model.layers.2.mlp.up_proj.lora_A.weight')) as Float32Array;
    const B = (await ad.read('base_model.model.model.layers.2.mlp.up_proj.lora_B.weight')) as Float32Array;
    const [O, In, R] = [224, 96, conf.r];
    const got = (await out.read('model.layers.2.mlp.up_proj.weight')) as Float32Array;
    let maxAbs = 0;
    for (let o = 0; o < O; o++)
      for (let i = 0; i < In; i++) {
        let d = 0;
        for (let k = 0; k < R; k++) d += B[o * R + k] * A[k * In + i];
        maxAbs = Math.max(maxAbs, Math.abs(got[o * In + i] - (W[o * In + i] + (conf.lora_alpha / R) * d)));
      }
    expect(maxAbs).toBeLessThan(1e-5);
    expect(out.info('model.norm.weight').dtype).toBe('F32');
  });
});

describe('cli entry', () => {
  it("runs as `npx tsx src/cli/main.ts` and dispatches golden to the lead's replay", async () => {
    const run = promisify(execFile);
    const { stdout } = await run('npx', ['tsx', 'src/cli/main.ts', '--help'], {
      cwd: new URL('..', import.meta.url).pathname,
    });
    expect(stdout).toMatch(/train .*\n.*eval/s);
    const r = await cli('golden', new URL('./fixtures/golden/tiny-f32', import.meta.url).pathname, '--engine', 'cpu');
    expect(r.code).toBe(0);
  });
});
