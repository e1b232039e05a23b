// One JSON form. JSON.parse takes an object with the same key twice and keeps the last value,
// so `{"time":"a","time":"b"}` would pass as a call; the validity check must see the text, not
// the parsed value. And string outputs are kept in one form, the compact one JSON.stringify
// writes (no spaces, non-ASCII raw): the form constrained decoding writes, and about half the
// tokens of a \u-escaped row.

/** The first key that repeats inside one object of valid JSON text, or null. */
export function duplicateKey(text: string): string | null {
  // One frame per open object or array: the keys seen, and whether a key comes next.
  const frames: { keys: Set<string> | null; wantKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = frames.at(-1);
      if (top?.keys && top.wantKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.wantKey = false;
      }
      i = j;
    } else if (c === 0x7b) frames.push({ keys: new Set(), wantKey: true });
    else if (c === 0x5b) frames.push({ keys: null, wantKey: false });
    else if (c === 0x7d || c === 0x5d) frames.pop();
    else if (c === 0x2c) {
      const top = frames.at(-1);
      if (top?.keys) top.wantKey = true;
    }
  }
  return null;
}

/**
 * A string output in the canonical compact form: { text } when it is a JSON object or array
 * (rewritten or not), { duplicate } when one of its objects repeats a key, null when it is not
 * JSON (free text stays as it is).
 */
export function compactJson(text: string): { text: string } | { duplicate: string } | null {
  const t = text.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return null;
  }
  const dup = duplicateKey(t);
  return dup !== null ? { duplicate: dup } : { text: JSON.stringify(v) };
}
