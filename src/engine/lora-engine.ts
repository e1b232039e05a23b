// Engine over any Ops backend: loads weights, owns the model, runs optimizer steps and
// generation. new LoraEngine(new CpuOps()) is the CPU engine; over WebGpuOps, the GPU engine.

import type { Qwen2Config } from '../core/config.ts';
import { EngineError, NonFiniteError, OutOfMemoryError } from '../core/errors.ts';
import { widen } from '../core/dtype.ts';
import { checkNf4Shape, nf4Words, quantizeNf4 } from '../core/nf4.ts';
import type { Ops } from './ops.ts';
import { VIEW_ALIGN, hash32 } from './ops.ts';
import { Qwen2LoraModel, type BaseWeights, type Batch } from './model.ts';
import { packMicroBatch } from './packing.ts';
import type {
  DecodeOptions,
  Engine,
  EngineInfo,
  LoadOptions,
  MemoryPlan,
  MicroBatch,
  OptimizerState,
  StepOptions,
  StepResult,
  WeightReader,
} from './engine.ts';
import { planMemory, suggestFit } from './plan.ts';
import { sampleToken } from './sampling.ts';
import { LORA_TARGETS, moduleOf, projShape } from '../core/config.ts';

/** Ops plus what the engine needs to describe the device. */
export interface Backend<T, W> extends Ops<T, W> {
  describe(): EngineInfo;
  allocatedBytes(): number;
  /** Bytes the device can give this engine, when known (a GPU budget); undefined = unknown. */
  memoryBudget?(): number | undefined;
  /** Gives back every buffer an engine made, keeping the device for the next (a shared backend). */
  releaseAll?(): void;
}

export class LoraEngine<T, W> implements Engine {
  private model: Qwen2LoraModel<T, W> | null = null;
  private batchBufs: { ids: T; mask: T; labelIdx: T; targets: T } | null = null;
  private optStep = 0;

  /** shared: the backend outlives this engine (dispose gives back the engine's buffers, not the device). */
  constructor(
    readonly ops: Backend<T, W>,
    private readonly shared = false,
  ) {}

  async info(): Promise<EngineInfo> {
    return this.ops.describe();
  }

  private get m(): Qwen2LoraModel<T, W> {
    if (!this.model) throw new EngineError('no model loaded');
    return this.model;
  }

