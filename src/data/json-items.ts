// The rows of a dataset file as they stream in: the elements of a top-level JSON array, or one
// JSON value per line. Text is pushed in pieces of any size and each complete row is handed on
// at once, so a file of a million rows is never held whole, split into a second copy, or spread
// into a call. A JSON array is scanned element by element (strings, escapes and nesting tracked)
// and each element parsed on its own, which also gives every syntax error its line.

import { DatasetError, type DatasetIssue } from '../core/errors.ts';

export interface Item {
  value: unknown;
  where: { line?: number; index?: number };
}

export interface ItemSink {
  item(it: Item): void;
  /** A line of a JSON lines file that is not JSON: that row is reported, the others go on. */
  issue(i: DatasetIssue): void;
}

/** Line of a character offset in `text`, counting from `firstLine`. */
function lineIn(text: string, pos: number, firstLine: number): number {
  let line = firstLine;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function parseError(e: unknown, text: string, firstLine: number): DatasetIssue {
  const msg = (e as Error).message;
  const pos = /position (\d+)/.exec(msg);
  return { line: pos ? lineIn(text, Number(pos[1]), firstLine) : firstLine, message: `not valid JSON (${msg})` };
}

/**
 * Deepest nesting a row may have. Real rows (chat messages, tool calls) nest a handful of levels;
 * JSON.parse copes with any depth but JSON.stringify and every recursive walk after it overflow
 * the stack near 10k, so deeper text is refused while it is still a string.
 */
export const MAX_NESTING = 512;

/** Deepest [ / { nesting of JSON text, strings skipped; stops counting past `limit`. */
export function nestingDepth(src: string, limit = MAX_NESTING): number {
  let depth = 0,
    max = 0,
    inString = false,
    escape = false;
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (inString) {
      if (escape) escape = false;
      else if (c === 92) escape = true;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max && (max = depth) > limit) return max;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

const TOO_DEEP = `nests deeper than ${MAX_NESTING} levels of [ ] and { }; no dataset row needs that (a generated or hostile file?)`;

/** Where a line holds a carriage return not followed by a line feed (1-based character), or 0. */
function bareCr(raw: string): number {
  for (let i = raw.indexOf('\r'); i >= 0; i = raw.indexOf('\r', i + 1)) if (raw.charCodeAt(i + 1) !== 10) return i + 1;
  return 0;
}

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/** Pretty-printed single objects are kept whole up to this many characters (they are one row). */
const ONE_OBJECT_LIMIT = 32 << 20;

export class JsonItemReader {
  container?: 'json' | 'jsonl';
  /** Rows seen: items handed on plus JSON lines that did not parse. */
  rows = 0;
  private started = false;
  private line = 1;
  private tail = '';
  // JSON array state
  private phase: 'value' | 'after' | 'done' = 'value';
  private depth = 0;
  private inString = false;
  private escape = false;
  private inElement = false;
  private elemLine = 0;
  private index = 0;
  // JSON lines state
  private sawBraceLine = false;
  private firstLineText?: string;
  private firstLineNo = 0;
  private whole?: string[];
  private wholeChars = 0;
  private held?: { items: Item[]; issues: DatasetIssue[] };

  constructor(
    private readonly file: string,
    private readonly sink: ItemSink,
  ) {}

  push(text: string): void {
    if (!this.started) {
      text = (this.tail + text).replace(/^\uFEFF/, '');
      this.tail = '';
      const first = /\S/.exec(text);
      if (!first) {
        this.tail = text;
        return;
      }
      this.started = true;
      this.container = text[first.index] === '[' ? 'json' : 'jsonl';
      if (this.container === 'json') {
        this.line = lineIn(text, first.index, 1);
        return this.scanArray(text, first.index + 1);
      }
      return this.pushLines(text);
    }
    if (this.container === 'json') this.scanArray(this.tail + text, this.tail.length);
    else this.pushLines(text);
  }

  end(): void {
    if (!this.started) throw new DatasetError(this.file, [{ message: 'the file is empty' }]);
    if (this.container === 'json') {
      if (this.phase !== 'done')
        throw new DatasetError(this.file, [
          { line: this.line, message: 'not valid JSON (the array is not closed with "]")' },
        ]);
      return;
    }
    if (this.tail) this.lineDone(this.tail);
    this.tail = '';
    this.endLines();
  }

  // ---- JSON array ----------------------------------------------------------------------------

  private fail(message: string, line = this.line): never {
    throw new DatasetError(this.file, [{ line, message: `not valid JSON (${message})` }]);
  }

  /** Scans `text` from `from`; the unfinished element, if any, is kept as the tail for the next piece. */
  private scanArray(text: string, from: number): void {
    // An element carried over from the previous piece starts at 0 of `text` and was scanned up to `from`.
    let start = this.inElement ? 0 : -1;
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (start >= 0) {
        if (c === 10) this.line++;
        if (this.inString) {
          if (this.escape) this.escape = false;
          else if (c === 92) this.escape = true;
          else if (c === 34) {
            this.inString = false;
            if (this.depth === 0) start = this.element(text, start, i + 1);
          }
        } else if (c === 34) this.inString = true;
        else if (c === 123 || c === 91) this.depth++;
        else if (this.depth > 0 && (c === 125 || c === 93)) {
          if (--this.depth === 0) start = this.element(text, start, i + 1);
        } else if (this.depth === 0 && (c === 44 || c === 93 || c === 125 || isSpace(c))) {
          // A bare value (number, true, ...) ends here; the character is looked at again below.
          if (c === 10) this.line--;
          start = this.element(text, start, i);
          i--;
        }
        continue;
      }
      if (c === 10) this.line++;
      if (isSpace(c)) continue;
      if (this.phase === 'done') this.fail('text after the closing "]"');
      if (this.phase === 'after') {
        if (c === 44) this.phase = 'value';
        else if (c === 93) this.phase = 'done';
        else this.fail('expected "," or "]" after an element');
        continue;
      }
      if (c === 93) {
        if (this.index > 0) this.fail('"]" right after ","');
        this.phase = 'done';
        continue;
      }
      if (c === 44) this.fail('"," where an element was expected');
      start = i;
      this.inElement = true;
      this.elemLine = this.line;
      this.depth = c === 123 || c === 91 ? 1 : 0;
      this.inString = c === 34;
    }
    this.tail = start >= 0 ? text.slice(start) : '';
  }

  /** Parses one element and hands it on; returns -1, the scan's "no element open". */
  private element(text: string, start: number, end: number): number {
    const src = text.slice(start, end);
    if (nestingDepth(src) > MAX_NESTING)
      throw new DatasetError(this.file, [{ line: this.elemLine, index: this.index, message: TOO_DEEP }]);
    let value: unknown;
    try {
      value = JSON.parse(src);
    } catch (e) {
      const issue = parseError(e, src, this.elemLine);
      throw new DatasetError(this.file, [issue]);
    }
    this.inElement = false;
    this.phase = 'after';
    this.rows++;
    this.sink.item({ value, where: { index: this.index++ } });
    return -1;
  }

  // ---- JSON lines ----------------------------------------------------------------------------

  private pushLines(text: string): void {
    let from = 0;
    const joined = this.tail + text;
    for (let nl = joined.indexOf('\n', from); nl >= 0; nl = joined.indexOf('\n', from)) {
      this.lineDone(joined.slice(from, nl));
      from = nl + 1;
    }
    this.tail = joined.slice(from);
  }

  /** No longer a candidate for one pretty-printed object: hand on what was held back. */
  private release(): void {
    const held = this.held;
    this.whole = undefined;
    this.held = undefined;
    if (!held) return;
    for (const it of held.items) this.sink.item(it);
    for (const i of held.issues) this.sink.issue(i);
  }

  private lineDone(raw: string): void {
    const lineNo = this.line++;
    if (this.whole) {
      this.whole.push(raw);
      this.wholeChars += raw.length + 1;
      if (this.wholeChars > ONE_OBJECT_LIMIT) this.release();
    }
    const trimmed = raw.trim();
    if (!trimmed) return;
    if (trimmed[0] === '{') this.sawBraceLine = true;
    const first = this.firstLineText === undefined;
    if (first) {
      this.firstLineText = raw;
      this.firstLineNo = lineNo;
    }
    this.rows++;
    if (nestingDepth(raw) > MAX_NESTING) {
      const deep = { line: lineNo, message: TOO_DEEP };
      if (this.held) this.held.issues.push(deep);
      else this.sink.issue(deep);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      // Lines that end in a carriage return alone (old Mac files) arrive as one long line.
      const cr = bareCr(raw);
      const issue: DatasetIssue = {
        line: lineNo,
        message: cr
          ? `not valid JSON: a bare carriage return (CR, 0x0D, not followed by LF) at character ${cr}; lines must end in LF or CR LF: save the file with Unix or Windows line ends`
          : `not valid JSON (${(e as Error).message})`,
      };
      // A first line like "{" may open one pretty-printed object: hold the rows back until the
      // whole text can be tried as one value.
      if (first && trimmed[0] === '{') {
        this.whole = [raw];
        this.held = { items: [], issues: [issue] };
        return;
      }
      if (this.held) this.held.issues.push(issue);
      else this.sink.issue(issue);
      return;
    }
    const it: Item = { value, where: { line: lineNo } };
    if (this.held) this.held.items.push(it);
    else this.sink.item(it);
  }

  private endLines(): void {
    if (this.whole && this.held) {
      const text = this.whole.join('\n');
      if (nestingDepth(text) > MAX_NESTING) {
        this.release();
        return;
      }
      try {
        const value = JSON.parse(text);
        this.container = 'json';
        this.rows = 1;
        this.held = undefined;
        this.whole = undefined;
        this.sink.item({ value, where: { index: 0 } });
        return;
      } catch {
        this.release();
      }
    }
    if (this.firstLineText !== undefined && this.firstLineText.trim()[0] !== '{' && !this.sawBraceLine)
      throw new DatasetError(this.file, [
        { line: this.firstLineNo, message: 'expected a JSON array ([...]) or JSON lines ({...} per line)' },
      ]);
  }
}
