// `build-data`: training (and held-out) rows from a tool schema's templates, in the seed's
// format. Nothing is written unless the schema is valid and every tool can give its rows.

import { readFile, writeFile } from 'node:fs/promises';
import { ModelFilesError } from '../../core/errors.ts';
import { buildRows, formatSeedRows } from '../../data/builder.ts';
import { parseToolSchema, type ToolSchema } from '../../data/schema.ts';
import { parseFlags, UsageError, type FlagSpec } from '../args.ts';
import { line, type CliIo } from './common.ts';

export const BUILD_DATA_SUMMARY = 'rows in the seed format from a tool schema: templates x values, balanced per tool, no duplicates';

export const BUILD_DATA_FLAGS: Record<string, FlagSpec> = {
  schema: { kind: 'string', required: true, help: 'tool schema (tools with templates; see public/samples/meeting-schema.json)' },
  'per-tool': { kind: 'int', min: 1, required: true, help: 'training rows per tool' },
  seed: { kind: 'int', min: 0, help: 'seed: the same schema and seed give the same rows (default 42)' },
  out: { kind: 'string', required: true, help: 'training rows file to write (JSON)' },
  'eval-out': { kind: 'string', help: 'held-out rows file to write (needs --eval-per-tool)' },
  'eval-per-tool': { kind: 'int', min: 1, help: 'held-out rows per tool, none of them in the training rows' },
};

/** Reads and checks a schema file; SchemaError (every problem, exit 3) when it is not usable. */
export async function loadSchema(path: string): Promise<ToolSchema> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelFilesError(path, `cannot read the schema (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseToolSchema(text, path);
}

export async function runBuildData(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags('build-data', argv, BUILD_DATA_FLAGS);
  if ((f['eval-out'] === undefined) !== (f['eval-per-tool'] === undefined)) throw new UsageError('build-data: --eval-out and --eval-per-tool go together');
  const schema = await loadSchema(f.schema as string);
  const perTool = f['per-tool'] as number, evalPerTool = (f['eval-per-tool'] as number | undefined) ?? 0;
  const seed = (f.seed as number | undefined) ?? 42;
  const built = buildRows(schema, { perTool, evalPerTool, seed });
  await writeFile(f.out as string, formatSeedRows(built.train));
  if (f['eval-out']) await writeFile(f['eval-out'] as string, formatSeedRows(built.eval));
  line(io.stderr, `${schema.tools.length} tools: ${built.train.length} training rows (${perTool} per tool) -> ${f.out}` +
    (f['eval-out'] ? `, ${built.eval.length} held out (${evalPerTool} per tool) -> ${f['eval-out']}` : ''));
  line(io.stdout, JSON.stringify({ command: 'build-data', tools: schema.tools.length, train: built.train.length, eval: built.eval.length, seed, out: f.out, eval_out: f['eval-out'] ?? null }));
  return 0;
}
