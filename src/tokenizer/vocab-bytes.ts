// The bytes each token id stands for, read from tokenizer.json: what a grammar over bytes
// needs to decide which tokens may come next. Byte-level BPE (Qwen's) spells every byte as
// one printable symbol (GPT-2's alphabet), so a token's string maps back to its exact bytes,
// including the pieces of a multi-byte character that a token may end or start inside.

import { TokenizerError } from '../core/errors.ts';

/** GPT-2's byte-to-symbol map, inverted: printable Latin-1 bytes are themselves, the others U+0100 onwards. */
function symbolToByte(): Int16Array {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const m = new Int16Array(512).fill(-1);
  let next = 256;
  for (let b = 0; b < 256; b++) m[printable(b) ? b : next++] = b;
  return m;
}

/**
 * Bytes of every regular token by id; null for added tokens (specials such as <|im_end|>, and
 * markup such as <tool_call>), which a grammar over text never produces by spelling.
 */
export function vocabBytes(tokenizerJson: string | object): (Uint8Array | null)[] {
  const tj = (typeof tokenizerJson === 'string' ? JSON.parse(tokenizerJson) : tokenizerJson) as {
    model?: { type?: string; vocab?: Record<string, number> };
    decoder?: { type?: string };
    added_tokens?: { id: number }[];
  };
  if (tj.decoder?.type !== 'ByteLevel' || !tj.model?.vocab)
    throw new TokenizerError(
      `tokenizer.json: constrained decoding needs a byte-level BPE vocabulary (decoder "ByteLevel"), this one has decoder ${JSON.stringify(tj.decoder?.type ?? null)}`,
    );
  const map = symbolToByte();
  const out: (Uint8Array | null)[] = [];
  for (const [token, id] of Object.entries(tj.model.vocab)) {
    const bytes = new Uint8Array(token.length);
    for (let i = 0; i < token.length; i++) {
      const code = token.charCodeAt(i);
      const b = code < 512 ? map[code] : -1;
      if (b < 0)
        throw new TokenizerError(
          `tokenizer.json: token ${id} (${JSON.stringify(token)}) has a symbol outside the byte-level alphabet`,
        );
      bytes[i] = b;
    }
    out[id] = bytes;
  }
  for (const t of tj.added_tokens ?? []) out[t.id] = null;
  for (let i = 0; i < out.length; i++) if (out[i] === undefined) out[i] = null;
  return out;
}
