// Test-side encoders for the dataset encodings Node cannot write: GB18030 by inverting the
// standard decoder over every two-byte code (the BMP characters of real datasets), UTF-16 with
// a byte-order mark in either byte order. Plain JavaScript so the browser flows (e2e/) use it too.

/** @type {Map<string, [number, number]> | undefined} */
let gbTable;

/** @param {string} text */
export function encodeGb18030(text) {
  if (!gbTable) {
    gbTable = new Map();
    const dec = new TextDecoder('gb18030', { fatal: true });
    for (let lead = 0x81; lead <= 0xfe; lead++)
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        if (trail === 0x7f) continue;
        try {
          const ch = dec.decode(Uint8Array.of(lead, trail));
          if (ch.length === 1 && !gbTable.has(ch)) gbTable.set(ch, [lead, trail]);
        } catch {
          // not a two-byte code
        }
      }
  }
  const out = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else {
      const pair = gbTable.get(ch);
      if (!pair) throw new Error(`no two-byte GB18030 code for ${ch}`);
      out.push(...pair);
    }
  }
  return Uint8Array.from(out);
}

/** @param {string} text @param {'le' | 'be'} order */
export function encodeUtf16(text, order, bom = true) {
  const out = new Uint8Array((text.length + (bom ? 1 : 0)) * 2);
  const units = (bom ? '\uFEFF' : '') + text;
  for (let i = 0; i < units.length; i++) {
    const u = units.charCodeAt(i);
    out[2 * i + (order === 'le' ? 0 : 1)] = u & 0xff;
    out[2 * i + (order === 'le' ? 1 : 0)] = u >> 8;
  }
  return out;
}
