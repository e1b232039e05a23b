// `build-data`: training (and held-out) rows from a tool schema's templates, in the seed's
// format. Nothing is written unless the schema is valid and every tool can give its rows.

import { readFile, writeFile } from 'node:fs/promises';
import { ModelFilesError } from '../../core/errors.ts';
import { augmentRows, type AugmentResult } from '../../data/augment.ts';
import { buildRows, formatSeedRows, type SeedRow } from '../../data/builder.ts';
import { parseToolSchema, type ToolSchema } from '../../data/schema.ts';
import { buildRowsByValues, EVAL_SPLITS, type EvalSplit } from '../../data/split-values.ts';
import { VARIANT_KINDS, type VariantKind } from '../../data/variety.ts';
import { GREEDY } from '../../engine/engine.ts';
import { DEFAULT_LORA } from '../../train/recipe.ts';
import { parseFlags, UsageError, type FlagSpec, type Flags } from '../args.ts';
import { guardOutputs } from '../output-guard.ts';
import type { StagedOutput } from '../output.ts';
import { folderTokenizer, openModelFolder } from '../model-folder.ts';
import { line, loadEngine, type CliIo } from './common.ts';

export const BUILD_DATA_SUMMARY =
  'rows in the seed format from a tool schema: templates x values, balanced per tool, no duplicates';

export const BUILD_DATA_FLAGS: Record<string, FlagSpec> = {
  schema: {
    kind: 'string',
    required: true,
    help: 'tool schema (tools with templates; see public/samples/meeting-schema.json)',
  },
  'per-tool': { kind: 'int', min: 1, required: true, help: 'training rows per tool' },
  seed: { kind: 'int', min: 0, help: 'seed: the same schema and seed give the same rows (default 42)' },
  out: { kind: 'string', required: true, help: 'training rows file to write (JSON)' },
  'eval-out': { kind: 'string', help: 'held-out rows file to write (needs --eval-per-tool)' },
  'eval-per-tool': { kind: 'int', min: 1, help: 'held-out rows per tool, none of them in the training rows' },
  'eval-split': {
    kind: 'choice',
    choices: [...EVAL_SPLITS],
    help: 'how rows are held out: "templates" (default: utterances drawn after the training ones) or "values" (templates training has seen, span values it has not: the copying test)',
  },
  variants: {
    kind: 'number',
    min: 0,
    max: 1,
    help: 'share of rows made variants of the templates\' words (fillers, politeness, particles, reordering, misrecognised speech: homophones, 两/二/2), marked "variant"; when the templates run dry, variants fill up the rows asked for (default: only those fill-ups; 0: none, and too few templates is refused)',
  },
  'variant-kinds': {
    kind: 'string',
    help: `comma-separated kinds of variants (default all: ${VARIANT_KINDS.join(',')})`,
  },
  'augment-model': {
    kind: 'string',
    help: 'model folder that rewrites training utterances in its own words (kept only when every value survives; marked "generated")',
  },
  'augment-per-tool': {
    kind: 'int',
    min: 1,
    help: 'training rows per tool to ask a rewrite of (default 5, with --augment-model)',
  },
  overwrite: { kind: 'bool', help: 'replace existing --out / --eval-out files' },
};

/** One sampled rewrite per row from the model folder's base model. */
async function augmentWithModel(
  dir: string,
  rows: SeedRow[],
  used: Iterable<string>,
  seed: number,
): Promise<AugmentResult> {
  const model = await openModelFolder(dir);
  const tok = await folderTokenizer(model);
  const engine = await loadEngine('cpu', model, DEFAULT_LORA, 1, 64);
  try {
    await engine.initLora(0); // B = 0: the base model as it is
    return await augmentRows(rows, used, async (requests) => {
      const prompts = requests.map((r) =>
        Int32Array.from(tok.encode(tok.renderChat([{ role: 'user', content: r }], { addGenerationPrompt: true }))),
      );
      const out: string[] = [];
      for (let i = 0; i < prompts.length; i += 8) {
        const res = await engine.generateBatch(prompts.slice(i, i + 8), {
          ...GREEDY,
          maxNewTokens: 64,
          temperature: 0.8,
          topP: 0.95,
          seed: seed + i,
          stopTokens: tok.eosTokenIds,
        });
        for (const r of res) out.push(tok.decode(r.tokens, { skipSpecial: true }));
      }
      return out;
    });
  } finally {
    await engine.dispose();
  }
}

