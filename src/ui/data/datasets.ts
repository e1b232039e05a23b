// The page's datasets: imports (streamed, with progress; a failed one keeps the previous data),
// the train/eval split, tokenization for training and the token-length histogram. The file is
// parsed in the import worker; its rows live here packed as bytes (RowStore), decoded by index, and
// the state holds only views over them (a million row objects on the page's heap made 600 ms GC pauses).

import { DatasetError } from '../../core/errors.ts';
import type { DatasetRow } from '../../data/dataset.ts';
import { evalCount, splitDataset } from '../../data/split.ts';
import { spread } from '../train/estimate.ts';
import type { RowStore } from '../../data/row-store.ts';
import { importRows, type ImportSummary } from '../../worker/import-rows.ts';
import { encodePrompt, keepLabelled, labelCount, toTrainExample, type ExampleSet } from '../../data/examples.ts';
import type { TrainExample } from '../../engine/engine.ts';
import type { ChatTokenizer } from '../../tokenizer/tokenizer.ts';
import { controlTokens } from '../../data/control-text.ts';
import { saveDataset } from '../app/persist.ts';
import { sniffDelimited } from '../../data/delimited.ts';
import { TableImport } from './column-import.ts';
import { PREVIEW_ROWS, type AppState, type LoadedDataset } from '../app/state.ts';

/** What the data screen needs of the page: the state and its writer, and the loaded tokenizer. */
export interface DataContext {
  readonly state: AppState;
  patch(fn: (s: AppState) => Partial<AppState>): void;
  readonly tokenizer?: ChatTokenizer;
}

/**
 * Array.map that yields to the event loop every `slice` items, or sooner once `budgetMs` of work
 * has run: 64 rows tokenized were 15 ms on a quiet machine but over 100 ms on a loaded one (the
 * tokenizer's first calls, a GC), and no main-thread task may pass 100 ms (issue 23).
 */
export async function mapInSlices<T, R>(
  items: readonly T[],
  fn: (item: T) => R,
  slice = 64,
  budgetMs = 8,
): Promise<R[]> {
  const out: R[] = [];
  let since = performance.now(),
    inSlice = 0;
  for (const item of items) {
    if (inSlice >= slice || performance.now() - since > budgetMs) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      since = performance.now();
      inSlice = 0;
    }
    out.push(fn(item));
    inSlice++;
  }
  return out;
}

/** An imported file: its summary, and its rows packed (decoded by index). */
export interface Dataset extends ImportSummary {
  rows: RowStore;
}

export class DataController {
  trainSet?: Dataset;
  evalSet?: Dataset;
  private names: { train?: string; eval?: string } = {};
  private readonly importSeq = { train: 0, eval: 0 };
  /** A file with bad rows, waiting for the user's "import the good rows". */
  private pending?: { name: string; blob: Blob; parsed: Dataset; role: 'train' | 'eval' };
  /** An eval file set aside (other training data, or the split chosen instead). */
  private parked?: { name: string; set: Dataset };

  /** A CSV/TSV file in its column-mapping step. */
  readonly table: TableImport;

  constructor(private readonly c: DataContext) {
    this.table = new TableImport(c, (name, text, role) => this.importData(name, text, role));
  }