  async load(cfg: Qwen2Config, weights: WeightReader, opts: LoadOptions): Promise<MemoryPlan> {
    const ops = this.ops;
    const C = cfg.hiddenSize;
    const { parts, total, keepTokens } = planMemory(ops.kind, cfg, opts, weights.dtype);
    const budget = ops.memoryBudget?.();
    if (budget !== undefined && total > budget) {
      throw new OutOfMemoryError(
        `training needs ${(total / 2 ** 20).toFixed(0)} MiB (batch ${opts.maxBatch} x max length ${opts.maxSeq}), the device offers ${(budget / 2 ** 20).toFixed(0)} MiB; ${suggestFit(cfg, opts, parts.weights, budget, ops.kind)}`,
        total,
        budget,
      );
    }
    if (opts.quant === 'nf4') await ops.prepareWeights?.('nf4');
    const before = ops.allocatedBytes();

    // Straight into the backend's memory where it offers some (no transient copy of a 272 MB
    // embedding), else through a typed array that weight() copies.
    const mat = async (name: string, rows: number, cols: number): Promise<W> => {
      const dst =
        weights.readInto &&
        (ops.weightStorage?.(weights.dtype, rows * cols, name) as Float32Array | Uint16Array | undefined);
      if (!dst) return ops.weight(await weights.read(name), weights.dtype, rows, cols, name);
      await weights.readInto!(name, dst);
      return ops.weight(dst, weights.dtype, rows, cols, name);
    };
    // QLoRA: each projection is quantized as it is read, so no more than one 16-bit tensor is held
    const proj = async (name: string, rows: number, cols: number): Promise<W> => {
      if (opts.quant !== 'nf4') return mat(name, rows, cols);
      checkNf4Shape(rows, cols, name);
      const dst = ops.weightStorage?.('nf4', nf4Words(rows * cols), name) as Uint32Array | undefined;
      if (weights.readNf4) {
        const cached = await weights.readNf4(name);
        dst?.set(cached);
        return ops.weight(dst ?? cached, 'nf4', rows, cols, name);
      }
      return ops.weight(quantizeNf4(await weights.read(name), weights.dtype, name, dst), 'nf4', rows, cols, name);
    };
    const vec = async (name: string): Promise<T> => {
      const raw = await weights.read(name);
      const data = raw instanceof Float32Array ? raw : widen(raw, weights.dtype as 'bf16' | 'f16');
      const t = ops.alloc('f32', data.length, name);
      ops.upload(t, data);
      return t;
    };
    const wte = await mat('model.embed_tokens.weight', cfg.vocabSize, C);
    const layers: BaseWeights<T, W>['layers'] = [];
    for (let l = 0; l < cfg.numLayers; l++) {
      const p = `model.layers.${l}`;
      const projs = {} as BaseWeights<T, W>['layers'][number]['proj'];
      for (const t of LORA_TARGETS) {
        const [o, i] = projShape(cfg, t);
        projs[t] = await proj(`${p}.${moduleOf(t)}.${t}.weight`, o, i);
      }
      layers.push({
        ln1: await vec(`${p}.input_layernorm.weight`),
        ln2: await vec(`${p}.post_attention_layernorm.weight`),
        proj: projs,
        bias: cfg.attentionBias
          ? {
              q_proj: await vec(`${p}.self_attn.q_proj.bias`),
              k_proj: await vec(`${p}.self_attn.k_proj.bias`),
              v_proj: await vec(`${p}.self_attn.v_proj.bias`),
            }
          : null,
        qkNorm: cfg.qkNorm
          ? { q: await vec(`${p}.self_attn.q_norm.weight`), k: await vec(`${p}.self_attn.k_norm.weight`) }
          : null,
      });
    }
    const normF = await vec('model.norm.weight');
    const lmHead = cfg.tieWordEmbeddings ? wte : await mat('lm_head.weight', cfg.vocabSize, C);
    this.model = new Qwen2LoraModel(
      ops,
      cfg,
      { wte, lmHead, normF, layers },
      opts.lora,
      opts.maxBatch,
      opts.maxSeq,
      keepTokens,
    );
    const N = opts.maxBatch * opts.maxSeq;
    this.batchBufs = {
      ids: ops.alloc('i32', N, 'batch.ids'),
      mask: ops.alloc('i32', N, 'batch.mask'),
      labelIdx: ops.alloc('i32', N, 'batch.labelIdx'),
      targets: ops.alloc('i32', N, 'batch.targets'),
    };
    await ops.flush();
    return { parts, total, allocated: ops.allocatedBytes() - before };
  }

  /** Whether the last micro-batch recomputed each layer in backward (gradient checkpointing). */
  recomputes(): boolean {
    return this.m.recomputing;
  }

  async initLora(seed: number): Promise<void> {
    const m = this.m;
    const data = new Float32Array(m.P);
    // PEFT: A ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0.
    m.slots.forEach((s, k) => {
      const bound = 1 / Math.sqrt(s.In);
      const n = m.lora.r * s.In;
      const key = hash32(seed, k);
      for (let i = 0; i < n; i++) data[s.aOffset + i] = (hash32(key, i) / 4294967296) * 2 * bound - bound;
    });
    this.ops.upload(m.params, data);
    this.resetOptimizer();
  }

  private resetOptimizer(): void {
    const m = this.m;
    this.ops.zero(m.adamM, m.P);
    this.ops.zero(m.adamV, m.P);
    this.optStep = 0;
  }

  async setLora(tensors: Record<string, Float32Array>, alpha?: number): Promise<void> {
    const m = this.m;
    if (alpha !== undefined) m.setAlpha(alpha);
    const data = new Float32Array(m.P);
    for (const p of m.tensorPlaces()) {
      const t = tensors[p.name];
      if (!t) throw new EngineError(`adapter tensor ${p.name} is missing`);
      if (t.length !== p.length)
        throw new EngineError(`adapter tensor ${p.name} has ${t.length} values, expected ${p.shape.join('x')}`);
      data.set(t, p.offset);
    }
    this.ops.upload(m.params, data);
    this.resetOptimizer();
  }

