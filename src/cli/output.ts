// Where the CLI writes: a folder or file that is complete or absent, never half of each. Every
// writer works in a hidden sibling (.NAME.partial-PID) and the result is renamed into place
// when done; what it replaces is moved aside first (.NAME.old-PID) and removed after. A kill -9
// at any moment leaves the previous output or the new one; leftovers of a killed run are put
// back or swept by the next run. Targets are checked before any work: a file where a folder
// belongs, an unwritable parent, or a non-empty target without --overwrite stop at once.

import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { WebtuneError } from '../core/errors.ts';

/** A target the CLI cannot or may not write: names the path and why. */
export class OutputError extends WebtuneError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

async function kind(path: string): Promise<'file' | 'dir' | 'none' | 'other'> {
  try {
    const st = await lstat(path);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch (e) {
    if (code(e) === 'ENOENT') return 'none';
    throw e;
  }
}

/**
 * mkdir -p without fs.mkdir's recursive mode, which never returns for some paths (`/proc/foo`
 * on Linux): each missing level is made on its own, so any refusal comes back at once.
 */
export async function makeDirs(dir: string, shown = dir): Promise<void> {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    const k = await kind(at).catch((e) => {
      throw new OutputError(shown, `cannot be checked (${code(e)})`);
    });
    if (k === 'dir') break;
    if (k !== 'none') throw new OutputError(shown, `${at} is a file, not a folder`);
    missing.push(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
    } catch (e) {
      if (code(e) !== 'EEXIST') throw new OutputError(shown, `cannot create ${d} (${code(e)})`);
    }
  }
}

/** A half-written file of a Webtune writer (this one or a killed one), not the user's. */
export function isLeftover(name: string): boolean {
  return /^\..+\.(partial|old)-\d+(\.partial)?$/.test(name) || /^\.webtune-write-test-\d+$/.test(name);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return code(e) === 'EPERM';
  }
}

/**
 * What a killed earlier run left beside `target`: its half-written sibling is removed; an output
 * it had moved aside but not yet replaced is put back.
 */
export async function recoverLeftovers(target: string): Promise<void> {
  const dir = dirname(target);
  const name = basename(target);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    // A file sink adds its own ".partial" while it writes (node-sink.ts).
    const m = /^\.(.+)\.(partial|old)-(\d+)(\.partial)?$/.exec(e);
    if (!m || m[1] !== name || alive(Number(m[3]))) continue;
    const path = join(dir, e);
    if (m[2] === 'old' && (await kind(target)) === 'none') await rename(path, target);
    else await rm(path, { recursive: true, force: true });
  }
}

export interface OutputOptions {
  /** Replace a non-empty target. */
  overwrite: boolean;
  /** The flag that named the target, for messages. */
  flag?: string;
  /**
   * Names a folder may hold for --overwrite to replace it: what Webtune writers produce. A folder
   * holding anything else is never removed (a mistyped --out must not delete someone's files).
   */
  ours?: readonly string[];
}

/** A folder or file being written beside its target. */
export class StagedOutput {
  private done = false;
  /** Called once the output is committed or aborted (output-guard.ts forgets its staging path then). */
  onSettled?: () => void;

  private constructor(
    /** Where the result goes. */
    readonly target: string,
    /** Where it is written meanwhile. */
    readonly staging: string,
    private readonly isDir: boolean,
  ) {}

  /** A folder to fill: `target` must be absent, an empty folder, or (with overwrite) any folder. */
  static async folder(targetArg: string, opts: OutputOptions): Promise<StagedOutput> {
    const target = resolve(targetArg);
    await StagedOutput.check(targetArg, target, 'dir', opts);
    const staging = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
    await rm(staging, { recursive: true, force: true });
    try {
      await mkdir(staging);
    } catch (e) {
      throw new OutputError(targetArg, `cannot write in ${dirname(target)} (${code(e)})`);
    }
    return new StagedOutput(target, staging, true);
  }

  /** A single file: `target` must be absent or (with overwrite) a file. */
  static async file(targetArg: string, opts: OutputOptions): Promise<StagedOutput> {
    const target = resolve(targetArg);
    await StagedOutput.check(targetArg, target, 'file', opts);
    return new StagedOutput(target, join(dirname(target), `.${basename(target)}.partial-${process.pid}`), false);
  }

  private static async check(shown: string, target: string, want: 'dir' | 'file', opts: OutputOptions): Promise<void> {
    const flag = opts.flag ?? '--out';
    await makeDirs(dirname(target), shown);
    await recoverLeftovers(target);
    const k = await kind(target).catch((e) => {
      throw new OutputError(shown, `cannot be checked (${code(e)})`);
    });
    if (k === 'other') throw new OutputError(shown, 'is neither a file nor a folder');
    if (want === 'dir' && k === 'file') throw new OutputError(shown, `is a file; ${flag} names a folder here`);
    if (want === 'file' && k === 'dir') throw new OutputError(shown, `is a folder; ${flag} names a file here`);
    if (k === 'none') return;
    if (k === 'file') {
      if (opts.overwrite) return;
      throw new OutputError(shown, `already exists; pass --overwrite to replace it`);
    }
    const inside = (await readdir(target)).filter((n) => !isLeftover(n));
    const foreign = opts.ours ? inside.filter((n) => !opts.ours!.includes(n)) : [];
    if (opts.overwrite && foreign.length)
      throw new OutputError(
        shown,
        `holds files Webtune did not write (${foreign.slice(0, 4).join(', ')}${foreign.length > 4 ? ', ...' : ''}); it is not replaced even with --overwrite: choose another folder`,
      );
    if (opts.overwrite) return;
    if (inside.length)
      throw new OutputError(
        shown,
        `is not empty (${inside.slice(0, 4).join(', ')}${inside.length > 4 ? ', ...' : ''}); pass --overwrite to replace it, or choose a new folder`,
      );
  }

  /** Moves the finished output into place; what was there before is removed. */
  async commit(): Promise<void> {
    if (this.done) throw new OutputError(this.target, 'committed twice');
    this.done = true;
    this.onSettled?.();
    const had = await kind(this.target);
    if (!this.isDir || had === 'none') {
      // A file renamed over a file is replaced in one step.
      await rename(this.staging, this.target);
      return;
    }
    const old = join(dirname(this.target), `.${basename(this.target)}.old-${process.pid}`);
    await rm(old, { recursive: true, force: true });
    await rename(this.target, old);
    await rename(this.staging, this.target);
    await rm(old, { recursive: true, force: true });
  }

  /** Removes the unfinished output; the target is untouched. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.onSettled?.();
    await rm(this.staging, { recursive: true, force: true });
  }

  /** Runs `write` against the staging path, then commits; on any failure nothing changes. */
  async run<T>(write: (path: string) => Promise<T>): Promise<T> {
    try {
      const r = await write(this.staging);
      await this.commit();
      return r;
    } catch (e) {
      await this.abort().catch(() => undefined);
      throw e;
    }
  }
}
