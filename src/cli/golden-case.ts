// Replaying a PyTorch golden case (../shared/golden/README.md) on an engine: every number the case
// holds, checked against bounds. The files come through a reader, so the CLI (golden.ts) reads
// them from disk and a browser page fetches them.

import { SafetensorsFile } from '../core/safetensors.ts';
import { parseQwen2Config, validateWeights, LORA_TARGETS, type LoraTarget } from '../core/config.ts';
import { createEngine, type EngineKind, type CreateEngineOptions } from '../engine/create.ts';
import type { LoraSettings, MicroBatch } from '../engine/engine.ts';
import { fixedBatches, Trainer } from '../train/trainer.ts';
import type { LrSchedule, TrainSettings } from '../train/recipe.ts';
import { ModelConfigError } from '../core/errors.ts';
import { NF4_BLOCK, type Quantization } from '../core/nf4.ts';

export interface Check {
  name: string;
  maxAbs: number;
  relL2: number;
  bound: number;
  /** Which error the bound applies to. */
  metric: 'maxAbs' | 'relL2' | 'maxRel' | 'exact';
  ok: boolean;
}

export function compare(
  name: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  metric: Check['metric'],
  bound: number,
  mask?: (i: number) => boolean,
): Check {
  let maxAbs = 0,
    maxRel = 0,
    num = 0,
    den = 0,
    same = got.length === want.length;
  for (let i = 0; i < want.length; i++) {
    if (mask && !mask(i)) continue;
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= maxAbs)) maxAbs = d; // NaN propagates
    const r = d === 0 ? 0 : d / Math.abs(want[i]);
    if (!(r <= maxRel)) maxRel = r;
    num += d * d;
    den += want[i] * want[i];
    if (got[i] !== want[i]) same = false;
  }
  const relL2 = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
  const err = metric === 'maxAbs' ? maxAbs : metric === 'relL2' ? relL2 : metric === 'maxRel' ? maxRel : same ? 0 : 1;
  // Every metric fails on a length mismatch: extra values past the reference's end were never compared.
  const lengthOk = got.length === want.length;
  return {
    name: lengthOk ? name : `${name} (length ${got.length}, expected ${want.length})`,
    maxAbs,
    relL2,
    bound,
    metric,
    ok: lengthOk && err <= bound,
  };
}

interface Case {
  dir: string;
  files: Record<string, SafetensorsFile>;
  caseJson: {
    micro_batches: number;
    optimizer_steps: number;
    lr: number;
    lr_schedule?: string;
    warmup_steps?: number;
    quant?: { type: string; block: number } | null;
    adamw: { beta1: number; beta2: number; eps: number; weight_decay: number };
    max_grad_norm: number;
    lora_scaling: number;
    generate: { new_tokens: number };
  };
  adapterConfig: { r: number; lora_alpha: number; target_modules: string[]; use_rslora?: boolean };
}

/** What the case's optimizer_steps, lr_schedule and adamw mean in the recipe's terms: an epoch is every micro-batch once, one optimizer step. */
export function caseSettings(c: Case['caseJson'], micros: readonly MicroBatch[]): TrainSettings {
  const B = micros[0].B;
  if (micros.some((m) => m.B !== B))
    throw new Error(
      `micro-batches of ${micros.map((m) => m.B).join(', ')} rows: a case's micro-batches must hold the same number`,
    );
  return {
    epochs: c.optimizer_steps,
    batchSize: B,
    gradAccum: micros.length,
    lr: c.lr,
    schedule: caseSchedule(c.lr_schedule),
    warmupSteps: c.warmup_steps ?? 0,
    beta1: c.adamw.beta1,
    beta2: c.adamw.beta2,
    eps: c.adamw.eps,
    weightDecay: c.adamw.weight_decay,
    maxGradNorm: c.max_grad_norm,
    seed: 0,
    evalEvery: 0,
    checkpointEvery: 0,
  };
}

/** "cosine", "linear", or the first cases' "linear decay to 0 over optimizer_steps, no warmup". */
function caseSchedule(text = 'linear'): LrSchedule {
  const kind = (['linear', 'cosine', 'constant'] as const).find((k) => text.startsWith(k));
  if (!kind) throw new Error(`case.json: lr_schedule ${JSON.stringify(text)} is not linear, cosine or constant`);
  return kind;
}