  private async readFlat(t: T): Promise<Record<string, Float32Array>> {
    const flat = await this.ops.read(t, this.m.P);
    const out: Record<string, Float32Array> = {};
    for (const p of this.m.tensorPlaces()) out[p.name] = flat.slice(p.offset, p.offset + p.length);
    return out;
  }

  getLora(): Promise<Record<string, Float32Array>> {
    return this.readFlat(this.m.params);
  }

  async getOptimizerState(): Promise<OptimizerState> {
    const m = this.m;
    return { step: this.optStep, m: await this.ops.read(m.adamM, m.P), v: await this.ops.read(m.adamV, m.P) };
  }

  async setOptimizerState(s: OptimizerState): Promise<void> {
    const m = this.m;
    if (s.m.length !== m.P || s.v.length !== m.P)
      throw new EngineError(`optimizer state has ${s.m.length} values, the adapter ${m.P}`);
    this.ops.upload(m.adamM, s.m);
    this.ops.upload(m.adamV, s.v);
    this.optStep = s.step;
  }

  /** Uploads a micro-batch; label positions are where the next token has a label. */
  private prepare(mb: MicroBatch): Batch<T> {
    const { B, T } = mb;
    if (mb.inputIds.length !== B * T || mb.labels.length !== B * T || mb.attentionMask.length !== B * T)
      throw new EngineError(`micro-batch arrays must hold B*T = ${B * T} values`);
    // packed: label rows in the same (b, t) order, so the losses sum in the same order
    const packed = mb.pack === false ? null : packMicroBatch(mb);
    const idx: number[] = [],
      tg: number[] = [];
    for (let b = 0; b < B; b++)
      for (let t = 0; t + 1 < T; t++) {
        const y = mb.labels[b * T + t + 1];
        if (y !== -100) {
          idx.push(packed ? packed.packedIndex[b * T + t] : b * T + t);
          tg.push(y);
        }
      }
    if (packed && idx.some((i) => i < 0)) throw new EngineError('micro-batch: a label follows a padding token');
    const bb = this.batchBufs!;
    this.ops.upload(bb.ids, packed ? packed.ids : mb.inputIds);
    this.ops.upload(bb.mask, packed ? packed.mask : mb.attentionMask);
    if (idx.length) {
      this.ops.upload(bb.labelIdx, Int32Array.from(idx));
      this.ops.upload(bb.targets, Int32Array.from(tg));
    }
    const shape = packed ? { B: 1, T: packed.ids.length, positions: packed.positions } : { B, T };
    return { ...shape, ids: bb.ids, mask: bb.mask, labelIdx: bb.labelIdx, targets: bb.targets, M: idx.length };
  }

  private async lossSum(b: Batch<T>): Promise<number> {
    if (!b.M) return 0;
    const l = await this.ops.read(this.m.lossBuffer, b.M);
    let s = 0;
    for (const x of l) s += x;
    return s;
  }

  async forward(mb: MicroBatch, wantLogits: boolean): Promise<{ loss: number; tokens: number; logits?: Float32Array }> {
    const m = this.m;
    m.dropout = 0;
    // logits come back in the padded (B, T, V) layout, pads included: computed on it
    const b = this.prepare(wantLogits ? { ...mb, pack: false } : mb);
    m.forwardHidden(b, 0);
    m.lossAndHeadGrad(b, 0);
    const loss = (await this.lossSum(b)) / Math.max(1, b.M);
    let logits: Float32Array | undefined;
    if (wantLogits) {
      const out = this.ops.alloc('f32', b.B * b.T * m.V, 'logits');
      m.logits(out, b);
      logits = await this.ops.read(out);
      this.ops.free?.(out);
    }
    return { loss, tokens: b.M, logits };
  }

