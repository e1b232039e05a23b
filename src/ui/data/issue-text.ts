// The data layer's problem messages (src/data/dataset.ts, json-items.ts) in the page's language.
// They are English sentences built in one place each; this table names each sentence's pattern
// and the message key that says it, so a Chinese page shows no English but a parser's own detail.

import { DATASET_FORMATS, type DatasetFormat } from '../../data/dataset.ts';
import type { MessageKey, Translate } from '../shared/i18n.ts';

/** Pattern of a data-layer message, the key that translates it, and the names of its captures. */
export const ISSUE_PATTERNS: readonly (readonly [RegExp, MessageKey, ...string[]])[] = [
  [/^is missing$/, 'issue.missing'],
  [/^is missing; the row has "(.+)": did you mean "(.+)"\?$/, 'issue.typo', 'found', 'field'],
  [/^is empty$/, 'issue.empty'],
  [/^must be a string, got (.+)$/, 'issue.notString', 'got'],
  [/^must be a string$/, 'issue.notString', 'got'],
  [/^must be an object or a string, got (.+)$/, 'issue.answerType', 'got'],
  [/^must be an array of turns$/, 'issue.turns'],
  [/^must be an object$/, 'issue.object'],
  [/^row is not a JSON object$/, 'issue.object'],
  [/^not valid JSON \((.*)\)$/s, 'issue.json', 'detail'],
  [/^the assistant answer is empty$/, 'issue.emptyAnswer'],
  [/^the user text \(instruction and input\) is empty$/, 'issue.emptyUser'],
  [/^expected the (\w+) turn here, found "(.*)"$/, 'issue.turnOrder', 'role', 'found'],
  [/^unknown role (.+)$/, 'issue.role', 'role'],
  [/^needs a user turn followed by an assistant turn$/, 'issue.turnPair'],
  [/^has (\d+) turns after the system message; .*$/, 'issue.tooManyTurns', 'count'],
  [/^no row has the fields of a known format: .*$/, 'issue.noFormat'],
  [/^the file is empty$/, 'issue.emptyFile'],
  [/^no rows$/, 'issue.emptyFile'],
  [/^expected a JSON array .*$/, 'issue.notJson'],
  [/^the same row as (.+); left out$/, 'issue.duplicate', 'first'],
];

/**
 * A data-layer message in the page's language; one of no known pattern is shown as it is. A
 * JSON parser's own words (the browser's, in English) come apart as `detail`.
 */
export function issueMessage(t: Translate, message: string): { text: string; detail?: string } {
  for (const [re, key, ...names] of ISSUE_PATTERNS) {
    const m = re.exec(message);
    if (!m) continue;
    const params = Object.fromEntries(names.map((n, i) => [n, m[i + 1] ?? '']));
    return { text: t(key, params), ...(params.detail ? { detail: params.detail } : {}) };
  }
  return { text: message };
}

/** A dataset format's name in the page's language ("seed" is the meeting assistant's own rows). */
export function formatName(t: Translate, format: string): string {
  return (DATASET_FORMATS as readonly string[]).includes(format) ? t(`data.format.${format as DatasetFormat}`) : format;
}
