// One row of each dataset format -> the one row type: the seed format ({instruct, input, output}),
// Alpaca, chat {messages} and ShareGPT {conversations}, with every problem of the row collected
// (RowCheck). Split from dataset.ts, which streams the rows in, votes on the format, and leaves
// duplicates out; this file is only what one row means in each format.

import { editDistance } from './edit-distance.ts';
import { DatasetError, type DatasetIssue } from '../core/errors.ts';
import type { Item } from './json-items.ts';
import { compactJson } from './json-keys.ts';

export type DatasetFormat = 'seed' | 'alpaca' | 'chat' | 'sharegpt';
export const DATASET_FORMATS: readonly DatasetFormat[] = ['seed', 'alpaca', 'chat', 'sharegpt'];

export interface ToolCall {
  tool_name: string;
  parameters: Record<string, unknown>;
}

export interface DatasetRow {
  /** A system prompt the row brings with it; without one the trainer's default is used. */
  system?: string;
  user: string;
  /** The exact text the model must learn to produce. */
  answer: string;
  /** The answer parsed as a tool call, for evaluation; null when it is not one. */
  expected: ToolCall | null;
  /** Where the row came from: 1-based line (JSONL) or 0-based index (JSON array). */
  origin: { line?: number; index?: number };
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function formatOf(v: unknown): DatasetFormat | undefined {
  if (!isObject(v)) return undefined;
  if ('messages' in v) return 'chat';
  if ('conversations' in v) return 'sharegpt';
  if ('instruction' in v) return 'alpaca';
  if ('instruct' in v) return 'seed';
  return undefined;
}

/** The format most rows have; ties go to the order of DATASET_FORMATS. */
export function detectFormat(items: Item[], file: string): DatasetFormat {
  const votes = new Map<DatasetFormat, number>();
  for (const it of items) {
    const f = formatOf(it.value);
    if (f) votes.set(f, (votes.get(f) ?? 0) + 1);
  }
  let best: DatasetFormat | undefined;
  for (const f of DATASET_FORMATS) if ((votes.get(f) ?? 0) > (best ? votes.get(best)! : 0)) best = f;
  if (!best)
    throw new DatasetError(file, [
      {
        message:
          'no row has the fields of a known format: {"instruct","input","output"}, {"instruction","input","output"}, {"messages":[...]} or {"conversations":[...]}',
      },
    ]);
  return best;
}

/** A tool call is a JSON object with a string "tool_name" and, if present, an object "parameters". */
export function parseToolCall(text: string): ToolCall | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  return toolCallOf(v);
}

function toolCallOf(v: unknown): ToolCall | null {
  if (!isObject(v) || typeof v.tool_name !== 'string') return null;
  if (v.parameters !== undefined && !isObject(v.parameters)) return null;
  return { tool_name: v.tool_name, parameters: (v.parameters as Obj | undefined) ?? {} };
}

/** Collects a row's problems, each tagged with the row's place and the field. */
export class RowCheck {
  readonly issues: DatasetIssue[] = [];
  constructor(private readonly where: Item['where']) {}

  add(field: string | undefined, message: string): void {
    this.issues.push({ ...this.where, ...(field ? { field } : {}), message });
  }

  /** A required field that is absent, naming a key of the row that looks like a typo of it. */
  missing(o: Obj, field: string): void {
    const near = Object.keys(o).find(
      (k) => k !== field && editDistance(k.toLowerCase(), field) <= Math.min(2, field.length >> 1),
    );
    this.add(field, near === undefined ? 'is missing' : `is missing; the row has "${near}": did you mean "${field}"?`);
  }

