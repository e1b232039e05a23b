// Which text encoding a dataset file is in. A byte-order mark decides UTF-8, UTF-16LE or
// UTF-16BE. Without one the file is read as strict UTF-8; when that fails and the file decodes
// cleanly as GB18030 (what Excel on a Chinese Windows writes) with no line that is good UTF-8
// Chinese, and its high bytes look like Chinese text (GbPlausibility), it is GB18030. Anything else is refused with the file, the line and the encoding
// named: no character is ever replaced by U+FFFD behind the user's back.
// The CLI and the page both come here with a Blob (a file on disk is opened as one).

import { DatasetError, type DatasetIssue } from '../core/errors.ts';

export type TextEncodingName = 'UTF-8' | 'UTF-16LE' | 'UTF-16BE' | 'GB18030';

/** TextDecoder labels; all four are in the Encoding Standard, so Node (full ICU) and browsers have them. */
const LABEL: Record<TextEncodingName, string> = {
  'UTF-8': 'utf-8',
  'UTF-16LE': 'utf-16le',
  'UTF-16BE': 'utf-16be',
  GB18030: 'gb18030',
};

export interface Bom {
  encoding: TextEncodingName;
  bytes: number;
}

export function sniffBom(head: Uint8Array): Bom | null {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return { encoding: 'UTF-8', bytes: 3 };
  // FF FE 00 00 is UTF-32LE, which no tool writes for datasets; it fails below as UTF-16 with NULs.
  if (head[0] === 0xff && head[1] === 0xfe) return { encoding: 'UTF-16LE', bytes: 2 };
  if (head[0] === 0xfe && head[1] === 0xff) return { encoding: 'UTF-16BE', bytes: 2 };
  return null;
}

/** The decoder found bytes that are not its encoding (or a NUL): the file needs a closer look. */
export class EncodingFault extends Error {}

/** Bytes per piece: small enough that parsing one piece never holds a page up for long. */
const PIECE = 1 << 18;

/** A Blob in pieces of at most PIECE bytes (a Blob's own stream may hand over far larger chunks). */
export async function* blobPieces(blob: Blob, from = 0): AsyncGenerator<Uint8Array> {
  for (let at = from; at < blob.size; at += PIECE)
    yield new Uint8Array(await blob.slice(at, Math.min(blob.size, at + PIECE)).arrayBuffer());
}

/** Text pieces of a Blob decoded strictly; throws EncodingFault at the first bad byte or NUL. */
export async function* decodeBlob(
  blob: Blob,
  encoding: TextEncodingName,
  skip: number,
): AsyncGenerator<{ text: string; bytes: number }> {
  const decoder = new TextDecoder(LABEL[encoding], { fatal: true, ignoreBOM: true });
  let bytes = skip;
  const decode = (piece?: Uint8Array) => {
    let text: string;
    try {
      text = piece ? decoder.decode(piece, { stream: true }) : decoder.decode();
    } catch {
      throw new EncodingFault(encoding);
    }
    // JSON never holds a raw NUL; one means UTF-16/32 read as bytes, or not a text file.
    if (text.includes('\u0000')) throw new EncodingFault('NUL');
    return text;
  };
  for await (const piece of blobPieces(blob, skip)) {
    bytes += piece.byteLength;
    yield { text: decode(piece), bytes };
  }
  const rest = decode();
  if (rest) yield { text: rest, bytes };
}

interface BadLine {
  line: number;
  column: number;
  what: string;
}

const hex = (b: number, w = 2) => `0x${b.toString(16).toUpperCase().padStart(w, '0')}`;

/**
 * Line by line UTF-8 validity (Unicode table 3-7): lines with good multi-byte text, lines with a
 * bad byte, and where the first bad bytes and NULs are.
 */
class Utf8Lines {
  line = 1;
  column = 0;
  goodLines = 0;
  badLines = 0;
  readonly bad: BadLine[] = [];
  nul?: BadLine;
  private need = 0;
  private lo = 0x80;
  private hi = 0xbf;
  private lineMulti = false;
  private lineBad = false;
  private leadByte = 0;
  private leadColumn = 0;

