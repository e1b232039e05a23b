// The flag parser on node:util parseArgs: values checked by kind, errors that name the flag.
import { describe, expect, it } from 'vitest';
import { parseCommand, parseFlags, UsageError, type FlagSpec } from '../src/cli/args.ts';

const SPEC: Record<string, FlagSpec> = {
  lr: { kind: 'number', min: 0, help: 'learning rate' },
  seed: { kind: 'int', help: 'seed' },
  engine: { kind: 'choice', choices: ['cpu', 'webgpu'], help: 'engine' },
  quiet: { kind: 'bool', help: 'quiet' },
};

const fails = (argv: string[], positionals = [] as { name: string; help: string }[]) => {
  try {
    parseCommand('cmd', argv, SPEC, positionals);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`${argv.join(' ')} parsed`);
};

describe('parseFlags', () => {
  it('reads `--name value`, `--name=value` and bare booleans, converting by kind', () => {
    expect(parseFlags('cmd', ['--lr', '1e-4', '--seed=-3', '--engine', 'webgpu', '--quiet'], SPEC)).toEqual({
      lr: 1e-4,
      seed: -3,
      engine: 'webgpu',
      quiet: true,
    });
    expect(parseFlags('cmd', [], SPEC)).toEqual({});
  });

  it('names the flag in every refusal', () => {
    expect(fails(['--lr', 'fast'])).toBe('cmd: --lr must be a number, got "fast"');
    expect(fails(['--lr', '-1'])).toMatch(/^cmd: --lr needs a value \(write a value starting with "-" as --lr=-1\)/);
    expect(fails(['--lr=-1'])).toBe('cmd: --lr must be at least 0, got "-1"');
    expect(fails(['--seed', '1.5'])).toBe('cmd: --seed must be an integer, got "1.5"');
    expect(fails(['--engine', 'tpu'])).toBe('cmd: --engine must be one of cpu, webgpu, got "tpu"');
    expect(fails(['--seed'])).toBe('cmd: --seed needs a value');
    expect(fails(['--quiet=yes'])).toBe('cmd: --quiet takes no value');
    expect(fails(['--bogus'])).toBe('cmd: unknown flag --bogus (known: --lr, --seed, --engine, --quiet)');
    expect(fails(['stray'])).toBe('cmd: unexpected argument "stray"');
  });

  it('takes declared positionals in order and requires them', () => {
    const pos = [{ name: 'dir', help: 'a folder' }];
    expect(parseCommand('cmd', ['case', '--quiet'], SPEC, pos)).toEqual({ flags: { quiet: true }, args: ['case'] });
    expect(fails(['--quiet'], pos)).toBe('cmd: <dir> is required (a folder)');
    expect(fails(['a', 'b'], pos)).toBe('cmd: unexpected argument "b"');
  });
});
