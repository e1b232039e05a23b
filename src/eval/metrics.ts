// Accuracy of generated answers against expected ones. Pure: takes [{expected, generated}]
// so the numbers can be checked on hand-made predictions, independent of any model.
//
// Slot scores are micro-averaged over parameter (key, value) pairs: every expected pair is one
// gold item, every generated pair one predicted item, a hit when the key exists on both sides
// with the same JSON value ("3" and 3 differ). A group with nothing expected and nothing
// predicted scores 1 (nothing to get wrong); predicting nothing while something was expected
// scores 0, as sklearn's zero_division=0 does.

import { duplicateKey } from '../data/json-keys.ts';

export interface ToolCall {
  tool_name: string;
  parameters: Record<string, unknown>;
}

export interface Prediction {
  /** A tool call for tool rows, a string for free-text rows. */
  expected: ToolCall | string;
  generated: string;
}

export interface SlotCounts {
  hits: number;
  predicted: number;
  gold: number;
}

export interface GroupScores {
  rows: number;
  intentAccuracy: number;
  slotPrecision: number;
  slotRecall: number;
  slotF1: number;
  /** The whole call equals the expected one; the seed calls this "intent/slot accuracy". */
  exactMatch: number;
  invalidJsonRate: number;
  slots: SlotCounts;
}

export interface WrongAnswer {
  index: number;
  /** Compact JSON for tool rows, the text for free-text rows. */
  expected: string;
  generated: string;
  reason: 'invalid-json' | 'wrong-intent' | 'wrong-slots' | 'wrong-call' | 'wrong-text';
}

export interface EvalReport {
  rows: number;
  toolRows: number;
  textRows: number;
  /** Scores over tool rows; undefined when there are none. */
  tool?: GroupScores;
  /** By expected tool_name, sorted by name. */
  perIntent: Record<string, GroupScores>;
  /** Exact match over free-text rows; undefined when there are none. */
  textExactMatch?: number;
  /** Rows answered exactly right (tool call or text) over all rows. */
  accuracy: number;
  wrong: WrongAnswer[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON text with object keys sorted, so equal JSON values give equal strings. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

type Parsed = { ok: true; value: unknown } | { ok: false };

/** Surrounding whitespace is tolerated; anything else around the JSON, or a key twice in one object, makes it invalid. */
export function parseGenerated(text: string): Parsed {
  try {
    const value = JSON.parse(text.trim());
    // JSON.parse keeps the last of a repeated key; a call that repeats one is not valid.
    return duplicateKey(text) === null ? { ok: true, value } : { ok: false };
  } catch {
    return { ok: false };
  }
}

interface ToolRowScore {
  intent: string;
  invalidJson: boolean;
  intentOk: boolean;
  exact: boolean;
  slots: SlotCounts;
}

function scoreToolRow(expected: ToolCall, generated: string): ToolRowScore {
  const gold = expected.parameters ?? {};
  const goldCount = Object.keys(gold).length;
  const parsed = parseGenerated(generated);
  if (!parsed.ok) {
    return { intent: expected.tool_name, invalidJson: true, intentOk: false, exact: false, slots: { hits: 0, predicted: 0, gold: goldCount } };
  }
  // Valid JSON that is not a call still gets scored: it names no intent and carries no slots.
  const v = parsed.value;
  const obj = isPlainObject(v) ? v : {};
  const params = isPlainObject(obj.parameters) ? obj.parameters : {};
  let hits = 0;
  for (const [k, val] of Object.entries(params)) {
    if (Object.hasOwn(gold, k) && canonicalJson(gold[k]) === canonicalJson(val)) hits++;
  }
  const intentOk = obj.tool_name === expected.tool_name;
  const normalized = (c: Record<string, unknown>) => canonicalJson({ ...c, parameters: isPlainObject(c.parameters) ? c.parameters : {} });
  const exact = isPlainObject(v) && normalized(obj) === normalized(expected as unknown as Record<string, unknown>);
  return { intent: expected.tool_name, invalidJson: false, intentOk, exact, slots: { hits, predicted: Object.keys(params).length, gold: goldCount } };
}

export function slotPrf(c: SlotCounts): { precision: number; recall: number; f1: number } {
  const precision = c.predicted > 0 ? c.hits / c.predicted : c.gold > 0 ? 0 : 1;
  const recall = c.gold > 0 ? c.hits / c.gold : c.predicted > 0 ? 0 : 1;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

/** True when no slot was expected nor predicted: P/R/F1 are then 1 by convention, not a measurement. */
export function noSlotsToScore(g: Pick<GroupScores, 'slots'>): boolean {
  return g.slots.gold === 0 && g.slots.predicted === 0;
}

function group(scores: ToolRowScore[]): GroupScores {
  const n = scores.length;
  const slots = scores.reduce((a, s) => ({ hits: a.hits + s.slots.hits, predicted: a.predicted + s.slots.predicted, gold: a.gold + s.slots.gold }), { hits: 0, predicted: 0, gold: 0 });
  const prf = slotPrf(slots);
  const frac = (f: (s: ToolRowScore) => boolean) => scores.filter(f).length / n;
  return {
    rows: n,
    intentAccuracy: frac((s) => s.intentOk),
    slotPrecision: prf.precision,
    slotRecall: prf.recall,
    slotF1: prf.f1,
    exactMatch: frac((s) => s.exact),
    invalidJsonRate: frac((s) => s.invalidJson),
    slots,
  };
}

function wrongReason(s: ToolRowScore): WrongAnswer['reason'] {
  if (s.invalidJson) return 'invalid-json';
  if (!s.intentOk) return 'wrong-intent';
  if (s.slots.hits !== s.slots.gold || s.slots.predicted !== s.slots.gold) return 'wrong-slots';
  return 'wrong-call';
}

export function scorePredictions(preds: Prediction[]): EvalReport {
  const toolScores: ToolRowScore[] = [];
  const wrong: WrongAnswer[] = [];
  let textRows = 0;
  let textHits = 0;
  preds.forEach((p, index) => {
    if (typeof p.expected === 'string') {
      textRows++;
      if (p.generated.trim() === p.expected.trim()) textHits++;
      else wrong.push({ index, expected: p.expected, generated: p.generated, reason: 'wrong-text' });
      return;
    }
    const s = scoreToolRow(p.expected, p.generated);
    toolScores.push(s);
    if (!s.exact) wrong.push({ index, expected: JSON.stringify(p.expected), generated: p.generated, reason: wrongReason(s) });
  });
  const byIntent = new Map<string, ToolRowScore[]>();
  for (const s of toolScores) byIntent.set(s.intent, [...(byIntent.get(s.intent) ?? []), s]);
  const perIntent: Record<string, GroupScores> = {};
  for (const name of [...byIntent.keys()].sort()) perIntent[name] = group(byIntent.get(name)!);
  const exactTool = toolScores.filter((s) => s.exact).length;
  return {
    rows: preds.length,
    toolRows: toolScores.length,
    textRows,
    tool: toolScores.length ? group(toolScores) : undefined,
    perIntent,
    textExactMatch: textRows ? textHits / textRows : undefined,
    accuracy: preds.length ? (exactTool + textHits) / preds.length : 0,
    wrong,
  };
}
