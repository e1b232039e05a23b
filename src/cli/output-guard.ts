// The one gate every CLI command that writes goes through, before it does any work: each target
// is checked against the command's own inputs (by real path and by device + inode, so a
// symlink, a hard link or `./x/../x` cannot hide that `--predictions` is the dataset being
// evaluated or that `--out` is the model folder), against the command's other targets, and for
// being writable; leftovers of killed Webtune writers in the target's folder are swept. Writing
// itself is StagedOutput's (output.ts): beside the target, renamed into place, removed on failure,
// and on SIGINT / SIGTERM (a handler below removes every staging folder still open).

import { rmSync } from 'node:fs';
import { lstat, open, readdir, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { OutputError, StagedOutput, recoverLeftovers, type OutputOptions } from './output.ts';

export interface GuardedInput {
  /** The flag that named it (`--data`, `<case-dir>`). */
  flag: string;
  path: string | undefined;
}

export interface GuardedTarget {
  flag: string;
  path: string;
  kind: 'file' | 'dir';
}

interface Identity {
  flag: string;
  shown: string;
  real: string;
  dev: number;
  ino: number;
  /** The input itself, not a file inside an input folder. */
  top: boolean;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** An input's identity and, for a folder, those of the files directly in it (a model folder's weights). */
async function identities(input: GuardedInput): Promise<Identity[]> {
  if (!input.path) return [];
  const st = await stat(input.path).catch(() => null);
  // A missing input is the command's own error to report, with its own words.
  if (!st) return [];
  const real = await realpath(input.path);
  const out: Identity[] = [{ flag: input.flag, shown: input.path, real, dev: st.dev, ino: st.ino, top: true }];
  if (st.isDirectory()) {
    for (const name of await readdir(real).catch(() => [] as string[])) {
      const s = await stat(join(real, name)).catch(() => null);
      if (s?.isFile())
        out.push({
          flag: input.flag,
          shown: join(input.path, name),
          real: join(real, name),
          dev: s.dev,
          ino: s.ino,
          top: false,
        });
    }
  }
  return out;
}

/** The real path a target has or will have: its own when it exists, else its nearest existing folder's plus the rest. */
async function realTarget(path: string): Promise<string> {
  const abs = resolve(path);
  const rest: string[] = [];
  for (let at = abs; ; at = dirname(at)) {
    const r = await realpath(at).catch(() => null);
    if (r) return join(r, ...rest.reverse());
    rest.push(basename(at));
    if (dirname(at) === at) return abs;
  }
}

const inside = (child: string, parent: string) =>
  child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

/**
 * Refuses a target that is (or, being a folder, holds) one of the inputs, or that another target
 * of the same command also names. Throws OutputError naming both flags.
 */
export async function checkTargetsAgainstInputs(
  command: string,
  targets: GuardedTarget[],
  inputs: GuardedInput[],
): Promise<void> {
  const ids = (await Promise.all(inputs.map(identities))).flat();
  const seen: { flag: string; real: string }[] = [];
  for (const t of targets) {
    const real = await realTarget(t.path);
    const st = await stat(t.path).catch(() => null);
    for (const i of ids) {
      const same = (st && st.dev === i.dev && st.ino === i.ino) || real === i.real;
      if (same)
        throw new OutputError(
          t.path,
          `${command}: ${t.flag} is ${i.top ? `${i.flag} (${i.shown})` : `${i.shown}, a file of ${i.flag}`}, which this command reads; it is never written over: choose another ${t.flag}`,
        );
      if (inside(i.real, real))
        throw new OutputError(
          t.path,
          `${command}: ${t.flag} holds ${i.shown} (${i.flag}), which this command reads; it is never replaced: choose another ${t.flag}`,
        );
    }
    for (const o of seen)
      if (o.real === real || inside(o.real, real) || inside(real, o.real))
        throw new OutputError(
          t.path,
          `${command}: ${t.flag} and ${o.flag} name the same place; one would overwrite the other`,
        );
    seen.push({ flag: t.flag, real });
  }
}

/** Leftovers (.NAME.partial-PID, .NAME.old-PID) of dead Webtune writers in `dir`, whatever NAME. */
export async function sweepLeftovers(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const targets = new Set<string>();
  for (const n of names) {
    const m = /^\.(.+)\.(partial|old)-(\d+)(\.partial)?$/.exec(n);
    if (m) targets.add(m[1]);
  }
  for (const t of targets) await recoverLeftovers(join(dir, t));
}

/** Staging folders and files this process has open: removed if it is interrupted. */
const open_ = new Set<string>();
let handlersInstalled = false;

function installSignalCleanup(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const clean = (signal: NodeJS.Signals) => {
    for (const p of open_) rmSync(p, { recursive: true, force: true });
    // Default behaviour afterwards: exit with the signal's conventional code.
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.once('SIGINT', clean);
  process.once('SIGTERM', clean);
}

/** Creates and removes a file beside `target` to learn, before any work, that the target's folder takes writes. */
async function probe(target: string, shown: string): Promise<void> {
  const p = join(dirname(resolve(target)), `.${basename(target)}.partial-${process.pid}`);
  try {
    await (await open(p, 'w')).close();
    await rm(p, { force: true });
  } catch (e) {
    throw new OutputError(shown, `cannot write in ${dirname(resolve(target))} (${code(e)})`);
  }
}

export interface Guarded {
  staged: Record<string, StagedOutput>;
}

/**
 * Checks every target of a command before it starts and opens a StagedOutput per target, keyed
 * by flag. `overwrite` applies to all targets; `ours` lists the names a folder target may hold
 * to be replaced.
 */
export async function guardOutputs(
  command: string,
  targets: GuardedTarget[],
  inputs: GuardedInput[],
  opts: Omit<OutputOptions, 'flag'>,
): Promise<Record<string, StagedOutput>> {
  await checkTargetsAgainstInputs(command, targets, inputs);
  const staged: Record<string, StagedOutput> = {};
  for (const t of targets) {
    const dir = dirname(resolve(t.path));
    if ((await lstat(dir).catch(() => null))?.isDirectory()) await sweepLeftovers(dir);
    const s =
      t.kind === 'dir'
        ? await StagedOutput.folder(t.path, { ...opts, flag: t.flag })
        : await StagedOutput.file(t.path, { ...opts, flag: t.flag });
    if (t.kind === 'file') await probe(t.path, t.path);
    staged[t.flag] = s;
  }
  installSignalCleanup();
  for (const s of Object.values(staged)) {
    open_.add(s.staging);
    s.onSettled = () => open_.delete(s.staging);
  }
  return staged;
}
