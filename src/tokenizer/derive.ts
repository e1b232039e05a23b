// A smaller byte-level BPE cut from Qwen's: the first K regular tokens, the merges that
// stay inside them, and the three ChatML specials right after. Qwen's vocabulary is ordered
// by merge rank, so the kept merges are exactly Qwen's first ones and every kept token stays
// reachable; the 256 byte-level symbols come first, so any UTF-8 text still encodes.
// Tiny test models use it: the lm_head costs vocab x hidden per label token.

import { TokenizerError } from '../core/errors.ts';
import { END_OF_TEXT, IM_END, IM_START } from './tokenizer.ts';

/** The specials a derived tokenizer keeps, in id order after the regular tokens. */
export const DERIVED_SPECIALS = [END_OF_TEXT, IM_START, IM_END] as const;

interface BpeJson {
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] };
  added_tokens: { id: number; content: string }[];
  [key: string]: unknown;
}

export interface DerivedTokenizer {
  /** tokenizer.json content. */
  json: Record<string, unknown>;
  /** ids of `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`. */
  specialIds: Record<(typeof DERIVED_SPECIALS)[number], number>;
  /** Regular + special tokens. */
  size: number;
}

function mergeParts(m: string | [string, string]): [string, string] {
  if (Array.isArray(m)) return m;
  // Older tokenizer.json files store a merge as "left right"; byte-level tokens never contain a space.
  const i = m.indexOf(' ');
  return [m.slice(0, i), m.slice(i + 1)];
}

export function deriveTokenizer(full: Record<string, unknown>, keep: number): DerivedTokenizer {
  const src = full as unknown as BpeJson;
  if (src.model?.type !== 'BPE' || typeof src.model.vocab !== 'object')
    throw new TokenizerError('tokenizer.json: deriving a smaller vocabulary needs a BPE model');
  if (!Number.isInteger(keep) || keep < 256)
    throw new TokenizerError(`derived vocabulary must keep at least the 256 byte tokens, got ${keep}`);
  const vocab: Record<string, number> = {};
  for (const [tok, id] of Object.entries(src.model.vocab)) if (id < keep) vocab[tok] = id;
  if (Object.keys(vocab).length !== keep)
    throw new TokenizerError(`tokenizer.json: ids 0..${keep - 1} are not all regular tokens`);
  const merges: [string, string][] = [];
  for (const m of src.model.merges) {
    const [a, b] = mergeParts(m);
    if (a in vocab && b in vocab && a + b in vocab) merges.push([a, b]);
  }
  const byContent = new Map(src.added_tokens.map((t) => [t.content, t]));
  const specialIds = {} as DerivedTokenizer['specialIds'];
  const added = DERIVED_SPECIALS.map((content, i) => {
    const orig = byContent.get(content);
    if (!orig) throw new TokenizerError(`tokenizer.json: no added token ${content} to carry over`);
    specialIds[content] = keep + i;
    return { ...orig, id: keep + i };
  });
  const json = { ...src, added_tokens: added, model: { ...src.model, vocab, merges } };
  return { json, specialIds, size: keep + DERIVED_SPECIALS.length };
}
