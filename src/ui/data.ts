// The page's datasets: imports (streamed, with progress; a failed one keeps the previous data),
// the train/eval split, tokenization for training and the token-length histogram. The parsed rows
// live here; the state holds only their views.

import { DatasetError } from '../core/errors.ts';
import { importDatasetBlob, splitDataset, type DatasetRow, type ImportResult as Dataset } from '../data/dataset.ts';
import { encodePrompt, keepLabelled, labelCount, toTrainExample, type ExampleSet } from '../data/examples.ts';
import type { TrainExample } from '../engine/engine.ts';
import type { ChatTokenizer } from '../tokenizer/tokenizer.ts';
import { saveDataset } from './persist.ts';
import { PREVIEW_ROWS, type AppState, type LoadedDataset } from './state.ts';

/** What the data screen needs of the page: the state and its writer, and the loaded tokenizer. */
export interface DataContext {
  readonly state: AppState;
  patch(fn: (s: AppState) => Partial<AppState>): void;
  readonly tokenizer?: ChatTokenizer;
}

/** Array.map that yields to the event loop every `slice` items (about 15 ms of tokenizing). */
export async function mapInSlices<T, R>(items: readonly T[], fn: (item: T) => R, slice = 64): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += slice) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 0));
    for (const item of items.slice(i, i + slice)) out.push(fn(item));
  }
  return out;
}

export class DataController {
  trainSet?: Dataset;
  evalSet?: Dataset;
  private names: { train?: string; eval?: string } = {};
  private readonly importSeq = { train: 0, eval: 0 };

  constructor(private readonly c: DataContext) {}

  /** Back to splitting the training file: the separate eval file is dropped. */
  async useSplit(): Promise<void> {
    this.evalSet = undefined;
    this.names.eval = undefined;
    await saveDataset('eval', undefined);
    this.c.patch(() => ({ evalDataset: undefined }));
    return this.recountTokens();
  }

  async importSample(): Promise<void> {
    for (const [role, file] of [
      ['train', 'meeting-train.json'],
      ['eval', 'meeting-eval.json'],
    ] as const) {
      try {
        const res = await fetch(new URL(`samples/${file}`, document.baseURI));
        if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
        await this.importData(file, await res.blob(), role);
      } catch (e) {
        this.c.patch(() => ({ lastImport: { name: file, issues: [], failed: true, message: e instanceof Error ? e.message : String(e) } }));
        return;
      }
    }
  }

  /**
   * A failed import changes nothing but the report of the attempt: the old dataset stays. The
   * file streams in with progress (a million rows keep the page responsive); text (pasted, the
   * samples) takes the same path as UTF-8 bytes.
   */
  async importData(name: string, content: Blob | string, role: 'train' | 'eval'): Promise<void> {
    const seq = ++this.importSeq[role];
    const blob = typeof content === 'string' ? new Blob([content], { type: 'text/plain' }) : content;
    const current = () => seq === this.importSeq[role];
    this.c.patch(() => ({ importing: { name, bytes: 0, totalBytes: blob.size, rows: 0 } }));
    let parsed: Dataset;
    try {
      parsed = await importDatasetBlob(blob, { file: name, onProgress: (p) => current() && this.c.patch(() => ({ importing: { name, ...p } })) });
    } catch (e) {
      if (!current()) return;
      const issues = e instanceof DatasetError ? e.issues : [];
      this.c.patch(() => ({ importing: undefined, lastImport: { name, issues, failed: true, message: e instanceof DatasetError ? undefined : String((e as Error).message ?? e) } }));
      return;
    }
    // A newer import of the same role finished or is under way: its result wins.
    if (!current()) return;
    const view: LoadedDataset = {
      name, format: parsed.format, encoding: parsed.encoding, duplicates: parsed.duplicates.count,
      rows: parsed.rows.map((r) => ({ user: r.user, answer: r.answer, system: r.system })), issues: parsed.issues,
    };
    if (role === 'train') this.trainSet = parsed;
    else this.evalSet = parsed;
    this.names[role] = name;
    await saveDataset(role, { name, blob });
    this.c.patch(() => ({
      ...(role === 'train' ? { dataset: view } : { evalDataset: view }),
      importing: undefined,
      lastImport: { name, issues: parsed.issues, failed: false, encoding: parsed.encoding, duplicates: parsed.duplicates },
    }));
    await this.recountTokens();
  }

  trainData(): { name?: string; rows?: number } {
    return { name: this.names.train, rows: this.trainSet?.rows.length };
  }

  /** Rows used for training and evaluation: a separate eval file wins over the split. */
  splitRows(): { train: DatasetRow[]; eval: DatasetRow[] } {
    if (!this.trainSet) return { train: [], eval: [] };
    if (this.evalSet) return { train: this.trainSet.rows, eval: this.evalSet.rows };
    return splitDataset(this.trainSet.rows, { evalFraction: this.c.state.evalFraction, seed: this.c.state.splitSeed });
  }

  /** Tokenized in slices so a large dataset never freezes the page. */
  async examples(rows: DatasetRow[], maxLength = this.c.state.train.maxLength): Promise<TrainExample[]> {
    const tok = this.c.tokenizer;
    if (!tok) return [];
    const system = this.c.state.systemPrompt;
    return mapInSlices(rows, (r) => toTrainExample(tok, r, { system, maxLength }));
  }

  /** Examples to train or score loss on: rows that keep no answer token at the max length are left out and counted. */
  async exampleSet(rows: DatasetRow[]): Promise<ExampleSet> {
    const tok = this.c.tokenizer;
    const examples = await this.examples(rows);
    return keepLabelled(rows, examples, (r) => (tok ? encodePrompt(tok, r, { system: this.c.state.systemPrompt }).length : 0));
  }

  async recountTokens(): Promise<void> {
    const split = this.splitRows();
    this.c.patch(() => ({ splitCounts: { train: split.train.length, eval: split.eval.length } }));
    if (!this.c.tokenizer || !this.trainSet) {
      this.c.patch(() => ({ tokenLengths: [], promptLengths: [], tokenSampleOf: undefined }));
      return;
    }
    // Untruncated lengths in dataset order: the histogram shows what the max length cuts off,
    // and the preview table each row's count. A big dataset is measured on an even sample (the
    // preview rows first): counting a million rows would take minutes for the same picture.
    const rows = this.trainSet.rows;
    const picked = rows.length <= TOKEN_SAMPLE * 2 ? rows : sampleRows(rows, TOKEN_SAMPLE);
    const examples = await this.examples(picked, Number.MAX_SAFE_INTEGER);
    // A newer import or setting may have finished first; its counts win.
    if (this.trainSet?.rows !== rows) return;
    this.c.patch(() => ({
      tokenLengths: examples.map((ex) => ex.ids.length),
      promptLengths: examples.map((ex) => ex.ids.length - labelCount(ex)),
      tokenSampleOf: picked === rows ? undefined : rows.length,
    }));
  }
}

/** Rows whose token lengths stand for a large dataset. */
const TOKEN_SAMPLE = 2000;

/** The first preview rows, then every k-th row, about `n` in all. */
function sampleRows<T>(rows: readonly T[], n: number): T[] {
  const head = Math.min(PREVIEW_ROWS, rows.length);
  const out = rows.slice(0, head);
  const k = Math.max(1, Math.floor((rows.length - head) / n));
  for (let i = head; i < rows.length && out.length < n + head; i += k) out.push(rows[i]);
  return out;
}