/** Reads one file of a case folder (config.json, model.safetensors, ...) by its name. */
export type CaseReader = (file: string) => Promise<Uint8Array>;

async function openCase(dir: string, read: CaseReader): Promise<Case> {
  const files: Record<string, SafetensorsFile> = {};
  for (const f of ['model', 'adapter_model', 'batches', 'expected'])
    files[f] = await SafetensorsFile.open(await read(`${f}.safetensors`), `${dir}/${f}.safetensors`);
  const json = async (f: string) => JSON.parse(new TextDecoder().decode(await read(f)));
  return { dir, files, caseJson: await json('case.json'), adapterConfig: await json('adapter_config.json') };
}

async function f32(file: SafetensorsFile, name: string): Promise<Float32Array> {
  return (await file.read(name)) as Float32Array;
}

async function microBatch(c: Case, k: number, pack: boolean): Promise<MicroBatch> {
  const b = c.files.batches;
  const ids = (await b.read(`micro${k}.input_ids`)) as Int32Array;
  const [B, T] = b.info(`micro${k}.input_ids`).shape;
  return {
    B,
    T,
    inputIds: ids,
    attentionMask: (await b.read(`micro${k}.attention_mask`)) as Int32Array,
    labels: (await b.read(`micro${k}.labels`)) as Int32Array,
    pack,
  };
}

/**
 * The bounds each check must meet. f32: what PyTorch in f32 reaches against these float64 values
 * (../shared/golden/README.md). f16: the WebGPU shader-f16 path, whose matmuls round their
 * operands to f16 (11-bit significands, sums in f32): logits 1e-2 max abs, loss 1e-3, gradients
 * 5e-3 relL2, the adapter after each step 1e-3 relL2 (worst measured on lavapipe over every case:
 * logits 9.3e-3, gradients 2.9e-3; realscale-bf16's adapter 2.1e-4).
 * AdamW updates are not compared one by one: the first steps move each value by about
 * lr * sign(gradient), so a near-zero gradient whose sign rounding flips flips its update.
 * At the toy cases' learning rates (1e-2, against adapters of a few 1e-2) two such flips in 9344
 * values give the adapter 1e-2..3e-2 relL2 (tiny-f32: 4e-6 without them), and f32 operands in
 * the backward matmuls do not remove them (the forward's rounding alone flips them): for a case
 * whose lr is above TOY_LR the adapter is held to adapterToyLr.
 */
export const GOLDEN_BOUNDS = {
  // f32 updates: a near-zero gradient's Adam update can still flip (tiny-bf16-untied on the CPU
  // engine: 2.4e-3); the adapter after each step is held 20x tighter than an update (CPU: 4.4e-5).
  f32: {
    logits: 1e-4,
    loss: 1e-5,
    grad: 1e-4,
    update: 5e-3,
    adapter: 1e-4,
    adapterToyLr: 1e-4,
    trainLoss: 1e-4,
    gradNorm: 1e-4,
    margins: 1e-3,
    merged: 1e-4,
  },
  // merged = W + scale * B @ A carries the adapter's error times the scale (qlora-nf4: 0.023 at scale 4)
  f16: {
    logits: 1e-2,
    loss: 1e-3,
    grad: 5e-3,
    update: null,
    adapter: 1e-3,
    adapterToyLr: 5e-2,
    trainLoss: 1e-3,
    gradNorm: 1e-2,
    margins: 5e-2,
    merged: 5e-2,
  },
} as const;

/** Learning rates above this are the toy cases' (see GOLDEN_BOUNDS); realistic ones are 1e-4..2e-4. */
export const TOY_LR = 1e-3;

/**
 * Replays the case `dir` whose files `read` returns (from disk, or fetched in a page) on a new
 * engine. A case whose case.json names NF4 loads the base as NF4 unless `quantArg` says otherwise.
 * `pack` false: every micro-batch on its padded layout (else packed where exact, engine/packing.ts).
 */
