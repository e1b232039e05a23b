// `eval`: greedy answers for every row of a dataset, scored as tool calls (intent, slots,
// exact match, invalid JSON) or as text; the report, then one JSON line with the numbers.

import { closeSync, openSync, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { DEFAULT_SYSTEM_PROMPT } from '../../data/examples.ts';
import { toolCallConstraint } from '../../data/constrain.ts';
import { textCallProblems, utteranceOf, type ToolSchema } from '../../data/schema.ts';
import { formatSeedRows } from '../../data/builder.ts';
import { FingerprintBuilder } from '../../data/sibling.ts';
import { controlTextIssues, controlTokens } from '../../data/control-text.ts';
import type { DatasetRow, ToolCall } from '../../data/dataset.ts';
import type { EngineKind } from '../../engine/create.ts';
import { DatasetError, type DatasetIssue } from '../../core/errors.ts';
import { GREEDY } from '../../engine/engine.ts';
import { DEFAULT_LORA } from '../../train/recipe.ts';
import { describeSkippedEval, RowEvaluator, tokenizerEvalOptions } from '../../eval/evaluate.ts';
import type { EvalReport } from '../../eval/metrics.ts';
import { formatReport } from '../../eval/report.ts';
import { parseFlags, UsageError, type FlagSpec, type Flags } from '../args.ts';
import { guardOutputs } from '../output-guard.ts';
import type { StagedOutput } from '../output.ts';
import { loadSchema } from './build-data.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder } from '../model-folder.ts';
import { progressBar } from '../progress.ts';
import {
  ALLOW_CONTROL_FLAG,
  ENGINE_FLAG,
  F16_FLAG,
  f16Options,
  QUANT_FLAG,
  QUIET_FLAG,
  SPLIT_FLAG,
  line,
  loadEngine,
  streamEvalRows,
  type CliIo,
} from './common.ts';
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
  'free-spans': {
    kind: 'bool',
    help: 'with --constrained: let utterance-span values (x-source "utterance") be any string, not only substrings of the utterance',
  },
  predictions: {
    kind: 'string',
    help: 'write one JSON object per row (input, expected, generated) to this file (checked before anything loads)',
  },
  'wrong-out': {
    kind: 'string',
    help: 'write the wrongly answered rows (with their expected answers) in the seed format, for train --add',
  },
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
    ? await guardOutputs(
        'eval',
        targets,
        [
          { flag: '--data', path: f.data as string },
          { flag: '--model', path: f.model as string },
          { flag: '--adapter', path: f.adapter as string | undefined },
          { flag: '--schema', path: f.schema as string | undefined },
        ],
        { overwrite: Boolean(f.overwrite) },
      )
    : {};
  try {
    return await evaluate(f, io, staged['--predictions'] ?? null, staged['--wrong-out'] ?? null);
  } finally {
    for (const s of Object.values(staged)) await s.abort();
  }
}

