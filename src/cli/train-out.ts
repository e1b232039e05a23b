// The folder `train --out` writes: checked and created before the model loads, so a file path,
// an unwritable place or someone else's folder fails in a second instead of after the last
// step. It holds the PEFT adapter when training ends and, meanwhile, the run's checkpoint
// (written whole beside itself and renamed, so a kill -9 leaves the previous one), from which
// `--resume` continues exactly.

import { openAsBlob } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../export/peft.ts';
import { CheckpointSpaceError } from '../core/errors.ts';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../train/checkpoint.ts';
import type { CheckpointSink } from '../train/loop.ts';
import { isLeftover, makeDirs, OutputError, recoverLeftovers } from './output.ts';
import { RUN_RECORD } from './run-record.ts';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** The run's checkpoint as one file in the output folder. */
export class FolderCheckpoints implements CheckpointSink {
  constructor(readonly dir: string) {}

  get path(): string {
    return join(this.dir, CHECKPOINT_FILE);
  }

  async load(): Promise<Checkpoint | undefined> {
    if (!(await lstat(this.path).catch(() => null))) return undefined;
    return decodeCheckpoint(await openAsBlob(this.path), this.path);
  }

  async save(c: Checkpoint): Promise<void> {
    const partial = join(this.dir, `.${CHECKPOINT_FILE}.partial-${process.pid}`);
    const bytes = new Uint8Array(await encodeCheckpoint(c).arrayBuffer());
    try {
      await writeFile(partial, bytes);
    } catch (e) {
      await rm(partial, { force: true });
      // A full disk is not the end of the run: it goes on and says what the checkpoint needed.
      if (code(e) === 'ENOSPC' || code(e) === 'EDQUOT')
        throw new CheckpointSpaceError(
          bytes.byteLength,
          `${this.path}: the checkpoint at step ${c.meta.position.step} needs ${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB and the disk is full (${code(e)})`,
        );
      throw e;
    }
    // Renamed over the previous one in one step: a kill leaves one complete checkpoint or the other.
    await rename(partial, this.path);
  }

  async delete(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

export interface TrainOut {
  dir: string;
  checkpoints: FolderCheckpoints;
  /** A checkpoint of an unfinished run is there. */
  hasCheckpoint: boolean;
  /** Makes the folder (if it is not there yet); called once the data and the model are known good. */
  create(): Promise<void>;
}

/** Creates and removes a file (or, where the folder is not there yet, a folder) to learn that writing works. */
async function probeWritable(dir: string, shown: string, asFolder: boolean): Promise<void> {
  const probe = join(dir, `.webtune-write-test-${process.pid}`);
  try {
    if (asFolder) {
      await mkdir(probe);
      await rmdir(probe);
    } else {
      await (await open(probe, 'w')).close();
      await rm(probe, { force: true });
    }
  } catch (e) {
    throw new OutputError(shown, `cannot write in ${dir} (${code(e)})`);
  }
}

/** The nearest folder that exists on the way up from `path`; refuses a file on the way. */
async function existingAncestor(path: string, shown: string): Promise<string> {
  for (let at = dirname(path); ; at = dirname(at)) {
    const st = await lstat(at).catch(() => null);
    if (st?.isDirectory()) return at;
    if (st) throw new OutputError(shown, `${at} is a file, not a folder`);
    if (dirname(at) === at) return at;
  }
}

/**
 * Checks `--out` for training before any work: a new or empty folder; one holding a previous
 * adapter only with --overwrite; one holding a checkpoint only with --resume (or --overwrite to
 * start over). Nothing is created yet, so bad data or a bad model leave no folder behind.
 */
export async function prepareTrainOut(
  outArg: string,
  opts: { overwrite: boolean; resume: boolean },
): Promise<TrainOut> {
  const dir = resolve(outArg);
  await recoverLeftovers(dir);
  const checkpoints = new FolderCheckpoints(dir);
  const st = await lstat(dir).catch(() => null);
  const create = () => makeDirs(dir, outArg);
  if (!st) {
    if (opts.resume)
      throw new OutputError(
        outArg,
        `--resume: the folder does not exist, so there is no ${CHECKPOINT_FILE} to continue from`,
      );
    await probeWritable(await existingAncestor(dir, outArg), outArg, true);
    return { dir, checkpoints, hasCheckpoint: false, create };
  }
  if (!st.isDirectory()) throw new OutputError(outArg, 'is a file, not a folder');
  await probeWritable(dir, outArg, false);
  await recoverLeftovers(checkpoints.path);
  const names = (await readdir(dir)).filter((n) => !isLeftover(n));
  const ours = new Set([ADAPTER_CONFIG, ADAPTER_WEIGHTS, CHECKPOINT_FILE, RUN_RECORD]);
  const foreign = names.filter((n) => !ours.has(n));
  if (foreign.length)
    throw new OutputError(
      outArg,
      `holds files that are not a Webtune adapter (${foreign.slice(0, 4).join(', ')}${foreign.length > 4 ? ', ...' : ''}); choose an empty or new folder`,
    );
  const hasCheckpoint = names.includes(CHECKPOINT_FILE);
  const hasAdapter = names.includes(ADAPTER_CONFIG) || names.includes(ADAPTER_WEIGHTS);
  if (opts.resume && !hasCheckpoint)
    throw new OutputError(outArg, `--resume: there is no ${CHECKPOINT_FILE} to continue from`);
  if (hasCheckpoint && !opts.resume && !opts.overwrite)
    throw new OutputError(
      outArg,
      `holds the checkpoint of an unfinished run (${CHECKPOINT_FILE}); pass --resume to continue it, or --overwrite to start over`,
    );
  if (hasAdapter && !hasCheckpoint && !opts.overwrite)
    throw new OutputError(
      outArg,
      `holds an adapter (${ADAPTER_CONFIG}); pass --overwrite to replace it, or choose a new folder`,
    );
  return { dir, checkpoints, hasCheckpoint, create };
}