export async function runGoldenCaseFrom(
  read: CaseReader,
  dir: string,
  engineKind: EngineKind,
  log: (line: string) => void = console.log,
  engineOpts: CreateEngineOptions = {},
  recompute?: boolean,
  quantArg?: Quantization,
  pack = true,
): Promise<{ checks: Check[]; dump: Record<string, { data: Float32Array | Int32Array; shape: number[] }> }> {
  const c = await openCase(dir, read);
  const cfg = parseQwen2Config(new TextDecoder().decode(await read('config.json')));
  const model = c.files.model;
  const dtype = validateWeights(cfg, model);
  const lora: LoraSettings = {
    r: c.adapterConfig.r,
    alpha: c.adapterConfig.lora_alpha,
    dropout: 0,
    targets: c.adapterConfig.target_modules.filter((t): t is LoraTarget =>
      (LORA_TARGETS as readonly string[]).includes(t),
    ),
    rslora: !!c.adapterConfig.use_rslora,
  };
  const q = c.caseJson.quant;
  if (q && (q.type !== 'nf4' || q.block !== NF4_BLOCK))
    throw new ModelConfigError(
      'case.json quant',
      `${q.type} with blocks of ${q.block} is not a quantization Webtune has (nf4, blocks of ${NF4_BLOCK})`,
    );
  const quant: Quantization = quantArg ?? (q ? 'nf4' : 'none');
  const micros: MicroBatch[] = [];
  for (let k = 0; k < c.caseJson.micro_batches; k++) micros.push(await microBatch(c, k, pack));
  const engine = await createEngine(engineKind, engineOpts);
  const exp = c.files.expected;
  const checks: Check[] = [];
  const dump: Record<string, { data: Float32Array | Int32Array; shape: number[] }> = {};
  const add = (ch: Check) => {
    checks.push(ch);
    log(
      `${ch.ok ? 'ok  ' : 'FAIL'} ${ch.name.padEnd(72)} maxAbs=${ch.maxAbs.toExponential(2)} relL2=${ch.relL2.toExponential(2)} bound(${ch.metric})=${ch.bound}`,
    );
  };
  try {
    const info = await engine.info();
    const bounds = GOLDEN_BOUNDS[info.kernels?.startsWith('f16') ? 'f16' : 'f32'];
    const adapterBound = c.caseJson.lr > TOY_LR ? bounds.adapterToyLr : bounds.adapter;
    log(`bounds: ${bounds === GOLDEN_BOUNDS.f16 ? 'f16 kernel path' : 'f32'}`);
    if (info.kernels) log(`kernels: ${info.kernels}`);
    for (const n of info.notices ?? []) log(`notice: ${n}`);
    const maxB = Math.max(...micros.map((m) => m.B)),
      maxT = Math.max(...micros.map((m) => m.T), 5 + c.caseJson.generate.new_tokens);
    await engine.load(
      cfg,
      { dtype, read: async (n) => (await model.read(n)) as Float32Array | Uint16Array },
      { maxBatch: maxB, maxSeq: maxT, lora, recompute, quant },
    );
    const initial: Record<string, Float32Array> = {};
    for (const name of c.files.adapter_model.tensors.keys()) initial[name] = await f32(c.files.adapter_model, name);
    await engine.setLora(initial);

    // the dequantized base weight: code * absmax in f32, as the reference computes it
    for (const name of exp.tensors.keys()) {
      if (!name.startsWith('dequant.')) continue;
      const w = await engine.baseWeight(name.slice('dequant.'.length));
      add(compare(name, w, await f32(exp, name), 'maxRel', 1e-6));
      dump[name] = { data: w, shape: exp.info(name).shape };
    }

    // forward: logits where attention_mask is 1, then loss
    const m0 = micros[0];
    const fwd = await engine.forward(m0, true);
    const V = cfg.vocabSize;
    add(
      compare(
        'logits',
        fwd.logits!,
        await f32(exp, 'logits'),
        'maxAbs',
        bounds.logits,
        (i) => m0.attentionMask[Math.floor(i / V)] === 1,
      ),
    );
    dump.logits = { data: fwd.logits!, shape: [m0.B, m0.T, V] };
    const wantLoss = (await f32(exp, 'loss'))[0];
    add(compare('loss', [fwd.loss], [wantLoss], 'relL2', bounds.loss));
    dump.loss = { data: Float32Array.of(fwd.loss), shape: [1] };

    // every LoRA gradient of micro-batch 0's mean loss
    const g = await engine.gradients(m0);
    for (const name of [...c.files.adapter_model.tensors.keys()].sort()) {
      add(compare(`grad.${name}`, g.grads[name], await f32(exp, `grad.${name}`), 'relL2', bounds.grad));
      dump[`grad.${name}`] = { data: g.grads[name], shape: exp.info(`grad.${name}`).shape };
    }

    // optimizer steps as the product runs them: the Trainer with its schedule (warmup, then linear
    // or cosine decay from case.json), accumulation over all micro-batches, clipping, AdamW
    const trainer = new Trainer(engine, fixedBatches(micros), caseSettings(c.caseJson, micros));
    const steps = c.caseJson.optimizer_steps;
    if (trainer.totalSteps !== steps)
      throw new Error(`${dir}: the trainer counts ${trainer.totalSteps} optimizer steps, case.json says ${steps}`);
    const losses: number[] = [],
      norms: number[] = [],
      lrs: number[] = [];
    let prev = initial;
    for (let k = 0; k < steps; k++) {
      const r = await trainer.step();
      losses.push(r.loss);
      norms.push(r.gradNorm);
      lrs.push(r.lr);
      const now = await engine.getLora();
      for (const name of Object.keys(now).sort()) {
        const want = await f32(exp, `step${k + 1}.${name}`);
        const dGot = now[name].map((x, i) => x - prev[name][i]);
        const dWant = want.map((x, i) => x - prev[name][i]);
        if (bounds.update !== null) add(compare(`step${k + 1}.${name} (update)`, dGot, dWant, 'relL2', bounds.update));
        if (adapterBound !== null) add(compare(`step${k + 1}.${name}`, now[name], want, 'relL2', adapterBound));
        dump[`step${k + 1}.${name}`] = { data: now[name], shape: exp.info(`step${k + 1}.${name}`).shape };
      }
      prev = now;
    }
    add(compare('train.loss', losses, await f32(exp, 'train.loss'), 'relL2', bounds.trainLoss));
    add(compare('train.grad_norm', norms, await f32(exp, 'train.grad_norm'), 'relL2', bounds.gradNorm));
    add(compare('train.lr', lrs, await f32(exp, 'train.lr'), 'relL2', 1e-6));
    dump['train.loss'] = { data: Float32Array.from(losses), shape: [steps] };
    dump['train.grad_norm'] = { data: Float32Array.from(norms), shape: [steps] };
    dump['train.lr'] = { data: Float32Array.from(lrs), shape: [steps] };

    // greedy generation with the KV cache after training
    const prompt = (await exp.read('generate.prompt')) as Int32Array;
    const want = (await exp.read('generate.tokens')) as Int32Array;
    const gen = await engine.generate(prompt, {
      maxNewTokens: want.length,
      temperature: 0,
      topK: 0,
      topP: 1,
      stopTokens: [],
      seed: 0,
    });
    add(compare('generate.tokens', gen.tokens, want, 'exact', 0));
    add(compare('generate.margins', gen.margins, await f32(exp, 'generate.margins'), 'maxAbs', bounds.margins));
    dump['generate.prompt'] = { data: prompt, shape: [prompt.length] };
    dump['generate.tokens'] = { data: gen.tokens, shape: [gen.tokens.length] };
    dump['generate.margins'] = { data: gen.margins, shape: [gen.margins.length] };

    const mergedName = 'model.layers.0.self_attn.q_proj.weight';
    const merged = await engine.merged(mergedName);
    add(compare(`merged.${mergedName}`, merged, await f32(exp, `merged.${mergedName}`), 'maxAbs', bounds.merged));
    dump[`merged.${mergedName}`] = { data: merged, shape: exp.info(`merged.${mergedName}`).shape };
  } finally {
    await engine.dispose();
  }
  return { checks, dump };
}
