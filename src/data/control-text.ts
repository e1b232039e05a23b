// Dataset text that spells a control token of the model's chat template (`<|im_start|>`,
// `<|im_end|>`, `<|endoftext|>`, Qwen3's `<think>`...). Tokenized as usual, the spelling becomes
// that token: a user turn can open a system turn, an answer holding `<|im_end|>` teaches the model
// to stop there. Such rows are refused with their line and field unless the user allows control
// text; then the spelled token is encoded as plain text by one rule that train.py of the exported
// job repeats (src/export/job/train-py.ts, `encode_plain` and `prompt_ids_plain`):
// - content is cut at each spelled token; the stretches between are encoded as they are;
// - a spelled token is encoded as two texts: its leading ASCII punctuation (`<|`, `</`) and the
//   rest (`im_end|>`), neither of which is a token of the vocabulary's added tokens;
// - the prompt is the chat template rendered with placeholders for the contents: the template's
//   own text (its real control tokens) encoded as usual, each content by the rule above.
// Rows without control text are encoded exactly as before.

import type { DatasetIssue } from '../core/errors.ts';
import type { ChatTokenizer } from '../tokenizer/tokenizer.ts';
import { TokenizerError } from '../core/errors.ts';

/** The texts the tokenizer turns into one added token, longest first (so `</think>` wins over `<think>` at one place). */
export function controlTokens(tok: Pick<ChatTokenizer, 'addedTokens'>): string[] {
  return [...new Set(tok.addedTokens)]
    .filter((t) => t.length > 1)
    .sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
}

/** The first control token `text` spells, if any. */
export function spelledControl(text: string, tokens: readonly string[]): string | undefined {
  for (let i = text.indexOf('<'); i >= 0; i = text.indexOf('<', i + 1)) {
    const hit = tokens.find((t) => text.startsWith(t, i));
    if (hit) return hit;
  }
  // Added tokens that do not start with "<" (rare): a plain search.
  return tokens.find((t) => t[0] !== '<' && text.includes(t));
}

/** `text` cut at each spelled control token: [text, false] stretches and [token, true] spellings. */
export function splitControl(text: string, tokens: readonly string[]): [string, boolean][] {
  const out: [string, boolean][] = [];
  let start = 0;
  for (let i = 0; i < text.length;) {
    const hit = tokens.find((t) => text.startsWith(t, i));
    if (!hit) {
      i++;
      continue;
    }
    if (start < i) out.push([text.slice(start, i), false]);
    out.push([hit, true]);
    i += hit.length;
    start = i;
  }
  if (start < text.length) out.push([text.slice(start), false]);
  return out;
}

const isPunct = (c: string) => c.length === 1 && c.charCodeAt(0) < 128 && /[!-/:-@[-^`{-~]/.test(c);

/** A spelled token's two plain texts: leading ASCII punctuation (not "_"), then the rest. */
export function plainParts(token: string): [string, string] {
  let n = 0;
  while (n < token.length && isPunct(token[n])) n++;
  if (n === 0 || n === token.length) n = 1;
  return [token.slice(0, n), token.slice(n)];
}

/** Appends `more` to `ids` one by one (a spread of a long row's ids would overflow the call stack). */
function append(ids: number[], more: ArrayLike<number>): void {
  for (let i = 0; i < more.length; i++) ids.push(more[i]);
}

/** Ids of `text` with every spelled control token encoded as plain text. */
export function encodePlain(tok: Pick<ChatTokenizer, 'encode'>, text: string, tokens: readonly string[]): number[] {
  const ids: number[] = [];
  for (const [piece, control] of splitControl(text, tokens)) {
    if (!control) append(ids, tok.encode(piece));
    else for (const part of plainParts(piece)) if (part) append(ids, tok.encode(part));
  }
  return ids;
}

/** Placeholders the template renders in place of each content: private-use characters no dataset text holds around letters. */
export const CONTENT_MARK = (i: number) => `\uE000webtune-content-${i}\uE000`;

/**
 * Prompt ids of [system, user] + generation prompt with control text in the contents encoded as
 * plain text: the template's own pieces as usual, each content by encodePlain.
 */
export function promptIdsPlain(
  tok: Pick<ChatTokenizer, 'encode' | 'renderChat'>,
  system: string,
  user: string,
  tokens: readonly string[],
): number[] {
  const contents = [system, user];
  const rendered = tok.renderChat(
    [
      { role: 'system', content: CONTENT_MARK(0) },
      { role: 'user', content: CONTENT_MARK(1) },
    ],
    { addGenerationPrompt: true },
  );
  const ids: number[] = [];
  let rest = rendered;
  contents.forEach((content, i) => {
    const at = rest.indexOf(CONTENT_MARK(i));
    if (at < 0 || rest.indexOf(CONTENT_MARK(i), at + 1) >= 0)
      throw new TokenizerError(
        'chat_template: does not render each message content once as it is, so control text in the data cannot be encoded as plain text',
      );
    if (at > 0) append(ids, tok.encode(rest.slice(0, at)));
    append(ids, encodePlain(tok, content, tokens));
    rest = rest.slice(at + CONTENT_MARK(i).length);
  });
  if (rest) append(ids, tok.encode(rest));
  return ids;
}

/** Fields of a row as the issue names them. */
export interface ControlFields {
  system?: string;
  user: string;
  answer: string;
  origin: { line?: number; index?: number };
}

const FIELD_NAMES = { system: 'system', user: 'input', answer: 'output' } as const;

/** One issue per row spelling a control token: line (or index), field and the token, with the way out. */
export function controlTextIssues(
  rows: Iterable<ControlFields>,
  tokens: readonly string[],
  allowFlag = '--allow-control-text',
  limit = 20,
): { issues: DatasetIssue[]; count: number } {
  const issues: DatasetIssue[] = [];
  let count = 0;
  for (const r of rows) {
    for (const key of ['system', 'user', 'answer'] as const) {
      const text = r[key];
      if (text === undefined) continue;
      const hit = spelledControl(text, tokens);
      if (!hit) continue;
      count++;
      if (issues.length < limit)
        issues.push({
          ...r.origin,
          field: FIELD_NAMES[key],
          message: `spells the chat control token ${hit}, which would be read as the token itself (a new turn, or the end of the answer); remove it, or pass ${allowFlag} to train on it as plain text`,
        });
      break;
    }
  }
  if (count > issues.length) issues.push({ message: `${count - issues.length} more row(s) spell a control token` });
  return { issues, count };
}
