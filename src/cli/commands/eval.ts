// `eval`: greedy answers for every row of a dataset, scored as tool calls (intent, slots,
// exact match, invalid JSON) or as text; the report, then one JSON line with the numbers.

import { writeFile } from 'node:fs/promises';
import { DEFAULT_SYSTEM_PROMPT } from '../../data/examples.ts';
import { toolCallConstraint } from '../../data/constrain.ts';
import { textCallProblems, utteranceOf, type ToolSchema } from '../../data/schema.ts';
import { formatSeedRows } from '../../data/builder.ts';
import { evalSetFingerprint } from '../../data/sibling.ts';
import type { ToolCall } from '../../data/dataset.ts';
import type { EngineKind } from '../../engine/create.ts';
import { DatasetError } from '../../core/errors.ts';
import { GREEDY } from '../../engine/engine.ts';
import { DEFAULT_LORA } from '../../train/recipe.ts';
import { describeSkippedEval, evaluateWithTokenizer } from '../../eval/evaluate.ts';
import type { EvalReport } from '../../eval/metrics.ts';
import { formatReport } from '../../eval/report.ts';
import { parseFlags, UsageError, type FlagSpec, type Flags } from '../args.ts';
import { guardOutputs } from '../output-guard.ts';
import type { StagedOutput } from '../output.ts';
import { loadSchema } from './build-data.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder } from '../model-folder.ts';
import { progressBar } from '../progress.ts';
import { ALLOW_CONTROL_FLAG, controlTextPolicy, ENGINE_FLAG, F16_FLAG, f16Options, QUANT_FLAG, QUIET_FLAG, SPLIT_FLAG, line, loadEngine, loadEvalRows, type CliIo } from './common.ts';
import type { Quantization } from '../../core/nf4.ts';

export const EVAL_SUMMARY = 'accuracy of a model (+ adapter) on a dataset: intent, slots, exact call, invalid JSON';

export const EVAL_FLAGS: Record<string, FlagSpec> = {
  model: { kind: 'string', required: true, help: 'Hugging Face model folder' },
  adapter: { kind: 'string', help: 'PEFT adapter folder (omit to evaluate the base model)' },
  data: { kind: 'string', required: true, help: 'dataset file with the expected answers' },
  engine: ENGINE_FLAG,
  f16: F16_FLAG,
  quant: QUANT_FLAG,
  system: { kind: 'string', help: `system prompt used in training (default "${DEFAULT_SYSTEM_PROMPT}")` },
  'max-new-tokens': { kind: 'int', min: 1, help: 'longest answer generated (default 128)' },
  'eval-fraction': SPLIT_FLAG,
  seed: { kind: 'int', min: 0, help: 'seed of the split (default 42, as in train)' },
  limit: { kind: 'int', min: 1, help: 'evaluate only the first N rows' },
  schema: { kind: 'string', help: 'tool schema: reports the share of answers that are valid calls of it' },
  constrained: { kind: 'bool', help: 'decode under the schema, so every answer is a valid call (needs --schema)' },
  'free-spans': { kind: 'bool', help: 'with --constrained: let utterance-span values (x-source "utterance") be any string, not only substrings of the utterance' },
  predictions: { kind: 'string', help: 'write one JSON object per row (input, expected, generated) to this file (checked before anything loads)' },
  'wrong-out': { kind: 'string', help: 'write the wrongly answered rows (with their expected answers) in the seed format, for train --add' },
  overwrite: { kind: 'bool', help: 'replace an existing --predictions or --wrong-out file' },
  'allow-control-text': ALLOW_CONTROL_FLAG,
  quiet: QUIET_FLAG,
};

/** The numbers of a report as one flat JSON object (snake_case, as scripts expect). */
export function reportSummary(r: EvalReport): Record<string, number | null> {
  return {
    rows: r.rows,
    accuracy: r.accuracy,
    intent_accuracy: r.tool?.intentAccuracy ?? null,
    slot_precision: r.tool?.slotPrecision ?? null,
    slot_recall: r.tool?.slotRecall ?? null,
    slot_f1: r.tool?.slotF1 ?? null,
    exact_match: r.tool?.exactMatch ?? null,
    invalid_json_rate: r.tool?.invalidJsonRate ?? null,
    text_exact_match: r.textExactMatch ?? null,
    wrong: r.wrong.length,
  };
}

export async function runEval(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags('eval', argv, EVAL_FLAGS);
  if (f.constrained && !f.schema) throw new UsageError('eval: --constrained needs --schema');
  // The predictions file is checked first: never the dataset, model, adapter or schema being
  // read, and writable, so a bad --predictions costs a second, not the whole evaluation.
  const targets = [
    ...(f.predictions ? [{ flag: '--predictions', path: f.predictions as string, kind: 'file' as const }] : []),
    ...(f['wrong-out'] ? [{ flag: '--wrong-out', path: f['wrong-out'] as string, kind: 'file' as const }] : []),
  ];
  const staged = targets.length
    ? await guardOutputs('eval', targets, [
        { flag: '--data', path: f.data as string }, { flag: '--model', path: f.model as string },
        { flag: '--adapter', path: f.adapter as string | undefined }, { flag: '--schema', path: f.schema as string | undefined },
      ], { overwrite: Boolean(f.overwrite) })
    : {};
  try {
    return await evaluate(f, io, staged['--predictions'] ?? null, staged['--wrong-out'] ?? null);
  } finally {
    for (const s of Object.values(staged)) await s.abort();
  }
}

