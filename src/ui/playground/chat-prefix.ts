// What the Playground adds to the typed text so it reads like a training row: rows of the seed
// format start with the same instruction ("请将以下会议语音指令转换为工具调用JSON：") before the
// utterance, and a model trained on them expects it. It is the common start of the rows' user text.

import type { RowList } from '../app/state.ts';

/** Rows looked at: the instruction is on every row, so a few dozen tell it. */
const SAMPLE = 64;

/** The text every (sampled) training row's user turn starts with, when it is a real instruction (4+ characters). */
export function commonInstruct(rows: RowList | undefined): string {
  if (!rows || rows.length < 2) return '';
  const sample = rows.slice(0, SAMPLE).map((r) => r.user);
  let prefix = sample[0];
  for (const u of sample) {
    let i = 0;
    while (i < prefix.length && i < u.length && prefix[i] === u[i]) i++;
    prefix = prefix.slice(0, i);
  }
  // The row's own text starts where the instruction ends: cut back to the last separator.
  const cut = ['：', ':', '\n', '。', '.', '?', '？'].reduce((m, c) => Math.max(m, prefix.lastIndexOf(c)), -1);
  const instruct = cut >= 0 ? prefix.slice(0, cut + 1) : '';
  return [...instruct.trim()].length >= 4 ? instruct : '';
}

/** An answer of only whitespace, made visible: each line break as ↵, each space as ·. */
export function visibleWhitespace(text: string): { shown: string; breaks: number; spaces: number } | undefined {
  if (!text || text.trim()) return undefined;
  const breaks = (text.match(/\n/g) ?? []).length;
  const spaces = (text.match(/[ \t]/g) ?? []).length;
  return { shown: text.replace(/[ \t]/g, '·').replace(/\n/g, '↵\n'), breaks, spaces };
}
