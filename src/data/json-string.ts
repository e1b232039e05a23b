// The body of a JSON string (after its opening quote) as a byte automaton with 14 states: at a
// character boundary (empty or not), after a backslash, inside \uXXXX, or inside a multi-byte
// UTF-8 character with the range its next byte must fall in (which rules out overlong forms,
// surrogates and code points past U+10FFFF). It knows nothing of where the string sits, so
// what a token does to it can be worked out once per tokenizer and shared by every grammar.

export const LEX_EMPTY = 0;
export const LEX_BODY = 1;
export const LEX_STATES = 14;
/** lexStep results that are not states. */
export const LEX_DEAD = -1;
export const LEX_CLOSE = -2;

const ESC = 2,
  HEX4 = 3,
  HEX1 = 6,
  U1 = 7,
  U2 = 8,
  U2_A0 = 9,
  U2_9F = 10,
  U3 = 11,
  U3_90 = 12,
  U3_8F = 13;

/** Bytes that finish the string from each state: the rest of a character, one if empty, the quote. */
export const LEX_TO_CLOSE = Int8Array.from([2, 1, 2, 5, 4, 3, 2, 2, 3, 3, 3, 4, 4, 4]);

function lead(b: number): number {
  if (b >= 0xc2 && b <= 0xdf) return U1;
  if (b === 0xe0) return U2_A0;
  if (b === 0xed) return U2_9F;
  if (b >= 0xe1 && b <= 0xef) return U2;
  if (b === 0xf0) return U3_90;
  if (b >= 0xf1 && b <= 0xf3) return U3;
  if (b === 0xf4) return U3_8F;
  return LEX_DEAD;
}

const isHex = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const CONT: Record<number, [number, number, number]> = {
  [U1]: [0x80, 0xbf, LEX_BODY],
  [U2]: [0x80, 0xbf, U1],
  [U2_A0]: [0xa0, 0xbf, U1],
  [U2_9F]: [0x80, 0x9f, U1],
  [U3]: [0x80, 0xbf, U2],
  [U3_90]: [0x90, 0xbf, U2],
  [U3_8F]: [0x80, 0x8f, U2],
};

function transition(s: number, b: number): number {
  if (s === LEX_EMPTY || s === LEX_BODY) {
    if (b === 0x22) return s === LEX_BODY ? LEX_CLOSE : LEX_DEAD; // the seed's values are never empty
    if (b === 0x5c) return ESC;
    if (b < 0x20) return LEX_DEAD; // control characters must be escaped
    return b < 0x80 ? LEX_BODY : lead(b);
  }
  if (s === ESC) return b === 0x75 ? HEX4 : '"\\/bfnrt'.includes(String.fromCharCode(b)) ? LEX_BODY : LEX_DEAD;
  if (s >= HEX4 && s <= HEX1) return isHex(b) ? (s === HEX1 ? LEX_BODY : s + 1) : LEX_DEAD;
  const [lo, hi, to] = CONT[s];
  return b >= lo && b <= hi ? to : LEX_DEAD;
}

const TABLE = new Int8Array(LEX_STATES * 256);
for (let s = 0; s < LEX_STATES; s++) for (let b = 0; b < 256; b++) TABLE[s * 256 + b] = transition(s, b);

/** The state after byte b, or LEX_DEAD, or LEX_CLOSE (the closing quote). */
export function lexStep(s: number, b: number): number {
  return TABLE[s * 256 + b];
}
