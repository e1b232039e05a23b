// A dataset file parsed off the page's main thread (issue 23: a million rows imported with no
// main-thread task over 100 ms). The import worker reads, decodes, checks and dedupes the rows and
// packs them into byte chunks (data/row-store.ts) that it transfers to the page; the page keeps
// only those bytes, the counts and the problems, and decodes a row when a screen needs it. Where
// there is no Worker (Node tests, a page that cannot start one) the same code runs in-process.

import { importDatasetBlob, type ImportProgress, type ImportResult } from '../data/dataset.ts';
import { RowPacker, RowStore, type RowChunk } from '../data/row-store.ts';
import { deserializeError, serializeError, type SerializedError } from './error-transfer.ts';

/** An import's outcome without its rows (they are in the store). */
export type ImportSummary = Omit<ImportResult, 'rows'>;

export interface ImportedRows {
  result: ImportSummary;
  rows: RowStore;
}

/** What the parser tells the page, in order: chunks and progress, then done or error. */
export type ImportMessage =
  | { type: 'progress'; progress: ImportProgress }
  | { type: 'chunk'; chunk: RowChunk }
  | { type: 'restart' }
  | { type: 'done'; result: ImportSummary; tools: string[] }
  | { type: 'error'; error: SerializedError };

export interface ImportRequest {
  blob: Blob;
  file: string;
}

/**
 * Parses `blob`, posting each packed chunk and the progress as they come, then the summary (or the
 * error). `sliceMs` is how long the parser works between two turns of the event loop.
 */
export async function parseToChunks(
  req: ImportRequest,
  post: (m: ImportMessage, transfer?: Transferable[]) => void,
  sliceMs: number,
): Promise<void> {
  const packer = new RowPacker((chunk) => post({ type: 'chunk', chunk }, [chunk.bytes.buffer, chunk.ends.buffer]));
  try {
    const { rows: _rows, ...result } = await importDatasetBlob(req.blob, {
      file: req.file,
      sliceMs,
      sink: {
        row: (r) => packer.add(r),
        restart: () => {
          packer.reset();
          post({ type: 'restart' });
        },
      },
      onProgress: (progress) => post({ type: 'progress', progress }),
    });
    packer.flush();
    post({ type: 'done', result, tools: [...packer.tools] });
  } catch (e) {
    post({ type: 'error', error: serializeError(e instanceof Error ? e : new Error(String(e))) });
  }
}

/** The page's side: gathers the messages into a store; resolves with it, or rejects with the rebuilt error. */
function receiver(onProgress: ((p: ImportProgress) => void) | undefined, settle: (r: ImportedRows | Error) => void) {
  const rows = new RowStore();
  return (m: ImportMessage) => {
    if (m.type === 'chunk') rows.append(m.chunk);
    else if (m.type === 'restart') rows.clear();
    else if (m.type === 'progress') onProgress?.(m.progress);
    else if (m.type === 'error') settle(deserializeError(m.error));
    else {
      for (const t of m.tools) rows.tools.add(t);
      settle({ result: m.result, rows });
    }
  };
}

const canSpawn = () => typeof Worker === 'function' && typeof window !== 'undefined';

/** Imports a dataset file into a compact row store, in a worker where the platform has one. */
export function importRows(
  blob: Blob,
  opts: { file: string; onProgress?: (p: ImportProgress) => void },
): Promise<ImportedRows> {
  return new Promise((resolve, reject) => {
    const settle = (r: ImportedRows | Error) => (r instanceof Error ? reject(r) : resolve(r));
    const take = receiver(opts.onProgress, settle);
    // In-process: the parser gives the event loop a turn every 25 ms.
    const local = () => void parseToChunks({ blob, file: opts.file }, take, 25);
    if (!canSpawn()) return local();
    let worker: Worker;
    try {
      worker = new Worker(new URL('./import-worker.ts', import.meta.url), { type: 'module', name: 'webtune-import' });
    } catch {
      return local();
    }
    let heard = false;
    worker.onmessage = (e: MessageEvent<ImportMessage>) => {
      heard = true;
      take(e.data);
      if (e.data.type === 'done' || e.data.type === 'error') worker.terminate();
    };
    // A worker that fails to start (a blocked script) leaves the import to this thread.
    worker.onerror = (e) => {
      worker.terminate();
      if (!heard) return local();
      reject(new Error(`the import worker failed: ${e.message}`));
    };
    // A message that cannot be read back would otherwise leave the import waiting forever.
    worker.onmessageerror = () => {
      worker.terminate();
      reject(new Error('the import worker sent a message this page could not read'));
    };
    worker.postMessage({ blob, file: opts.file } satisfies ImportRequest);
  });
}