async function evaluate(
  f: Flags,
  io: CliIo,
  staged: StagedOutput | null,
  wrongOut: StagedOutput | null,
): Promise<number> {
  const schema: ToolSchema | null = f.schema ? await loadSchema(f.schema as string) : null;
  const model = await openModelFolder(f.model as string);
  const tok = await folderTokenizer(model);
  const adapter = f.adapter ? await openAdapterFolder(f.adapter as string, model.config) : null;
  const data = f.data as string;
  const pick = [
    f['eval-fraction'] as number | undefined,
    (f.seed as number) ?? 42,
    f.limit as number | undefined,
  ] as const;
  // The rows stream through twice and none is held (issue 23): first counted and checked for
  // spelled control tokens (refused before anything is scored), then scored a batch at a time.
  const allow = Boolean(f['allow-control-text']);
  const spelled = { issues: [] as DatasetIssue[], count: 0 };
  const total = await streamEvalRows(
    data,
    ...pick,
    (r) => {
      if (allow) return;
      const found = controlTextIssues([r], controlTokens(tok));
      spelled.count += found.count;
      // a row's issues one by one: a spread of an unbounded list into a call can overflow the stack
      for (const issue of found.issues) if (spelled.issues.length < SPELLED_SHOWN) spelled.issues.push(issue);
    },
    () => ((spelled.issues = []), (spelled.count = 0)),
    io,
  );
  if (total === 0)
    throw new DatasetError(data, [{ message: 'no rows to evaluate (the held-out side of --eval-fraction is empty)' }]);
  if (spelled.count)
    throw new DatasetError(data, [
      ...spelled.issues,
      ...(spelled.count > spelled.issues.length
        ? [{ message: `${spelled.count - spelled.issues.length} more row(s) spell a control token` }]
        : []),
    ]);
  const engine = await loadEngine(
    (f.engine as EngineKind) ?? 'cpu',
    model,
    adapter?.settings ?? DEFAULT_LORA,
    1,
    64,
    f.quant as Quantization | undefined,
    f16Options(f.f16),
    io,
  );
  try {
    if (adapter) await engine.setLora(adapter.tensors);
    else await engine.initLora(0); // B = 0: exactly the base model
    const constraint =
      f.constrained && schema
        ? toolCallConstraint(schema, model.extraFiles['tokenizer.json'], tok.eosTokenIds)
        : undefined;
    const maxNewTokens = (f['max-new-tokens'] as number | undefined) ?? GREEDY.maxNewTokens;
    if (constraint && maxNewTokens < constraint.minTokens)
      throw new UsageError(
        `eval: --max-new-tokens ${maxNewTokens} is too few for the shortest call of the schema (${constraint.minTokens} tokens)`,
      );
    const bar = progressBar('eval', total, io.stderr, Boolean(f.quiet));
    const options = tokenizerEvalOptions(tok, {
      system: (f.system as string | undefined) ?? schema?.system,
      controlTokens: allow ? controlTokens(tok) : undefined,
      maxNewTokens,
      onProgress: (done) => bar.update(done),
      generation: constraint ? { constraint } : undefined,
      // Span values are tied to each row's own utterance: a small automaton per row, built per batch.
      generationFor:
        constraint && !f['free-spans']
          ? (batch) => ({ constraint: constraint.forUtterances(batch.map((r) => utteranceOf(schema!, r.user))) })
          : undefined,
      maxPositions: model.config.maxPositionEmbeddings,
    });
    // What the outputs need is all that is kept: the running metrics, the wrong rows (for
    // --wrong-out), a 4-byte hash per scored row (the set's fingerprint); predictions go to disk.
    const start = () => {
      const s = {
        wrong: [] as DatasetRow[],
        set: new FingerprintBuilder(),
        valid: 0,
        out: staged ? openSync(staged.staging, 'w') : undefined,
        ev: undefined as unknown as RowEvaluator,
      };
      s.ev = new RowEvaluator(engine, {
        ...options,
        onPrediction: (p, row, wrong) => {
          s.set.add(row as DatasetRow);
          const problems = schema ? textCallProblems(schema, p.generated) : [];
          if (!problems.length) s.valid++;
          if (wrong && wrongOut) s.wrong.push(row as DatasetRow);
          if (s.out !== undefined)
            writeSync(
              s.out,
              JSON.stringify({
                input: p.user,
                expected: p.expected,
                generated: p.generated,
                ...(schema ? { schema_problems: problems } : {}),
              }) + '\n',
            );
        },
      });
      return s;
    };
    let run = start();
    let result: Awaited<ReturnType<RowEvaluator['finish']>>;
    try {
      // A file read again in another encoding scores again from the top.
      await streamEvalRows(
        data,
        ...pick,
        (r) => run.ev.add(r),
        () => {
          if (run.out !== undefined) closeSync(run.out);
          run = start();
        },
      );
      result = await run.ev.finish();
    } finally {
      if (run.out !== undefined) closeSync(run.out);
    }
    const { report, skipped } = result;
    bar.finish();
    if (skipped.length)
      line(io.stderr, `note: ${describeSkippedEval(skipped, maxNewTokens, model.config.maxPositionEmbeddings)}`);
    if (staged) await staged.commit();
    if (wrongOut) {
      const text = formatSeedRows(
        run.wrong.map((r) => {
          const input = schema ? utteranceOf(schema, r.user) : '';
          return {
            ...(r.system !== undefined ? { system: r.system } : {}),
            instruct: r.user.slice(0, r.user.length - input.length),
            input,
            output: (r.expected ?? r.answer) as ToolCall,
          };
        }),
      );
      await wrongOut.run((path) => writeFile(path, text));
      line(
        io.stderr,
        `${run.wrong.length} wrongly answered row(s) -> ${f['wrong-out']} (train --adapter ... --add ${f['wrong-out']} --schema ... makes new rows from them, never trains on them)`,
      );
    }
    line(io.stdout, formatReport(report));
    const valid = schema ? run.valid / Math.max(1, report.rows) : null;
    if (schema)
      line(
        io.stdout,
        `valid calls of the schema: ${(100 * valid!).toFixed(1)}% (${f.constrained ? 'constrained' : 'free'} decoding)`,
      );
    const decoding = f.constrained ? (f['free-spans'] ? 'constrained-free-spans' : 'constrained') : 'free';
    line(
      io.stdout,
      JSON.stringify({
        command: 'eval',
        decoding,
        eval_set: run.set.value(),
        ...reportSummary(report),
        schema_valid_rate: valid,
        skipped: skipped.length,
      }),
    );
    return 0;
  } finally {
    await engine.dispose();
  }
}

/** Rows named when some spell a control token (the rest counted), as controlTextIssues names them. */
const SPELLED_SHOWN = 20;
