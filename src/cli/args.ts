// Flag parsing for the CLI: `--name value` and `--flag`, each checked against its declared kind
// so a typo or a bad number stops the command with the flag named, before any work starts.

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
}

export type Flags = Record<string, string | number | boolean | undefined>;

export function parseFlags(command: string, argv: string[], spec: Record<string, FlagSpec>): Flags {
  const out: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`${command}: unexpected argument "${arg}"`);
    const name = arg.slice(2);
    const s = spec[name];
    if (!s) throw new UsageError(`${command}: unknown flag --${name} (known: ${Object.keys(spec).map((k) => `--${k}`).join(', ')})`);
    if (s.kind === 'bool') {
      out[name] = true;
      continue;
    }
    const raw = argv[++i];
    if (raw === undefined) throw new UsageError(`${command}: --${name} needs a value`);
    out[name] = convert(command, name, s, raw);
  }
  for (const [name, s] of Object.entries(spec)) if (s.required && out[name] === undefined) throw new UsageError(`${command}: --${name} is required (${s.help})`);
  return out;
}

function convert(command: string, name: string, s: FlagSpec, raw: string): string | number {
  const bad = (what: string) => new UsageError(`${command}: --${name} ${what}, got "${raw}"`);
  switch (s.kind) {
    case 'string':
      return raw;
    case 'choice':
      if (!s.choices!.includes(raw)) throw bad(`must be one of ${s.choices!.join(', ')}`);
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw bad('must be an integer');
      const v = Number(raw);
      if (s.min !== undefined && v < s.min) throw bad(`must be at least ${s.min}`);
      return v;
    }
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw bad('must be a number');
      if (s.min !== undefined && v < s.min) throw bad(`must be at least ${s.min}`);
      if (s.below !== undefined && v >= s.below) throw bad(`must be below ${s.below}`);
      return v;
    }
    default:
      throw bad('has an unknown kind');
  }
}

export function usage(command: string, summary: string, spec: Record<string, FlagSpec>): string {
  const lines = [`${command}: ${summary}`];
  for (const [name, s] of Object.entries(spec)) {
    const value = s.kind === 'bool' ? '' : s.kind === 'choice' ? ` ${s.choices!.join('|')}` : ' <value>';
    lines.push(`  --${name}${value}`.padEnd(34) + s.help + (s.required ? ' (required)' : ''));
  }
  return lines.join('\n');
}