  private fault(what: string): void {
    if (!this.lineBad && this.bad.length < 5) this.bad.push({ line: this.line, column: this.column, what });
    this.lineBad = true;
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  private endLine(): void {
    if (this.lineBad) this.badLines++;
    else if (this.lineMulti) this.goodLines++;
    this.line++;
    this.column = 0;
    this.lineMulti = this.lineBad = false;
  }

  push(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      this.column++;
      if (this.need > 0) {
        if (b >= this.lo && b <= this.hi) {
          this.need--;
          this.lo = 0x80;
          this.hi = 0xbf;
          if (this.need === 0) this.lineMulti = true;
          continue;
        }
        // The character's first byte is the odd one (a Latin-1 "ï" before "v"), so name it.
        this.fault(`byte ${hex(this.leadByte)} at byte ${this.leadColumn}`);
        // The byte that broke the sequence starts afresh below.
      }
      if (b < 0x80) {
        if (b === 0 && !this.nul) this.nul = { line: this.line, column: this.column, what: 'a NUL byte' };
        if (b === 0x0a) this.endLine();
        continue;
      }
      this.leadByte = b;
      this.leadColumn = this.column;
      if (b >= 0xc2 && b <= 0xdf) this.need = 1;
      else if (b >= 0xe0 && b <= 0xef) {
        this.need = 2;
        if (b === 0xe0) this.lo = 0xa0;
        if (b === 0xed) this.hi = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        this.need = 3;
        if (b === 0xf0) this.lo = 0x90;
        if (b === 0xf4) this.hi = 0x8f;
      } else this.fault(`byte ${hex(b)} at byte ${this.column}`);
    }
  }

  end(): void {
    if (this.need > 0) this.fault('a character cut off at the end of the file');
    this.endLine();
  }
}

/** The first unpaired surrogate of UTF-16 text, with its line. */
class Utf16Lines {
  line = 1;
  column = 0;
  bad?: BadLine;
  nul?: BadLine;
  private carry = -1;
  private highPending = false;

  constructor(private readonly bigEndian: boolean) {}

  push(bytes: Uint8Array): void {
    let i = 0;
    if (this.carry >= 0 && bytes.length) {
      this.unit(this.bigEndian ? (this.carry << 8) | bytes[0] : this.carry | (bytes[0] << 8));
      i = 1;
      this.carry = -1;
    }
    for (; i + 1 < bytes.length; i += 2)
      this.unit(this.bigEndian ? (bytes[i] << 8) | bytes[i + 1] : bytes[i] | (bytes[i + 1] << 8));
    if (i < bytes.length) this.carry = bytes[i];
  }

  private unit(u: number): void {
    this.column++;
    const mark = (what: string) => (this.bad ??= { line: this.line, column: this.column, what });
    if (this.highPending && !(u >= 0xdc00 && u <= 0xdfff)) mark('an unpaired surrogate');
    if (u >= 0xd800 && u <= 0xdbff) this.highPending = true;
    else {
      if (u >= 0xdc00 && u <= 0xdfff && !this.highPending) mark(`an unpaired surrogate ${hex(u, 4)}`);
      this.highPending = false;
    }
    if (u === 0 && !this.nul) this.nul = { line: this.line, column: this.column, what: 'a NUL character' };
    if (u === 0x0a) {
      this.line++;
      this.column = 0;
    }
  }

  end(): void {
    if (this.carry >= 0) this.bad ??= { line: this.line, column: this.column + 1, what: 'an odd last byte' };
    else if (this.highPending)
      this.bad ??= { line: this.line, column: this.column, what: 'an unpaired surrogate at the end' };
  }
}

/**
 * How GB18030-like the high bytes are. Chinese text from Excel is almost all GB2312 characters,
 * both bytes in A1..FE; a Latin-1 "ï" before an ASCII letter also decodes as GB18030 (EF 76 is
 * "飗"), but its second byte is ASCII. So GB18030 is taken only when nine in ten double-byte
 * characters are GB2312's and no four-byte sequence (rare symbols, never in such files) occurs.
 */
