// The values split: held-out rows whose templates training has seen but whose span values (the
// values copied from the utterance, x-source "utterance") it has not. It measures copying, the
// one skill a template split cannot tell from memorising: a model that learned the values as
// words fails it. Each span parameter's values are split by seed (a quarter held out, at least
// one, at least one kept); enum and free values are the same on both sides. A tool without
// span parameters has no values to hold out: its held-out rows are further utterances of its
// templates (new with the builder's variants), as in the template split.

import { SchemaError, type SchemaIssue } from '../core/errors.ts';
import { SeededRng, seededShuffle } from '../core/rng.ts';
import { ToolRowSource, type BuildOptions, type BuiltData, type SeedRow } from './builder.ts';
import { isSpanParam, paramValues, templateParams, type ToolDef, type ToolSchema } from './schema.ts';

export type EvalSplit = 'templates' | 'values';
export const EVAL_SPLITS: readonly EvalSplit[] = ['templates', 'values'];

/** Share of each span parameter's values held out. */
const HELD_SHARE = 0.25;

/** The tool with each span parameter's values cut to one side of the split. */
function sideOf(tool: ToolDef, held: Map<string, Set<string>>, want: boolean, templates?: string[]): ToolDef {
  return {
    ...tool,
    params: tool.params.map((p) =>
      held.has(p.name) ? { ...p, examples: paramValues(p).filter((v) => held.get(p.name)!.has(v) === want) } : p,
    ),
    templates: templates ?? tool.templates,
  };
}

/** Rows for every tool: perTool for training, evalPerTool held out by values (see above). */
export function buildRowsByValues(
  schema: ToolSchema,
  opts: BuildOptions,
): BuiltData & { heldValues: Record<string, Record<string, string[]>> } {
  const evalPerTool = opts.evalPerTool ?? 0;
  const used = new Set<string>();
  const train: SeedRow[] = [],
    held: SeedRow[] = [];
  const issues: SchemaIssue[] = [];
  const heldValues: Record<string, Record<string, string[]>> = {};
  for (const tool of schema.tools) {
    const rng = new SeededRng(opts.seed ^ 0x5eed);
    const heldOf = new Map<string, Set<string>>();
    for (const p of tool.params.filter(isSpanParam)) {
      const values = paramValues(p);
      if (!tool.templates.some((t) => templateParams(t).includes(p.name))) continue;
      if (values.length < 2) {
        issues.push({
          tool: tool.name,
          field: `function.parameters.properties.${p.name}.examples`,
          message: `has ${values.length} value(s): the values split holds some out and keeps some, so it needs at least 2`,
        });
        continue;
      }
      const k = Math.min(values.length - 1, Math.max(1, Math.round(values.length * HELD_SHARE)));
      heldOf.set(p.name, new Set(seededShuffle(values, rng.int(2 ** 31)).slice(0, k)));
    }
    if (heldOf.size) heldValues[tool.name] = Object.fromEntries([...heldOf].map(([k, v]) => [k, [...v]]));
    try {
      const src = new ToolRowSource(schema, sideOf(tool, heldOf, false), opts.seed, used, opts.variety);
      train.push(...src.take(opts.perTool));
      if (!evalPerTool) continue;
      if (!heldOf.size) {
        held.push(...src.take(evalPerTool, opts.perTool));
        continue;
      }
      // Seen templates that copy a held-out value: every span parameter in them takes one.
      const seen = tool.templates.filter(
        (t) => src.templatesUsed.has(t) && templateParams(t).some((n) => heldOf.has(n)),
      );
      if (!seen.length)
        throw new SchemaError('schema', [
          {
            tool: tool.name,
            field: 'templates',
            message: 'no template seen in training holds a span parameter: give more training rows per tool',
          },
        ]);
      held.push(
        ...new ToolRowSource(schema, sideOf(tool, heldOf, true, seen), opts.seed + 1, used, opts.variety).take(
          evalPerTool,
        ),
      );
    } catch (e) {
      if (!(e instanceof SchemaError)) throw e;
      issues.push(...e.issues);
    }
  }
  if (issues.length) throw new SchemaError('schema', issues);
  return { train: seededShuffle(train, opts.seed), eval: seededShuffle(held, opts.seed + 1), heldValues };
}
