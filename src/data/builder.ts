// Training rows from a tool schema: every template filled with parameter values, in the seed's
// format ({instruct, input, output: {tool_name, parameters}}). Deterministic for a seed, the
// same number of rows per tool, no utterance twice (within a tool, across tools, across the
// train and held-out sides, or already in the data), every value verbatim in its utterance
// (x-source "free" values aside).
//
// Each template is a mixed-radix space of value combinations; templates take turns so a tool's
// rows spread over all its phrasings, and within a template combinations come in a seeded
// random order without repeats.

import { SchemaError } from '../core/errors.ts';
import { SeededRng, seededShuffle } from '../core/rng.ts';
import { callProblems, fillTemplate, paramValues, templateParams, type ToolDef, type ToolSchema } from './schema.ts';
import type { ToolCall } from './dataset.ts';
import { applyVariant, joinSegments, segmentsOf, VARIANT_KINDS, type Segment, type VariantKind } from './variety.ts';

/** A row in the seed's file format. */
export interface SeedRow {
  system?: string;
  instruct: string;
  input: string;
  output: ToolCall;
  /** Written by the model itself (augmentation), not by a template. */
  generated?: true;
  /** A variant of a template's words (variety.ts): "filler", "asr", ... ("+" between several). */
  variant?: string;
}

/** Variants among the built rows (variety.ts). */
export interface VarietyOptions {
  /** Share of rows made variants (0..1); when the templates run dry, variants fill up the rest. */
  share: number;
  kinds?: readonly VariantKind[];
}

export interface BuildOptions {
  /** Training rows per tool. */
  perTool: number;
  seed: number;
  /** Held-out rows per tool (default 0). */
  evalPerTool?: number;
  /** Variants of the templates' words; none when absent (and too few templates is an error). */
  variety?: VarietyOptions;
}

export interface BuiltData {
  train: SeedRow[];
  eval: SeedRow[];
}

/** Below this many combinations a template's whole space is listed and shuffled. */
const LIST_LIMIT = 4096;

/** Combination indices of one template, each at most once, in a seeded order. */
class ComboStream {
  readonly params: string[];
  private readonly radix: number[];
  private readonly total: number;
  private listed: number[] | null = null;
  private pos = 0;
  private readonly drawn = new Set<number>();

  constructor(
    readonly template: string,
    tool: ToolDef,
    private readonly rng: SeededRng,
  ) {
    this.params = templateParams(template);
    this.radix = this.params.map((name) => paramValues(tool.params.find((p) => p.name === name)!).length);
    this.total = this.radix.reduce((a, b) => a * b, 1);
    if (this.total <= LIST_LIMIT) this.listed = shuffleInPlace([...Array(this.total).keys()], rng);
  }

  /** The next unused combination as value indices, or null when the space is used up. */
  next(): number[] | null {
    let index: number;
    if (this.listed) {
      if (this.pos >= this.listed.length) return null;
      index = this.listed[this.pos++];
    } else {
      // A huge space: random draws, repeats skipped (rare until a large share is drawn).
      if (this.drawn.size >= this.total) return null;
      do index = Math.floor(this.rng.float() * this.total);
      while (this.drawn.has(index));
      this.drawn.add(index);
    }
    return this.radix.map((r) => {
      const digit = index % r;
      index = Math.floor(index / r);
      return digit;
    });
  }
}