  async gradients(mb: MicroBatch): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
    const m = this.m;
    m.dropout = 0;
    this.ops.zero(m.grads, m.P);
    const b = this.prepare(mb);
    m.forwardHidden(b, 0);
    m.lossAndHeadGrad(b, 1 / Math.max(1, b.M));
    const loss = (await this.lossSum(b)) / Math.max(1, b.M);
    m.backward(b, 0);
    return { loss, grads: await this.readFlat(m.grads) };
  }

  async step(micros: MicroBatch[], opts: StepOptions): Promise<StepResult> {
    const m = this.m;
    // alpha and dropout are the run's (per step, like lr); the alpha stays for generation and export
    if (opts.alpha !== undefined) m.setAlpha(opts.alpha);
    if (opts.dropout !== undefined) m.trainDropout = opts.dropout;
    m.dropout = m.trainDropout;
    let tokens = 0,
      inputTokens = 0;
    for (const mb of micros) {
      for (let i = 0; i < mb.labels.length; i++) {
        if (mb.attentionMask[i]) inputTokens++;
        if (i % mb.T > 0 && mb.labels[i] !== -100) tokens++;
      }
    }
    this.ops.zero(m.grads, m.P);
    // Each micro-batch's losses are read without waiting: the read is ordered after the work
    // queued so far, so the GPU keeps going through every micro-batch and syncs once per step.
    const lossReads: Promise<number>[] = [];
    try {
      for (let k = 0; k < micros.length; k++) {
        const seed = hash32(opts.dropoutSeed, k);
        const b = this.prepare(micros[k]);
        m.forwardHidden(b, seed);
        m.lossAndHeadGrad(b, 1 / Math.max(1, tokens));
        lossReads.push(this.lossSum(b));
        m.backward(b, seed);
      }
    } finally {
      m.dropout = 0;
    }
    m.gradNorm();
    const [norm, ...sums] = await Promise.all([this.ops.read(m.normBuf, 1), ...lossReads]);
    const gradNorm = norm[0];
    const loss = sums.reduce((a, b) => a + b, 0) / Math.max(1, tokens);
    if (!Number.isFinite(loss)) throw new NonFiniteError('loss', this.optStep + 1);
    if (!Number.isFinite(gradNorm)) throw new NonFiniteError('gradient norm', this.optStep + 1);
    this.optStep++;
    m.adamStep({ ...opts, step: this.optStep });
    await this.ops.flush();
    return { loss, gradNorm, tokens, inputTokens };
  }

  async generate(
    prompt: Int32Array,
    opts: DecodeOptions,
    onToken?: (id: number) => void,
  ): Promise<{ tokens: Int32Array; margins: Float32Array }> {
    const [r] = await this.generateBatch([prompt], opts, onToken ? (_, id) => onToken(id) : undefined);
    return r;
  }

  async generateBatch(
    prompts: Int32Array[],
    opts: DecodeOptions,
    onToken?: (row: number, id: number) => void,
  ): Promise<{ tokens: Int32Array; margins: Float32Array }[]> {
    const m = this.m;
    m.dropout = 0;
    const B = prompts.length;
    if (!B || prompts.some((p) => p.length === 0)) throw new EngineError('empty prompt');
    const T0 = Math.max(...prompts.map((p) => p.length));
    const SMAX = T0 + opts.maxNewTokens;
    if (SMAX > m.cfg.maxPositionEmbeddings)
      throw new EngineError(
        `prompt + new tokens (${SMAX}) exceed the model's ${m.cfg.maxPositionEmbeddings} positions`,
      );
    // left padded: (B, T0), pads masked
    const ids = new Int32Array(B * T0),
      mask = new Int32Array(B * T0);
    prompts.forEach((p, b) => {
      ids.set(p, b * T0 + T0 - p.length);
      mask.fill(1, b * T0 + T0 - p.length, (b + 1) * T0);
    });
    const idsBuf = this.ops.alloc('i32', B * T0, 'gen.prompt');
    this.ops.upload(idsBuf, ids);
    const scratch = this.ops.alloc('i32', B * 64, 'gen.ids');
    const logitsBuf = this.ops.alloc('f32', B * m.V, 'gen.logits');
    // greedy and unconstrained: the device picks, a token reads back 2 numbers a row, not V logits
    const onDevice =
      opts.temperature <= 0 && !opts.constraint && this.ops.argmaxRows
        ? this.ops.alloc('f32', 2 * B, 'gen.pick')
        : null;
    const out: number[][] = prompts.map(() => []),
      margins: number[][] = prompts.map(() => []);
    const finished = new Array<boolean>(B).fill(false);
    const next = new Int32Array(B);
    const cursors = opts.constraint ? prompts.map((_, b) => opts.constraint!.start(b)) : null;
    let rng = opts.seed >>> 0;
    try {
      m.startDecode(B, SMAX, mask, T0);
      m.prefill(idsBuf, T0, 0, scratch);
      for (let i = 0; i < opts.maxNewTokens; i++) {
        m.lastLogits(logitsBuf, B);
        if (onDevice) this.ops.argmaxRows!(onDevice, logitsBuf, B, m.V);
        const logits = await this.ops.read(onDevice ?? logitsBuf, onDevice ? 2 * B : B * m.V);
        for (let b = 0; b < B; b++) {
          if (finished[b]) continue;
          const allowed = cursors?.[b].allowed(opts.maxNewTokens - i) ?? null;
          const { token, margin } = onDevice
            ? { token: logits[2 * b], margin: logits[2 * b + 1] }
            : sampleToken(logits.subarray(b * m.V, (b + 1) * m.V), opts, (rng = hash32(rng, i * B + b)), allowed);
          cursors?.[b].advance(token);
          out[b].push(token);
          margins[b].push(margin);
          next[b] = token;
          onToken?.(b, token);
          if (opts.stopTokens.includes(token)) finished[b] = true;
        }
        if (finished.every(Boolean) || i + 1 === opts.maxNewTokens) break;
        this.ops.upload(idsBuf, next);
        m.extendMask(T0 + i);
        m.prefill(idsBuf, 1, T0 + i, scratch);
      }
    } finally {
      for (const t of [idsBuf, scratch, logitsBuf, onDevice]) if (t) this.ops.free?.(t);
    }
    return out.map((t, b) => ({ tokens: Int32Array.from(t), margins: Float32Array.from(margins[b]) }));
  }

  merged(name: string): Promise<Float32Array> {
    return this.projection(name, true);
  }

  baseWeight(name: string): Promise<Float32Array> {
    return this.projection(name, false);
  }

  /** W (+ scale * B @ A) of one projection, through the backend's merge kernel. */
  private async projection(name: string, withAdapter: boolean): Promise<Float32Array> {
    const m = this.m;
    const match = /^model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.weight$/.exec(name);
    const layer = match ? Number(match[1]) : -1;
    const target = match?.[3] as (typeof LORA_TARGETS)[number];
    if (!match || !m.weights.layers[layer] || !LORA_TARGETS.includes(target))
      throw new EngineError(`${name} is not a LoRA-adapted projection`);
    const [O, In] = projShape(m.cfg, target);
    const out = this.ops.alloc('f32', O * In, 'merged');
    const s = m.slot(layer, target);
    const w = m.weights.layers[layer].proj[target];
    if (s && withAdapter) this.ops.mergeLora(out, w, s.a, s.b, O, In, m.lora.r, m.scale);
    else {
      // rank 0: a and b are never read, but a GPU refuses one buffer bound twice for writing
      const none = this.ops.alloc('f32', 2 * VIEW_ALIGN, 'merge.none');
      this.ops.mergeLora(out, w, this.ops.view(none, 0, 1), this.ops.view(none, VIEW_ALIGN, 1), O, In, 0, 0);
      this.ops.free?.(none);
    }
    const merged = await this.ops.read(out);
    this.ops.free?.(out);
    return merged;
  }

  async dispose(): Promise<void> {
    if (this.shared && this.ops.releaseAll) this.ops.releaseAll();
    else if (!this.shared) this.ops.dispose();
    this.model = null;
  }
}
