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
    return {
      intent: expected.tool_name,
      invalidJson: true,
      intentOk: false,
      exact: false,
      slots: { hits: 0, predicted: 0, gold: goldCount },
    };
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
  const normalized = (c: Record<string, unknown>) =>
    canonicalJson({ ...c, parameters: isPlainObject(c.parameters) ? c.parameters : {} });
  const exact = isPlainObject(v) && normalized(obj) === normalized(expected as unknown as Record<string, unknown>);
  return {
    intent: expected.tool_name,
    invalidJson: false,
    intentOk,
    exact,
    slots: { hits, predicted: Object.keys(params).length, gold: goldCount },
  };
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

/** Running sums of a group of tool rows: what GroupScores is computed from, without the rows. */
interface Tally {
  rows: number;
  intentOk: number;
  exact: number;
  invalidJson: number;
  slots: SlotCounts;
}

const newTally = (): Tally => ({
  rows: 0,
  intentOk: 0,
  exact: 0,
  invalidJson: 0,
  slots: { hits: 0, predicted: 0, gold: 0 },
});

function tallyRow(t: Tally, s: ToolRowScore): void {
  t.rows++;
  if (s.intentOk) t.intentOk++;
  if (s.exact) t.exact++;
  if (s.invalidJson) t.invalidJson++;
  t.slots.hits += s.slots.hits;
  t.slots.predicted += s.slots.predicted;
  t.slots.gold += s.slots.gold;
}

function group(t: Tally): GroupScores {
  const prf = slotPrf(t.slots);
  return {
    rows: t.rows,
    intentAccuracy: t.intentOk / t.rows,
    slotPrecision: prf.precision,
    slotRecall: prf.recall,
    slotF1: prf.f1,
    exactMatch: t.exact / t.rows,
    invalidJsonRate: t.invalidJson / t.rows,
    slots: { ...t.slots },
  };
}

function wrongReason(s: ToolRowScore): WrongAnswer['reason'] {
  if (s.invalidJson) return 'invalid-json';
  if (!s.intentOk) return 'wrong-intent';
  if (s.slots.hits !== s.slots.gold || s.slots.predicted !== s.slots.gold) return 'wrong-slots';
  return 'wrong-call';
}

/**
 * The metrics kept as running sums, a prediction at a time: an evaluation of any number of rows
 * holds only these sums and its wrong answers (issue 23: `eval` streams its rows). The report is
 * the one scorePredictions gives for the same predictions in the same order.
 */
export class ReportBuilder {
  private rows = 0;
  private textRows = 0;
  private textHits = 0;
  private readonly tool = newTally();
  private readonly byIntent = new Map<string, Tally>();
  private readonly wrong: WrongAnswer[] = [];

  /** Scores one prediction; returns its wrong answer, or undefined when it was right. */
  add(p: Prediction): WrongAnswer | undefined {
    const index = this.rows++;
    let w: WrongAnswer | undefined;
    if (typeof p.expected === 'string') {
      this.textRows++;
      if (p.generated.trim() === p.expected.trim()) this.textHits++;
      else w = { index, expected: p.expected, generated: p.generated, reason: 'wrong-text' };
    } else {
      const s = scoreToolRow(p.expected, p.generated);
      tallyRow(this.tool, s);
      let t = this.byIntent.get(s.intent);
      if (!t) this.byIntent.set(s.intent, (t = newTally()));
      tallyRow(t, s);
      if (!s.exact) w = { index, expected: JSON.stringify(p.expected), generated: p.generated, reason: wrongReason(s) };
    }
    if (w) this.wrong.push(w);
    return w;
  }

  report(): EvalReport {
    const perIntent: Record<string, GroupScores> = {};
    for (const name of [...this.byIntent.keys()].sort()) perIntent[name] = group(this.byIntent.get(name)!);
    return {
      rows: this.rows,
      toolRows: this.tool.rows,
      textRows: this.textRows,
      tool: this.tool.rows ? group(this.tool) : undefined,
      perIntent,
      textExactMatch: this.textRows ? this.textHits / this.textRows : undefined,
      accuracy: this.rows ? (this.tool.exact + this.textHits) / this.rows : 0,
      wrong: [...this.wrong],
    };
  }
}

export function scorePredictions(preds: Prediction[]): EvalReport {
  const b = new ReportBuilder();
  for (const p of preds) b.add(p);
  return b.report();
}
