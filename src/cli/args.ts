// Flag parsing for the CLI and the scripts: node:util parseArgs splits `--name value`,
// `--name=value` and `--flag`; each value is then checked against its declared kind, so a typo
// or a bad number stops the command with the flag named, before any work starts.

import { parseArgs } from 'node:util';
import { WebtuneError } from '../core/errors.ts';

/** Wrong or missing command-line arguments (exit code 2). */
export class UsageError extends WebtuneError {}

export type FlagKind = 'string' | 'int' | 'number' | 'bool' | 'choice';

export interface FlagSpec {
  kind: FlagKind;
  help: string;
  required?: boolean;
  choices?: readonly string[];
  /** Smallest allowed value for int / number flags. */
  min?: number;
  /** For number flags: the value must be below this. */
  below?: number;
  /** For number flags: the value must be above this. */
  above?: number;
  /** Largest allowed value for int / number flags. */
  max?: number;
  /**
   * For int / number flags: the whole check of a value (a training setting's, from the settings
   * spec, the same one the page runs); it replaces the min/max/below/above checks.
   */
  check?: (raw: string) => { value: number } | { error: string };
}

export type Flags = Record<string, string | number | boolean | undefined>;

/** Positional arguments a command takes, in order, e.g. `golden <case-dir>`. */
export interface PositionalSpec {
  name: string;
  help: string;
}

export function parseFlags(command: string, argv: string[], spec: Record<string, FlagSpec>): Flags {
  return parseCommand(command, argv, spec).flags;
}

export function parseCommand(
  command: string,
  argv: string[],
  spec: Record<string, FlagSpec>,
  positionals: readonly PositionalSpec[] = [],
): { flags: Flags; args: string[] } {
  const options = Object.fromEntries(
    Object.entries(spec).map(([name, s]) => [
      name,
      { type: s.kind === 'bool' ? ('boolean' as const) : ('string' as const) },
    ]),
  );
  let parsed: ReturnType<
    typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true; tokens: true }>
  >;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true, tokens: true });
  } catch (e) {
    throw usageFromNode(command, e as Error & { code?: string }, spec);
  }
  // parseArgs keeps the last of `--data A --data B` silently: a flag that takes one value may be given once.
  const given = new Map<string, string[]>();
  for (const t of parsed.tokens ?? [])
    if (t.kind === 'option' && t.value !== undefined) given.set(t.name, [...(given.get(t.name) ?? []), t.value]);
  for (const [name, values] of given)
    if (values.length > 1)
      throw new UsageError(
        `${command}: --${name} is given ${values.length} times (${values.map((v) => JSON.stringify(v)).join(', ')}); it takes one value`,
      );
  const args = parsed.positionals;
  if (args.length > positionals.length)
    throw new UsageError(`${command}: unexpected argument "${args[positionals.length]}"`);
  const missing = positionals[args.length];
  if (missing) throw new UsageError(`${command}: <${missing.name}> is required (${missing.help})`);
  const flags: Flags = {};
  for (const [name, raw] of Object.entries(parsed.values))
    flags[name] = typeof raw === 'string' ? convert(command, name, spec[name], raw) : raw;
  for (const [name, s] of Object.entries(spec))
    if (s.required && flags[name] === undefined) throw new UsageError(`${command}: --${name} is required (${s.help})`);
  return { flags, args };
}

/** parseArgs' own errors, reworded the way the rest of the CLI speaks. */
function usageFromNode(command: string, e: Error & { code?: string }, spec: Record<string, FlagSpec>): UsageError {
  const flag = /'(-[^' ]+)/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(
        `${command}: unknown flag ${flag} (known: ${Object.keys(spec)
          .map((k) => `--${k}`)
          .join(', ')})`,
      );
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(e.message)) return new UsageError(`${command}: ${flag} takes no value`);
      if (/ambiguous/.test(e.message))
        return new UsageError(`${command}: ${flag} needs a value (write a value starting with "-" as ${flag}=-1)`);
      return new UsageError(`${command}: ${flag} needs a value`);
    default:
      return new UsageError(`${command}: ${e.message}`);
  }
}

function convert(command: string, name: string, s: FlagSpec, raw: string): string | number {
  const bad = (what: string) => new UsageError(`${command}: --${name} ${what}, got "${raw}"`);
  switch (s.kind) {
    case 'string':
      return raw;
    case 'choice':
      if (!s.choices!.includes(raw)) throw bad(`must be one of ${s.choices!.join(', ')}`);
      return raw;
    case 'int':
    case 'number':
      if (s.check) {
        const r = s.check(raw);
        if ('error' in r) throw bad(r.error);
        return r.value;
      }
      return s.kind === 'int' ? convertInt(raw, s, bad) : convertNumber(raw, s, bad);
    default:
      throw bad('has an unknown kind');
  }
}

function convertInt(raw: string, s: FlagSpec, bad: (what: string) => UsageError): number {
  if (!/^-?\d+$/.test(raw)) throw bad('must be an integer');
  const v = Number(raw);
  if (s.min !== undefined && v < s.min) throw bad(`must be at least ${s.min}`);
  if (s.max !== undefined && v > s.max) throw bad(`must be at most ${s.max}`);
  return v;
}

function convertNumber(raw: string, s: FlagSpec, bad: (what: string) => UsageError): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v)) throw bad('must be a number');
  if (s.min !== undefined && v < s.min) throw bad(`must be at least ${s.min}`);
  if (s.below !== undefined && v >= s.below) throw bad(`must be below ${s.below}`);
  if (s.above !== undefined && v <= s.above) throw bad(`must be above ${s.above}`);
  if (s.max !== undefined && v > s.max) throw bad(`must be at most ${s.max}`);
  return v;
}

export function usage(
  command: string,
  summary: string,
  spec: Record<string, FlagSpec>,
  positionals: readonly PositionalSpec[] = [],
): string {
  const lines = [`${command}${positionals.map((p) => ` <${p.name}>`).join('')}: ${summary}`];
  for (const p of positionals) lines.push(`  <${p.name}>`.padEnd(33) + ' ' + p.help);
  for (const [name, s] of Object.entries(spec)) {
    const value = s.kind === 'bool' ? '' : s.kind === 'choice' ? ` ${s.choices!.join('|')}` : ' <value>';
    lines.push(`  --${name}${value}`.padEnd(33) + ' ' + s.help + (s.required ? ' (required)' : ''));
  }
  return lines.join('\n');
}

/**
 * A script's flags: parsed and checked like a CLI command's; `--help` prints the usage and exits,
 * and a UsageError carries the usage after its message for the script to print.
 */
export function scriptFlags(
  script: string,
  summary: string,
  spec: Record<string, FlagSpec>,
  argv = process.argv.slice(2),
): Flags {
  if (argv.includes('--help')) {
    console.log(usage(script, summary, spec));
    process.exit(0);
  }
  try {
    return parseFlags(script, argv, spec);
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(`${e.message}\n\n${usage(script, summary, spec)}`) : e;
  }
}