async function evaluate(f: Flags, io: CliIo, staged: StagedOutput | null, wrongOut: StagedOutput | null): Promise<number> {
  const schema: ToolSchema | null = f.schema ? await loadSchema(f.schema as string) : null;
  const model = await openModelFolder(f.model as string);
  const tok = await folderTokenizer(model);
  const adapter = f.adapter ? await openAdapterFolder(f.adapter as string, model.config) : null;
  // Only the evaluated rows are held: the file streams through (a 100 MB file costs its hashes, not its rows).
  const rows = await loadEvalRows(f.data as string, f['eval-fraction'] as number | undefined, (f.seed as number) ?? 42, f.limit as number | undefined, io);
  if (rows.length === 0) throw new DatasetError(f.data as string, [{ message: 'no rows to evaluate (the held-out side of --eval-fraction is empty)' }]);
  const controlTokens = controlTextPolicy(tok, rows, f.data as string, Boolean(f['allow-control-text']));
  const engine = await loadEngine((f.engine as EngineKind) ?? 'cpu', model, adapter?.settings ?? DEFAULT_LORA, 1, 64, f.quant as Quantization | undefined, f16Options(f.f16), io);
  try {
    if (adapter) await engine.setLora(adapter.tensors);
    else await engine.initLora(0); // B = 0: exactly the base model
    const constraint = f.constrained && schema ? toolCallConstraint(schema, model.extraFiles['tokenizer.json'], tok.eosTokenIds) : undefined;
    const maxNewTokens = (f['max-new-tokens'] as number | undefined) ?? GREEDY.maxNewTokens;
    if (constraint && maxNewTokens < constraint.minTokens)
      throw new UsageError(`eval: --max-new-tokens ${maxNewTokens} is too few for the shortest call of the schema (${constraint.minTokens} tokens)`);
    const bar = progressBar('eval', rows.length, io.stderr, Boolean(f.quiet));
    const { report, predictions, skipped } = await evaluateWithTokenizer(engine, tok, rows, {
      system: (f.system as string | undefined) ?? schema?.system,
      controlTokens,
      maxNewTokens,
      onProgress: (done) => bar.update(done),
      generation: constraint ? { constraint } : undefined,
      // Span values are tied to each row's own utterance: a small automaton per row, built per batch.
      generationFor: constraint && !f['free-spans'] ? (batch) => ({ constraint: constraint.forUtterances(batch.map((r) => utteranceOf(schema!, r.user))) }) : undefined,
      maxPositions: model.config.maxPositionEmbeddings,
    });
    bar.finish();
    if (skipped.length) line(io.stderr, `note: ${describeSkippedEval(skipped, maxNewTokens, model.config.maxPositionEmbeddings)}`);
    const problems = schema ? predictions.map((p) => textCallProblems(schema, p.generated)) : [];
    if (staged) {
      const lines = predictions.map((p, i) => JSON.stringify({ input: p.user, expected: p.expected, generated: p.generated, ...(schema ? { schema_problems: problems[i] } : {}) }));
      await staged.run((path) => writeFile(path, lines.map((l) => l + '\n').join('')));
    }
    if (wrongOut) {
      const byUser = new Map(rows.map((r) => [r.user, r]));
      const wrong = report.wrong.map((w) => byUser.get(predictions[w.index].user)!);
      const text = formatSeedRows(wrong.map((r) => {
        const input = schema ? utteranceOf(schema, r.user) : '';
        return { ...(r.system !== undefined ? { system: r.system } : {}), instruct: r.user.slice(0, r.user.length - input.length), input, output: (r.expected ?? r.answer) as ToolCall };
      }));
      await wrongOut.run((path) => writeFile(path, text));
      line(io.stderr, `${wrong.length} wrongly answered row(s) -> ${f['wrong-out']} (train --adapter ... --add ${f['wrong-out']} --schema ... makes new rows from them, never trains on them)`);
    }
    line(io.stdout, formatReport(report));
    const valid = schema ? problems.filter((p) => !p.length).length / Math.max(1, problems.length) : null;
    if (schema) line(io.stdout, `valid calls of the schema: ${(100 * valid!).toFixed(1)}% (${f.constrained ? 'constrained' : 'free'} decoding)`);
    const decoding = f.constrained ? (f['free-spans'] ? 'constrained-free-spans' : 'constrained') : 'free';
    const measured = new Set(predictions.map((p) => p.user));
    const evalSet = evalSetFingerprint(rows.filter((r) => measured.has(r.user)));
    line(io.stdout, JSON.stringify({ command: 'eval', decoding, eval_set: evalSet, ...reportSummary(report), schema_valid_rate: valid, skipped: skipped.length }));
    return 0;
  } finally {
    await engine.dispose();
  }
}