  /** Back to splitting the training file: the separate eval file is dropped. */
  async useSplit(): Promise<void> {
    // The file stays at hand: "use it for evaluation" brings it back.
    if (this.evalSet && this.names.eval) this.parked = { name: this.names.eval, set: this.evalSet };
    this.evalSet = undefined;
    this.names.eval = undefined;
    await saveDataset('eval', undefined);
    this.c.patch(() => ({ evalDataset: undefined, parkedEval: this.parked?.name, evalFit: undefined }));
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
        this.c.patch(() => ({
          lastImport: { name: file, issues: [], failed: true, message: e instanceof Error ? e.message : String(e) },
        }));
        return;
      }
    }
  }

  /**
   * A failed import changes nothing but the report of the attempt: the old dataset stays. A file
   * with some bad rows does not replace the data either: its problems are shown with "import the
   * N good rows" (importGood). `accept` takes the good rows at once (a dataset restored from the
   * last session, built rows). The file streams in with progress; text takes the same path.
   */
  async importData(name: string, content: Blob | string, role: 'train' | 'eval', accept = false): Promise<void> {
    const seq = ++this.importSeq[role];
    const blob = typeof content === 'string' ? new Blob([content], { type: 'text/plain' }) : content;
    const current = () => seq === this.importSeq[role];
    this.pending = undefined;
    // A spreadsheet's CSV or TSV waits for its columns to be mapped (issue 22, point 10).
    const delimiter = sniffDelimited(await blob.slice(0, 4096).text());
    if (delimiter) return this.table.open(name, blob, delimiter, role);
    this.c.patch(() => ({ importing: { name, bytes: 0, totalBytes: blob.size, rows: 0 } }));
    let parsed: Dataset;
    try {
      const got = await importRows(blob, {
        file: name,
        onProgress: (p) => current() && this.c.patch(() => ({ importing: { name, ...p } })),
      });
      parsed = { ...got.result, rows: got.rows };
    } catch (e) {
      if (!current()) return;
      const issues = e instanceof DatasetError ? e.issues : [];
      this.c.patch(() => ({
        importing: undefined,
        lastImport: {
          name,
          issues,
          failed: true,
          message: e instanceof DatasetError ? undefined : String((e as Error).message ?? e),
        },
      }));
      return;
    }
    // A newer import of the same role finished or is under way: its result wins.
    if (!current()) return;
    if (parsed.issues.length && !accept) {
      this.pending = { name, blob, parsed, role };
      this.c.patch(() => ({
        importing: undefined,
        lastImport: { name, issues: parsed.issues, failed: true, goodRows: parsed.rows.length },
      }));
      return;
    }
    await this.commit(name, blob, parsed, role);
  }

  /** The good rows of the file whose problems are on screen. */
  async importGood(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    if (p) await this.commit(p.name, p.blob, p.parsed, p.role);
  }

  private async commit(name: string, blob: Blob, parsed: Dataset, role: 'train' | 'eval'): Promise<void> {
    // The view reads the same packed rows (no copy: a million rows copied was a 500 ms task).
    const view: LoadedDataset = {
      name,
      format: parsed.format,
      encoding: parsed.encoding,
      duplicates: parsed.duplicates.count,
      rows: parsed.rows,
      issues: parsed.issues,
    };
    // Everything over all rows runs before the swap, in slices; a failure here keeps the old dataset.
    const known = role === 'train' ? parsed.rows.tools : undefined;
    if (role === 'train') this.trainSet = parsed;
    else this.evalSet = parsed;
    this.names[role] = name;
    await saveDataset(role, { name, blob });
    // An eval file that asks for tools the new training rows never show would score 0%: it is set
    // aside (one click brings it back) and a split of the new rows evaluates instead.
    const park = known && this.evalSet && (await unseenOf(known, this.evalSet.rows)).share > 0.5;
    if (park) {
      this.parked = { name: this.names.eval!, set: this.evalSet! };
      this.evalSet = undefined;
      this.names.eval = undefined;
    }
    if (role === 'eval') this.parked = undefined;
    const evalFit = await this.evalFit();
    this.c.patch(() => ({
      // the old rows' token statistics go with them, not shown for the seconds the new count takes
      ...(role === 'train'
        ? { dataset: view, tokenLengths: [], promptLengths: [], tokenSampleOf: undefined }
        : { evalDataset: view }),
      ...(park ? { evalDataset: undefined } : {}),
      parkedEval: this.parked?.name,
      importing: undefined,
      lastImport: {
        name,
        issues: parsed.issues,
        failed: false,
        encoding: parsed.encoding,
        duplicates: parsed.duplicates,
        normalized: parsed.normalized,
      },
      evalFit,
    }));
    await this.recountTokens();
  }

  /** The eval file set aside for other training data, back in use. */
  async useParked(): Promise<void> {
    const p = this.parked;
    if (!p) return;
    this.parked = undefined;
    this.evalSet = p.set;
    this.names.eval = p.name;
    const evalFit = await this.evalFit();
    this.c.patch(() => ({
      evalDataset: {
        name: p.name,
        format: p.set.format,
        encoding: p.set.encoding,
        duplicates: p.set.duplicates.count,
        rows: p.set.rows,
        issues: p.set.issues,
      },
      parkedEval: undefined,
      evalFit,
    }));
    return this.recountTokens();
  }

  /** How many eval rows ask for a tool the training rows never show (with a separate eval file). */
  private async evalFit(): Promise<AppState['evalFit']> {
    if (!this.trainSet || !this.evalSet) return undefined;
    const u = await unseenOf(this.trainSet.rows.tools, this.evalSet.rows);
    return u.rows ? { rows: u.rows, total: this.evalSet.rows.length, tools: u.tools.slice(0, 5) } : undefined;
  }

  trainData(): { name?: string; rows?: number } {
    return { name: this.names.train, rows: this.trainSet?.rows.length };
  }

  /**
   * Rows used for training and evaluation: a separate eval file wins over the split. The rows are
   * decoded from the store here, for the work that needs them all (training, scoring, export).
   */
  splitRows(): { train: DatasetRow[]; eval: DatasetRow[] } {
    if (!this.trainSet) return { train: [], eval: [] };
    if (this.evalSet) return { train: this.trainSet.rows.all(), eval: this.evalSet.rows.all() };
    return splitDataset(this.trainSet.rows.all(), {
      evalFraction: this.c.state.evalFraction,
      seed: this.c.state.splitSeed,
    });
  }

  /** Which rows the split holds out (1) for the training rows' store, fraction and seed: splitDataset's own draw. */
  private held?: { rows: RowStore; fraction: number; seed: number; mask: Uint8Array };
  private heldMask(rows: RowStore): Uint8Array {
    const { evalFraction: fraction, splitSeed: seed } = this.c.state;
    if (this.held?.rows !== rows || this.held.fraction !== fraction || this.held.seed !== seed) {
      const mask = new Uint8Array(rows.length);
      for (const i of splitDataset([...Array(rows.length).keys()], { evalFraction: fraction, seed }).eval) mask[i] = 1;
      this.held = { rows, fraction, seed, mask };
    }
    return this.held.mask;
  }

  /** The training side's size and `n` of its rows spread evenly over it (as estimate.ts's spread picks them), only those decoded. */
  trainSpread(n: number): { count: number; rows: DatasetRow[] } {
    const rows = this.trainSet?.rows;
    if (!rows) return { count: 0, rows: [] };
    // The training side's positions, as indices into the store.
    let at: number[] = [...Array(rows.length).keys()];
    if (!this.evalSet) {
      const mask = this.heldMask(rows);
      at = at.filter((i) => !mask[i]);
    }
    return { count: at.length, rows: spread(at, n).map((i) => rows.get(i)) };
  }

  /** Tokenized in slices so a large dataset never freezes the page. */
  async examples(rows: DatasetRow[], maxLength?: number): Promise<TrainExample[]>;
  /** Rows given by index, decoded from the store inside the sliced loop (the token sample). */
  async examples(rows: number[], maxLength: number, rowAt: (i: number) => DatasetRow): Promise<TrainExample[]>;
  async examples(
    rows: (DatasetRow | number)[],
    maxLength = this.c.state.train.maxLength,
    rowAt?: (i: number) => DatasetRow,
  ): Promise<TrainExample[]> {
    const tok = this.c.tokenizer;
    if (!tok) return [];
    const system = this.c.state.systemPrompt;
    // Allowed control text is encoded as plain text (control-text.ts); otherwise Start refuses such rows.
    const allowed = this.c.state.allowControlText ? controlTokens(tok) : undefined;
    return mapInSlices(rows, (r) =>
      toTrainExample(tok, typeof r === 'number' ? rowAt!(r) : r, { system, maxLength, controlTokens: allowed }),
    );
  }

  /** Examples to train or score loss on: rows that keep no answer token at the max length are left out and counted. */
  async exampleSet(rows: DatasetRow[]): Promise<ExampleSet> {
    const tok = this.c.tokenizer;
    const examples = await this.examples(rows);
    const allowed = tok && this.c.state.allowControlText ? controlTokens(tok) : undefined;
    return keepLabelled(rows, examples, (r) =>
      tok ? encodePrompt(tok, r, { system: this.c.state.systemPrompt, controlTokens: allowed }).length : 0,
    );
  }

  async recountTokens(): Promise<void> {
    // The sizes alone: the split itself is a pass over every row (drawn when training starts).
    const n = this.trainSet?.rows.length ?? 0;
    const held = this.evalSet ? this.evalSet.rows.length : evalCount(n, this.c.state.evalFraction);
    this.c.patch(() => ({ splitCounts: { train: this.evalSet ? n : n - held, eval: held } }));
    if (!this.c.tokenizer || !this.trainSet) {
      this.c.patch(() => ({ tokenLengths: [], promptLengths: [], tokenSampleOf: undefined }));
      return;
    }
    // Untruncated lengths in dataset order: the histogram shows what the max length cuts off,
    // and the preview table each row's count. A big dataset is measured on an even sample (the
    // preview rows first): counting a million rows would take minutes for the same picture.
    const rows = this.trainSet.rows;
    const whole = rows.length <= TOKEN_SAMPLE * 2;
    const picked = sampleIndices(rows.length, whole ? rows.length : TOKEN_SAMPLE);
    const examples = await this.examples(picked, Number.MAX_SAFE_INTEGER, (i) => rows.get(i));
    // A newer import or setting may have finished first; its counts win.
    if (this.trainSet?.rows !== rows) return;
    this.c.patch(() => ({
      tokenLengths: examples.map((ex) => ex.ids.length),
      promptLengths: examples.map((ex) => ex.ids.length - labelCount(ex)),
      tokenSampleOf: whole ? undefined : rows.length,
    }));
  }
}