class GbPlausibility {
  pairs = 0;
  gb2312 = 0;
  fourByte = 0;
  private lead = -1;
  private skip = 0;

  push(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (this.skip > 0) {
        this.skip--;
        continue;
      }
      if (this.lead >= 0) {
        if (b >= 0x30 && b <= 0x39) {
          this.fourByte++;
          this.skip = 2;
        } else {
          this.pairs++;
          if (this.lead >= 0xa1 && b >= 0xa1 && b <= 0xfe) this.gb2312++;
        }
        this.lead = -1;
      } else if (b >= 0x81 && b <= 0xfe) this.lead = b;
    }
  }

  get plausible(): boolean {
    return this.pairs > 0 && this.fourByte === 0 && this.gb2312 >= 0.9 * this.pairs;
  }
}

const NUL_HINT =
  'JSON text never holds one: the file looks like UTF-16 or UTF-32 without a byte-order mark, or is not a text file; save it as UTF-8';

/**
 * After a strict decode failed: GB18030 when the file is that, else a DatasetError naming the
 * lines and the encoding. `bom` is the mark the file started with, if any.
 */
export async function diagnoseEncoding(blob: Blob, bom: Bom | null, file: string): Promise<TextEncodingName> {
  const skip = bom?.bytes ?? 0;
  if (bom && bom.encoding !== 'UTF-8') {
    const u16 = new Utf16Lines(bom.encoding === 'UTF-16BE');
    for await (const piece of blobPieces(blob, skip)) u16.push(piece);
    u16.end();
    const hit = u16.bad ?? u16.nul;
    const issue: DatasetIssue = hit
      ? {
          line: hit.line,
          message: `not valid ${bom.encoding} (${hit.what} at character ${hit.column})${hit === u16.nul ? `; ${NUL_HINT}` : ''}`,
        }
      : { message: `not valid ${bom.encoding}` };
    throw new DatasetError(file, [issue]);
  }
  const u8 = new Utf8Lines();
  const gb = bom ? null : new TextDecoder('gb18030', { fatal: true });
  const looks = new GbPlausibility();
  let gbOk = !bom;
  for await (const piece of blobPieces(blob, skip)) {
    u8.push(piece);
    if (gbOk) looks.push(piece);
    if (gb && gbOk) {
      try {
        gb.decode(piece, { stream: true });
      } catch {
        gbOk = false;
      }
    }
  }
  u8.end();
  if (gb && gbOk) {
    try {
      gb.decode();
    } catch {
      gbOk = false;
    }
  }
  if (u8.nul)
    throw new DatasetError(file, [
      { line: u8.nul.line, message: `holds ${u8.nul.what} at byte ${u8.nul.column}; ${NUL_HINT}` },
    ]);
  if (u8.badLines === 0) return 'UTF-8';
  // A GBK file has no line of well-formed UTF-8 Chinese, bar a rare accident; a UTF-8 file with
  // a damaged line has many. The latter must not be decoded as GB18030 into garbage.
  if (gbOk && u8.goodLines < u8.badLines && looks.plausible) return 'GB18030';
  const why = bom
    ? 'the file starts with a UTF-8 byte-order mark'
    : u8.goodLines >= u8.badLines
      ? `${u8.goodLines} other line(s) are UTF-8, so this one is damaged: fix it or save the file as UTF-8 again`
      : gbOk
        ? 'read as GB18030 its bytes would not be Chinese text either (a Latin-1 or Windows-1252 character?): save the file as UTF-8'
        : 'the file is not GB18030 either: save it as UTF-8';
  const issues: DatasetIssue[] = u8.bad.map((b) => ({ line: b.line, message: `not valid UTF-8 (${b.what}); ${why}` }));
  if (u8.badLines > u8.bad.length)
    issues.push({ message: `${u8.badLines - u8.bad.length} more line(s) are not valid UTF-8` });
  throw new DatasetError(file, issues);
}
