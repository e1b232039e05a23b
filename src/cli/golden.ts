// `golden <case-dir> [--engine cpu|webgpu] [--f16 on|off] [--quant none|nf4] [--pad] [--dump file]`: replays a PyTorch
// golden case (../shared/golden/README.md) and checks every number it holds. One line per check,
// then a JSON summary; exit code 1 when any check fails. A case whose case.json says
// "quant": {"type": "nf4"} loads the base as NF4 unless --quant says otherwise.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeSafetensors, concatParts, type TensorToWrite } from '../core/safetensors.ts';
import type { EngineKind, CreateEngineOptions } from '../engine/create.ts';
import { parseCommand, type FlagSpec, type Flags, type PositionalSpec } from './args.ts';
import { guardOutputs } from './output-guard.ts';
import type { StagedOutput } from './output.ts';
import { ENGINE_FLAG, F16_FLAG, QUANT_FLAG, f16Options, line, type CliIo } from './commands/common.ts';
import type { Quantization } from '../core/nf4.ts';
import { runGoldenCaseFrom, type Check } from './golden-case.ts';

export { caseSettings, compare, GOLDEN_BOUNDS, runGoldenCaseFrom, type Check, type CaseReader } from './golden-case.ts';

/** Replays the golden case in folder `dir` (see golden-case.ts). */
export function runGoldenCase(
  dir: string,
  engineKind: EngineKind,
  log: (line: string) => void = console.log,
  engineOpts: CreateEngineOptions = {},
  recompute?: boolean,
  quant?: Quantization,
  pack = true,
): Promise<{ checks: Check[]; dump: Record<string, { data: Float32Array | Int32Array; shape: number[] }> }> {
  return runGoldenCaseFrom(
    async (f) => new Uint8Array(await readFile(join(dir, f))),
    dir,
    engineKind,
    log,
    engineOpts,
    recompute,
    quant,
    pack,
  );
}

export const GOLDEN_SUMMARY = 'replay a PyTorch golden case and check every number it holds (exit 1 when one fails)';
export const GOLDEN_ARGS: PositionalSpec[] = [
  { name: 'case-dir', help: 'a golden case folder: config.json, case.json and the .safetensors files' },
];
export const GOLDEN_FLAGS: Record<string, FlagSpec> = {
  engine: ENGINE_FLAG,
  f16: F16_FLAG,
  quant: { ...QUANT_FLAG, help: 'base weights: none or nf4 (default: what case.json says)' },
  pad: {
    kind: 'bool',
    help: 'train on the padded micro-batches (default: rows packed end to end, no padding computed)',
  },
  dump: {
    kind: 'string',
    help: 'write what the engine computed, under the expected tensor names, to this .safetensors file',
  },
  overwrite: { kind: 'bool', help: 'replace an existing --dump file' },
};

export async function runGolden(argv: string[], io: CliIo): Promise<number> {
  const {
    flags,
    args: [dir],
  } = parseCommand('golden', argv, GOLDEN_FLAGS, GOLDEN_ARGS);
  const engine = (flags.engine as EngineKind | undefined) ?? 'cpu';
  // --dump is checked before the replay: never a file of the case itself, and writable.
  const staged = flags.dump
    ? (
        await guardOutputs(
          'golden',
          [{ flag: '--dump', path: flags.dump as string, kind: 'file' }],
          [{ flag: '<case-dir>', path: dir }],
          { overwrite: Boolean(flags.overwrite) },
        )
      )['--dump']
    : null;
  try {
    return await replay(dir, engine, flags, io, staged);
  } finally {
    await staged?.abort();
  }
}

async function replay(
  dir: string,
  engine: EngineKind,
  flags: Flags,
  io: CliIo,
  staged: StagedOutput | null,
): Promise<number> {
  const t0 = performance.now();
  const { checks, dump } = await runGoldenCase(
    dir,
    engine,
    (l) => line(io.stdout, l),
    f16Options(flags.f16),
    undefined,
    flags.quant as Quantization | undefined,
    !flags.pad,
  );
  const failed = checks.filter((c) => !c.ok);
  if (staged) {
    const tensors: TensorToWrite[] = Object.entries(dump).map(([name, t]) => ({
      name,
      dtype: t.data instanceof Int32Array ? 'I32' : 'F32',
      shape: t.shape,
      data: t.data,
    }));
    await staged.run((path) => writeFile(path, concatParts(encodeSafetensors(tensors))));
  }
  line(
    io.stdout,
    JSON.stringify({
      case: dir,
      engine,
      packed: !flags.pad,
      checks: checks.length,
      failed: failed.map((c) => c.name),
      ok: failed.length === 0,
      seconds: +((performance.now() - t0) / 1000).toFixed(2),
    }),
  );
  return failed.length ? 1 : 0;
}
