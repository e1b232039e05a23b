// The training-job zip written while its rows stream in (CLI `export --format job` on a large
// file): data/train.json goes through one deflate stream in ~64 KiB pieces and the zip's bytes go
// out as they are made, so memory holds a piece of rows, not the dataset nor the zip. The same
// files as buildJobZip (job.ts) and the same texts; the entries in another order (the data first:
// the README states the row count only known at the end).

import { Zip, ZipDeflate, strToU8 } from 'fflate';
import type { DatasetRow } from '../data/dataset.ts';
import { jobFiles, seedRow, ZIP_TIME } from './job.ts';
import type { JobSpec } from './job/spec.ts';

const PIECE_CHARS = 1 << 15;

export class JobZipStream {
  private readonly zip: Zip;
  private readonly data: ZipDeflate;
  private text = '[\n';
  rows = 0;

  /** `out` receives the zip's bytes in order; it must copy or write them before returning. */
  constructor(
    out: (bytes: Uint8Array) => void,
    private readonly folder = 'webtune-job',
  ) {
    this.zip = new Zip((err, bytes) => {
      if (err) throw err;
      out(bytes);
    });
    this.data = new ZipDeflate(`${folder}/data/train.json`, { level: 6 });
    this.data.mtime = ZIP_TIME;
    this.zip.add(this.data);
  }

  row(r: Pick<DatasetRow, 'system' | 'user' | 'answer' | 'expected'>): void {
    this.text += (this.rows++ ? ',\n  ' : '  ') + JSON.stringify(seedRow(r));
    if (this.text.length >= PIECE_CHARS) this.flush(false);
  }

  private flush(final: boolean): void {
    this.data.push(strToU8(this.text), final);
    this.text = '';
  }

  /** The data closed, then every other file of the job (the rows only counted: `spec.rows` is not read). */
  finish(spec: Omit<JobSpec, 'rows' | 'evalRows'>): void {
    this.text += '\n]\n';
    this.flush(true);
    // Without its data file jobFiles reads rows only for their count (README): an empty array of that length.
    const files = jobFiles({ ...spec, rows: new Array(this.rows) }, this.folder, false);
    for (const [name, text] of Object.entries(files)) {
      const f = new ZipDeflate(name, { level: 6 });
      f.mtime = ZIP_TIME;
      this.zip.add(f);
      f.push(strToU8(text), true);
    }
    this.zip.end();
  }
}
