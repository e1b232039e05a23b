// Headless Webtune: `npm run cli -- <command> [flags]`. Results go to stdout (the last line is
// JSON), progress and errors to stderr. Exit codes: 0 done, 1 failed, 2 bad arguments (a flag,
// or an output that may not be written), 3 bad input (dataset, schema, model or adapter files).

import { pathToFileURL } from 'node:url';
import {
  AdapterError,
  DatasetError,
  ModelConfigError,
  ModelFilesError,
  NonFiniteWeightError,
  SafetensorsError,
  SchemaError,
  TokenizerError,
  WebtuneError,
  formatIssue,
  formatSchemaIssue,
} from '../core/errors.ts';
import { OutputError } from './output.ts';
import { UsageError, usage, type FlagSpec, type PositionalSpec } from './args.ts';
import { line, type CliIo } from './commands/common.ts';
import { BUILD_DATA_FLAGS, BUILD_DATA_SUMMARY, runBuildData } from './commands/build-data.ts';
import { EVAL_FLAGS, EVAL_SUMMARY, runEval } from './commands/eval.ts';
import { EXPORT_FLAGS, EXPORT_SUMMARY, runExport } from './commands/export.ts';
import { INSPECT_FLAGS, INSPECT_SUMMARY, runInspect } from './commands/inspect.ts';
import { GENERATE_FLAGS, GENERATE_SUMMARY, runGenerate } from './commands/generate.ts';
import { PLAN_FLAGS, PLAN_SUMMARY, runPlan } from './commands/plan.ts';
import { TRAIN_FLAGS, TRAIN_SUMMARY, runTrain } from './commands/train.ts';
import { GOLDEN_ARGS, GOLDEN_FLAGS, GOLDEN_SUMMARY, runGolden } from './golden.ts';

interface Command {
  summary: string;
  flags: Record<string, FlagSpec>;
  positionals?: PositionalSpec[];
  run(argv: string[], io: CliIo): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  train: { summary: TRAIN_SUMMARY, flags: TRAIN_FLAGS, run: runTrain },
  eval: { summary: EVAL_SUMMARY, flags: EVAL_FLAGS, run: runEval },
  generate: { summary: GENERATE_SUMMARY, flags: GENERATE_FLAGS, run: runGenerate },
  export: { summary: EXPORT_SUMMARY, flags: EXPORT_FLAGS, run: runExport },
  inspect: { summary: INSPECT_SUMMARY, flags: INSPECT_FLAGS, run: runInspect },
  plan: { summary: PLAN_SUMMARY, flags: PLAN_FLAGS, run: runPlan },
  'build-data': { summary: BUILD_DATA_SUMMARY, flags: BUILD_DATA_FLAGS, run: runBuildData },
  golden: { summary: GOLDEN_SUMMARY, flags: GOLDEN_FLAGS, positionals: GOLDEN_ARGS, run: runGolden },
};

export const EXIT = { ok: 0, failed: 1, usage: 2, data: 3 } as const;

function help(): string {
  const lines = ['usage: npm run cli -- <command> [flags]   (add --verbose for stack traces)', ''];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'npm run cli -- <command> --help lists its flags');
  return lines.join('\n');
}

/** Input files that are not what they must be are bad data (3); a target that may not be written is a bad argument (2). */
const BAD_INPUT = [
  ModelFilesError,
  ModelConfigError,
  SafetensorsError,
  AdapterError,
  NonFiniteWeightError,
  TokenizerError,
];

export function exitCodeOf(e: WebtuneError): number {
  if (e instanceof OutputError) return EXIT.usage;
  if (BAD_INPUT.some((c) => e instanceof c)) return EXIT.data;
  return EXIT.failed;
}

const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

export async function main(argvIn: string[], io: CliIo = processIo): Promise<number> {
  const verbose = argvIn.includes('--verbose');
  const argv = argvIn.filter((a) => a !== '--verbose');
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === 'help') {
    line(name ? io.stdout : io.stderr, help());
    return name ? EXIT.ok : EXIT.usage;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    line(io.stderr, `error: unknown command "${name}"\n\n${help()}`);
    return EXIT.usage;
  }
  if (rest.includes('--help')) {
    line(io.stdout, usage(name, cmd.summary, cmd.flags, cmd.positionals));
    return EXIT.ok;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (verbose && e instanceof Error) line(io.stderr, e.stack ?? String(e));
    if (e instanceof UsageError) {
      line(io.stderr, `error: ${e.message}`);
      line(io.stderr, '\n' + usage(name, cmd.summary, cmd.flags, cmd.positionals));
      return EXIT.usage;
    }
    if (e instanceof DatasetError) {
      line(io.stderr, `error: ${e.file}: ${e.issues.length} problem(s), nothing was trained or evaluated:`);
      for (const i of e.issues) line(io.stderr, `  ${e.file}: ${formatIssue(i)}`);
      return EXIT.data;
    }
    if (e instanceof SchemaError) {
      line(io.stderr, `error: ${e.file}: ${e.issues.length} problem(s) in the tool schema, nothing was written:`);
      for (const i of e.issues) line(io.stderr, `  ${e.file}: ${formatSchemaIssue(i)}`);
      return EXIT.data;
    }
    if (e instanceof WebtuneError) {
      line(io.stderr, `error: ${e.name}: ${e.message}`);
      return exitCodeOf(e);
    }
    line(
      io.stderr,
      `error: ${e instanceof Error ? e.message : String(e)}${verbose ? '' : ' (run with --verbose for the stack trace)'}`,
    );
    return EXIT.failed;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv.slice(2));
  // Engine worker threads may linger; the command is over, so leave with its code.
  process.exit(code);
}