/** Reads and checks a schema file; SchemaError (every problem, exit 3) when it is not usable. */
export async function loadSchema(path: string): Promise<ToolSchema> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelFilesError(
      path,
      `cannot read the schema (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return parseToolSchema(text, path);
}

export async function runBuildData(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags('build-data', argv, BUILD_DATA_FLAGS);
  if ((f['eval-out'] === undefined) !== (f['eval-per-tool'] === undefined))
    throw new UsageError('build-data: --eval-out and --eval-per-tool go together');
  // Both files are checked before anything is read: never the schema or the augmenting model,
  // never the same file twice (--out == --eval-out lost the training rows).
  const staged = await guardOutputs(
    'build-data',
    [
      { flag: '--out', path: f.out as string, kind: 'file' },
      ...(f['eval-out'] ? [{ flag: '--eval-out', path: f['eval-out'] as string, kind: 'file' as const }] : []),
    ],
    [
      { flag: '--schema', path: f.schema as string },
      { flag: '--augment-model', path: f['augment-model'] as string | undefined },
    ],
    { overwrite: Boolean(f.overwrite) },
  );
  try {
    return await build(f, io, staged);
  } finally {
    for (const s of Object.values(staged)) await s.abort();
  }
}

async function build(f: Flags, io: CliIo, staged: Record<string, StagedOutput>): Promise<number> {
  const schema = await loadSchema(f.schema as string);
  const perTool = f['per-tool'] as number,
    evalPerTool = (f['eval-per-tool'] as number | undefined) ?? 0;
  const seed = (f.seed as number | undefined) ?? 42;
  if (f['augment-per-tool'] !== undefined && !f['augment-model'])
    throw new UsageError('build-data: --augment-per-tool needs --augment-model');
  const split = (f['eval-split'] as EvalSplit | undefined) ?? 'templates';
  if (f['eval-split'] !== undefined && !evalPerTool)
    throw new UsageError('build-data: --eval-split needs --eval-per-tool and --eval-out');
  const kinds =
    f['variant-kinds'] === undefined
      ? undefined
      : (f['variant-kinds'] as string)
          .split(',')
          .map((k) => k.trim())
          .filter(Boolean);
  for (const k of kinds ?? [])
    if (!(VARIANT_KINDS as readonly string[]).includes(k))
      throw new UsageError(`build-data: --variant-kinds: "${k}" is not one of ${VARIANT_KINDS.join(', ')}`);
  if (kinds && f.variants === undefined) throw new UsageError('build-data: --variant-kinds needs --variants');
  // No --variants: rows are the templates' own, and variants only fill up a tool whose templates
  // run dry (a tool with 3 templates and no parameters still gives 50 rows). --variants 0: none
  // at all, and too few templates is refused.
  const share = (f.variants as number | undefined) ?? 0;
  const variety = f.variants === 0 ? undefined : { share, ...(kinds ? { kinds: kinds as VariantKind[] } : {}) };
  const opts = { perTool, evalPerTool, seed, ...(variety ? { variety } : {}) };
  const built = split === 'values' ? buildRowsByValues(schema, opts) : buildRows(schema, opts);
  const variants = [...built.train, ...built.eval].filter((r) => r.variant).length;
  if (variants || f.variants !== undefined)
    line(
      io.stderr,
      `variants: ${variants} of ${built.train.length + built.eval.length} rows (marked "variant")${f.variants === undefined ? ', filling up tools whose templates give fewer distinct utterances than asked (--variants 0: refuse instead)' : ''}`,
    );
  if ('heldValues' in built) {
    const heldValues = built.heldValues as Record<string, Record<string, string[]>>;
    const list = Object.entries(heldValues).flatMap(([t, ps]) =>
      Object.entries(ps).map(([p, v]) => `${t}.${p}: ${v.join(', ')}`),
    );
    line(
      io.stderr,
      `values split: held-out rows copy values training never shows (${list.join('; ') || 'no span parameters'})`,
    );
  }
  let augmented: AugmentResult | null = null;
  if (f['augment-model']) {
    const k = (f['augment-per-tool'] as number | undefined) ?? 5;
    const pick = schema.tools.flatMap((t) => built.train.filter((r) => r.output.tool_name === t.name).slice(0, k));
    augmented = await augmentWithModel(
      f['augment-model'] as string,
      pick,
      [...built.train, ...built.eval].map((r) => r.input),
      seed,
    );
    built.train.push(...augmented.rows);
    line(
      io.stderr,
      `augmentation: ${augmented.rows.length} of ${augmented.asked} rewrites kept (marked "generated")` +
        (Object.keys(augmented.dropped).length
          ? `; dropped: ${Object.entries(augmented.dropped)
              .map(([k, n]) => `${n} ${k}`)
              .join(', ')}`
          : ''),
    );
  }
  // Both written beside their targets first, then renamed: a failure leaves neither half-made.
  await writeFile(staged['--out'].staging, formatSeedRows(built.train));
  if (staged['--eval-out']) await writeFile(staged['--eval-out'].staging, formatSeedRows(built.eval));
  for (const s of Object.values(staged)) await s.commit();
  line(
    io.stderr,
    `${schema.tools.length} tools: ${built.train.length} training rows (${perTool} per tool) -> ${f.out}` +
      (f['eval-out']
        ? `, ${built.eval.length} held out (${evalPerTool} per tool, split by ${split}) -> ${f['eval-out']}`
        : ''),
  );
  line(
    io.stdout,
    JSON.stringify({
      command: 'build-data',
      tools: schema.tools.length,
      train: built.train.length,
      eval: built.eval.length,
      seed,
      out: f.out,
      eval_out: f['eval-out'] ?? null,
      eval_split: split,
      generated: augmented?.rows.length ?? 0,
      variants,
    }),
  );
  return 0;
}
