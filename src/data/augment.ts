// Optional augmentation: the loaded model rewrites template utterances in its own words. A
// rewrite is kept only if every parameter value survives verbatim (so its call stays exactly
// right) and it is new; kept rows carry `generated: true`, so they can be told apart, shown
// apart and dropped. The model is asked through a callback, so the worker, the CLI and tests
// share this.

import type { SeedRow } from './builder.ts';

/** The request for one rewrite (the user turn of a chat). */
export function paraphraseRequest(utterance: string, values: readonly string[]): string {
  const keep = values.length ? `其中的${values.map((v) => `“${v}”`).join('、')}必须原样保留。` : '';
  return `请换一种说法表达下面这句话，意思不变，${keep}只输出改写后的一句话。\n${utterance}`;
}

/** The first line of an answer, without the quotes or label a model may wrap it in. */
export function cleanParaphrase(text: string): string {
  let t = text.trim().split('\n')[0].trim();
  t = t.replace(/^(改写后?的?句子|改写|答案|rewrite|paraphrase)\s*[:：]\s*/i, '');
  const pairs: [string, string][] = [
    ['"', '"'],
    ['“', '”'],
    ['「', '」'],
    ["'", "'"],
  ];
  for (const [a, b] of pairs)
    if (t.length > 1 && t.startsWith(a) && t.endsWith(b)) t = t.slice(a.length, -b.length).trim();
  return t;
}

/**
 * The rewrite as a new row, or why not: every value verbatim, not an utterance already used,
 * not empty, not more than three times as long as the original.
 */
export function acceptParaphrase(row: SeedRow, answer: string, used: ReadonlySet<string>): SeedRow | string {
  const input = cleanParaphrase(answer);
  if (!input) return 'empty';
  if (used.has(input) || input === row.input) return 'not new';
  if (input.length > 3 * row.input.length + 8) return 'too long';
  for (const v of Object.values(row.output.parameters))
    if (typeof v === 'string' && !input.includes(v)) return `lost the value ${JSON.stringify(v)}`;
  return { ...row, input, generated: true };
}

export interface AugmentResult {
  rows: SeedRow[];
  asked: number;
  /** Reasons rewrites were dropped, with counts. */
  dropped: Record<string, number>;
}

/** One rewrite asked for each row; the kept ones, new rows after the given ones. */
export async function augmentRows(
  rows: readonly SeedRow[],
  used: Iterable<string>,
  ask: (requests: string[]) => Promise<string[]>,
): Promise<AugmentResult> {
  const seen = new Set(used);
  for (const r of rows) seen.add(r.input);
  const answers = await ask(
    rows.map((r) =>
      paraphraseRequest(
        r.input,
        Object.values(r.output.parameters).filter((v): v is string => typeof v === 'string'),
      ),
    ),
  );
  const out: SeedRow[] = [];
  const dropped: Record<string, number> = {};
  rows.forEach((r, i) => {
    const a = acceptParaphrase(r, answers[i] ?? '', seen);
    if (typeof a === 'string') {
      const why = a.startsWith('lost the value') ? 'lost a value' : a;
      dropped[why] = (dropped[why] ?? 0) + 1;
    } else {
      seen.add(a.input);
      out.push(a);
    }
  });
  return { rows: out, asked: rows.length, dropped };
}