function shuffleInPlace<T>(a: T[], rng: SeededRng): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Seed per tool, so adding a tool does not reshuffle the others' rows. */
function toolSeed(seed: number, name: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Draws rows of one tool, templates in turn; a stream of rows until the templates run dry. */
export class ToolRowSource {
  private readonly streams: ComboStream[];
  private turn = 0;
  /** Templates that have given a row. */
  readonly templatesUsed = new Set<string>();

  /** Filled templates given so far: what variants are made of once the templates run dry. */
  private readonly made: { template: string; values: Record<string, string> }[] = [];
  private readonly vrng: SeededRng;
  private topUps = 0;

  constructor(
    private readonly schema: ToolSchema,
    readonly tool: ToolDef,
    seed: number,
    private readonly used: Set<string>,
    private readonly variety?: VarietyOptions,
  ) {
    if (!tool.templates.length)
      throw new SchemaError('schema', [
        { tool: tool.name, field: 'templates', message: 'has no templates to build rows from' },
      ]);
    const rng = new SeededRng(toolSeed(seed, tool.name));
    this.streams = seededShuffle(tool.templates, rng.int(2 ** 31)).map((t) => new ComboStream(t, tool, rng));
    this.vrng = new SeededRng(toolSeed(seed + 1, tool.name));
  }

  private row(values: Record<string, string>, input: string, variant?: string): SeedRow {
    const parameters: Record<string, string> = {};
    for (const p of this.tool.params) if (Object.hasOwn(values, p.name)) parameters[p.name] = values[p.name];
    return {
      ...(this.schema.system !== undefined ? { system: this.schema.system } : {}),
      instruct: this.schema.instruct ?? '',
      input,
      output: { tool_name: this.tool.name, parameters },
      ...(variant ? { variant } : {}),
    };
  }

  /** `depth` variants stacked on a filled template; null when they give nothing new. */
  private variant(
    template: string,
    values: Record<string, string>,
    depth: number,
  ): { input: string; kinds: string } | null {
    const kinds = this.variety?.kinds?.length ? this.variety.kinds : VARIANT_KINDS;
    let segs: Segment[] | null = segmentsOf(template, values);
    const applied: string[] = [];
    for (let d = 0; d < depth && segs; d++) {
      const kind = kinds[this.vrng.int(kinds.length)];
      segs = applyVariant(kind, segs, this.vrng);
      applied.push(kind);
    }
    if (!segs) return null;
    const input = joinSegments(segs);
    return this.used.has(input) ? null : { input, kinds: applied.join('+') };
  }

  /** Once the templates are used up: variants of the rows given, more stacked as the easy ones run out. */
  private topUp(): SeedRow | null {
    if (!this.variety || !this.made.length) return null;
    const limit = 400 + 40 * this.made.length;
    for (let tries = 0; tries < limit; tries++, this.topUps++) {
      const m = this.made[this.topUps % this.made.length];
      const v = this.variant(m.template, m.values, 1 + Math.floor(this.topUps / (20 * this.made.length)));
      if (!v) continue;
      this.used.add(v.input);
      this.topUps++;
      return this.row(m.values, v.input, v.kinds);
    }
    return null;
  }

  /** The next row with an utterance not seen before, or null when every template is used up. */
  next(): SeedRow | null {
    while (this.streams.length) {
      this.turn %= this.streams.length;
      const s = this.streams[this.turn];
      const combo = s.next();
      if (!combo) {
        this.streams.splice(this.turn, 1);
        continue;
      }
      const values: Record<string, string> = {};
      s.params.forEach(
        (name, k) => (values[name] = paramValues(this.tool.params.find((p) => p.name === name)!)[combo[k]]),
      );
      const input = fillTemplate(s.template, values);
      if (this.used.has(input)) continue;
      this.templatesUsed.add(s.template);
      this.made.push({ template: s.template, values });
      this.turn++;
      const v = this.variety && this.vrng.float() < this.variety.share ? this.variant(s.template, values, 1) : null;
      this.used.add(v ? v.input : input);
      return this.row(values, v ? v.input : input, v?.kinds);
    }
    return this.topUp();
  }

  /** n rows, or a SchemaError saying how many distinct utterances the templates allow. */
  take(n: number, have = 0): SeedRow[] {
    const rows: SeedRow[] = [];
    while (rows.length < n) {
      const r = this.next();
      if (!r) {
        throw new SchemaError('schema', [
          {
            tool: this.tool.name,
            field: 'templates',
            message: `give only ${have + rows.length} distinct utterances, ${have + n} were asked for: add templates or values, or ask for fewer rows`,
          },
        ]);
      }
      rows.push(r);
    }
    return rows;
  }
}

/** Rows for every tool: perTool for training, evalPerTool held out, no utterance on both sides. */
export function buildRows(schema: ToolSchema, opts: BuildOptions): BuiltData {
  const evalPerTool = opts.evalPerTool ?? 0;
  for (const [k, v] of [
    ['perTool', opts.perTool],
    ['evalPerTool', evalPerTool],
    ['seed', opts.seed],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${k} must be a non-negative integer, got ${v}`);
  }
  if (opts.variety && !(opts.variety.share >= 0 && opts.variety.share <= 1))
    throw new RangeError(`variety.share must be in [0, 1], got ${opts.variety.share}`);
  const used = new Set<string>();
  const train: SeedRow[] = [],
    held: SeedRow[] = [];
  const errors: SchemaError[] = [];
  for (const tool of schema.tools) {
    try {
      const src = new ToolRowSource(schema, tool, opts.seed, used, opts.variety);
      train.push(...src.take(opts.perTool));
      held.push(...src.take(evalPerTool, opts.perTool));
    } catch (e) {
      if (!(e instanceof SchemaError)) throw e;
      errors.push(e);
    }
  }
  if (errors.length)
    throw new SchemaError(
      'schema',
      errors.flatMap((e) => e.issues),
    );
  return { train: seededShuffle(train, opts.seed), eval: seededShuffle(held, opts.seed + 1) };
}

/** n more rows of one tool, none repeating an utterance already in `existing`. */
export function moreRows(
  schema: ToolSchema,
  toolName: string,
  n: number,
  seed: number,
  existing: Iterable<string>,
): SeedRow[] {
  const tool = schema.tools.find((t) => t.name === toolName);
  if (!tool) throw new SchemaError('schema', [{ tool: toolName, message: 'is not a tool of the schema' }]);
  return new ToolRowSource(schema, tool, seed, new Set(existing)).take(n);
}

/** Rows as the seed's JSON file: one row per line inside an array, non-ASCII kept. */
export function formatSeedRows(rows: readonly SeedRow[]): string {
  return rows.length ? `[\n${rows.map((r) => '  ' + JSON.stringify(r)).join(',\n')}\n]\n` : '[]\n';
}

/**
 * Why a built row does not fit the schema (empty when it does): its call is valid and every
 * parameter value appears verbatim in its utterance.
 */
export function rowProblems(schema: ToolSchema, row: SeedRow): string[] {
  const out = callProblems(schema, row.output);
  const params = row.output?.parameters ?? {};
  const tool = schema.tools.find((t) => t.name === row.output?.tool_name);
  // Values the model normalises (x-source "free") need not be in the utterance.
  const free = (k: string) => tool?.params.find((p) => p.name === k)?.source === 'free';
  for (const [k, v] of Object.entries(params))
    if (typeof v === 'string' && !free(k) && !row.input.includes(v))
      out.push(`value ${JSON.stringify(v)} of ${k} is not in the utterance ${JSON.stringify(row.input)}`);
  return out;
}