  /** A string field; absent is allowed only when `optional`. */
  text(o: Obj, field: string, optional: boolean): string | undefined {
    const v = o[field];
    if (v === undefined || v === null) {
      if (!optional) this.missing(o, field);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.add(field, `must be a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
      return undefined;
    }
    return v;
  }

  /** The answer: an object (serialised as compact JSON, non-ASCII kept) or a non-empty string. */
  answer(o: Obj, field: string): { answer: string; expected: ToolCall | null } | undefined {
    const v = o[field];
    if (v === undefined || v === null) return void this.missing(o, field);
    if (isObject(v)) return { answer: JSON.stringify(v), expected: toolCallOf(v) };
    if (typeof v !== 'string')
      return void this.add(field, `must be an object or a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
    if (!v.trim()) return void this.add(field, 'is empty');
    return this.oneForm(field, v);
  }

  /** Whether a JSON answer was rewritten into the compact form. */
  normalized = false;

  /** A JSON answer in the compact canonical form; one with a repeated key is a problem, not a call. */
  oneForm(field: string, v: string): { answer: string; expected: ToolCall | null } | undefined {
    const c = compactJson(v);
    if (c && 'duplicate' in c)
      return void this.add(
        field,
        `has the key ${JSON.stringify(c.duplicate)} twice in one object (JSON.parse would keep only the last)`,
      );
    if (c && c.text !== v) this.normalized = true;
    const answer = c ? c.text : v;
    return { answer, expected: parseToolCall(answer) };
  }
}

interface Turn {
  role: string;
  content: string;
}

const SHAREGPT_ROLES: Record<string, string> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
};

/** Chat turns must be [system?] user assistant: one exchange per row. */
function exchange(
  turns: Turn[],
  field: string,
  check: RowCheck,
): { system?: string; user: string; answer: string } | undefined {
  const body = turns[0]?.role === 'system' ? turns.slice(1) : turns;
  const offset = turns.length - body.length;
  if (body.length !== 2) {
    check.add(
      field,
      body.length > 2
        ? `has ${body.length} turns after the system message; only one user turn followed by one assistant turn is supported`
        : 'needs a user turn followed by an assistant turn',
    );
    return undefined;
  }
  let ok = true;
  (['user', 'assistant'] as const).forEach((role, i) => {
    if (body[i].role !== role) {
      check.add(`${field} turn ${i + offset + 1}`, `expected the ${role} turn here, found "${body[i].role}"`);
      ok = false;
    }
  });
  if (!ok) return undefined;
  if (!body[1].content.trim()) return void check.add(`${field} turn ${offset + 2}`, 'the assistant answer is empty');
  return { system: offset ? turns[0].content : undefined, user: body[0].content, answer: body[1].content };
}

function turnsOf(
  o: Obj,
  field: string,
  roleKey: string,
  textKey: string,
  check: RowCheck,
  mapRole: (r: string) => string | undefined,
): Turn[] | undefined {
  const list = o[field];
  if (!Array.isArray(list))
    return void check.add(field, list === undefined ? 'is missing' : 'must be an array of turns');
  const turns: Turn[] = [];
  let ok = true;
  list.forEach((t, i) => {
    const f = `${field} turn ${i + 1}`;
    if (!isObject(t)) return void ((ok = false), check.add(f, 'must be an object'));
    const role = typeof t[roleKey] === 'string' ? mapRole(t[roleKey] as string) : undefined;
    if (!role) {
      ok = false;
      check.add(`${f} (${roleKey})`, `unknown role ${JSON.stringify(t[roleKey])}`);
    }
    if (typeof t[textKey] !== 'string') {
      ok = false;
      check.add(`${f} (${textKey})`, 'must be a string');
    }
    if (role && typeof t[textKey] === 'string') turns.push({ role, content: t[textKey] as string });
  });
  return ok ? turns : undefined;
}

export function toRow(format: DatasetFormat, it: Item, check: RowCheck): DatasetRow | undefined {
  const o = it.value;
  if (!isObject(o)) return void check.add(undefined, 'row is not a JSON object');
  const origin = { ...it.where };
  let system: string | undefined,
    user: string | undefined,
    ans: { answer: string; expected: ToolCall | null } | undefined;
  switch (format) {
    case 'seed':
    case 'alpaca': {
      const instrField = format === 'seed' ? 'instruct' : 'instruction';
      const instr = check.text(o, instrField, false);
      const input = check.text(o, 'input', true) ?? '';
      system = check.text(o, 'system', true);
      ans = check.answer(o, 'output');
      if (instr === undefined) break;
      // The seed script concatenates instruct and input as they are; Alpaca joins them with a newline.
      user = format === 'seed' ? instr + input : input ? `${instr}\n${input}` : instr;
      if (!user.trim()) {
        check.add(instrField, 'the user text (instruction and input) is empty');
        user = undefined;
      }
      break;
    }
    case 'chat':
    case 'sharegpt': {
      const sharegpt = format === 'sharegpt';
      const field = sharegpt ? 'conversations' : 'messages';
      const turns = sharegpt
        ? turnsOf(o, field, 'from', 'value', check, (r) => SHAREGPT_ROLES[r])
        : turnsOf(o, field, 'role', 'content', check, (r) =>
            ['system', 'user', 'assistant'].includes(r) ? r : undefined,
          );
      const topSystem = sharegpt ? check.text(o, 'system', true) : undefined;
      const ex = turns && exchange(turns, field, check);
      if (!ex) break;
      system = ex.system ?? topSystem;
      user = ex.user;
      ans = check.oneForm(`${field}[${turns!.length - 1}].${sharegpt ? 'value' : 'content'}`, ex.answer);
      break;
    }
  }
  if (check.issues.length || user === undefined || ans === undefined) return undefined;
  return { ...(system !== undefined ? { system } : {}), user, answer: ans.answer, expected: ans.expected, origin };
}

/** Rows whose format is not known yet wait for this many rows to vote. */