/** Eval rows whose expected tool never appears among the training rows' answers, and those tools. */
export function unseenTools(
  train: readonly DatasetRow[],
  evalRows: readonly DatasetRow[],
): { rows: number; share: number; tools: string[] } {
  const known = new Set(train.map((r) => r.expected?.tool_name).filter((t): t is string => !!t));
  const unseen = evalRows.filter((r) => r.expected && !known.has(r.expected.tool_name));
  return {
    rows: unseen.length,
    share: evalRows.length ? unseen.length / evalRows.length : 0,
    tools: [...new Set(unseen.map((r) => r.expected!.tool_name))],
  };
}

/** unseenTools over packed eval rows, decoded in slices (an eval file may be large too). */
async function unseenOf(
  known: ReadonlySet<string>,
  evalRows: RowStore,
): Promise<{ rows: number; share: number; tools: string[] }> {
  // No tool in the eval file that training lacks: nothing to decode.
  if ([...evalRows.tools].every((t) => known.has(t))) return { rows: 0, share: 0, tools: [] };
  let rows = 0;
  const tools = new Set<string>();
  await evalRows.forEach((r) => {
    if (r.expected && !known.has(r.expected.tool_name)) {
      rows++;
      tools.add(r.expected.tool_name);
    }
  });
  return { rows, share: evalRows.length ? rows / evalRows.length : 0, tools: [...tools] };
}

/** Rows whose token lengths stand for a large dataset. */
const TOKEN_SAMPLE = 2000;

/** The first preview rows, then every k-th row, about `n` in all (every row when n >= count). */
function sampleIndices(count: number, n: number): number[] {
  const head = Math.min(PREVIEW_ROWS, count);
  const out = [...Array(head).keys()];
  const k = Math.max(1, Math.floor((count - head) / n));
  for (let i = head; i < count && out.length < n + head; i += k) out.push(i);
  return out;
}
