// The honest error loop: an evaluation row never becomes a training row. A wrong answer,
// corrected (or accepted), teaches through a sibling instead: a new row from the same template
// with other values, an utterance the data does not have. When no template gives the row back
// (imported data, a paraphrase) there is no sibling; the caller then moves the row out of the
// evaluation set and says the set shrank. The set's fingerprint lets two runs be compared only
// when they were measured on the same rows.

import { SeededRng, seededShuffle } from '../core/rng.ts';
import type { SeedRow } from './builder.ts';
import type { ToolCall } from './dataset.ts';
import { fillTemplate, isSpanParam, paramValues, templateParams, utteranceOf, type ToolSchema } from './schema.ts';

/** The templates of the call's tool that, filled with the call's own values, give the utterance. */
export function templatesOf(schema: ToolSchema, utterance: string, call: ToolCall): string[] {
  const tool = schema.tools.find((t) => t.name === call.tool_name);
  if (!tool) return [];
  const values = call.parameters;
  const keys = Object.keys(values);
  return tool.templates.filter((t) => {
    const names = templateParams(t);
    if (names.length !== keys.length || !names.every((n) => typeof values[n] === 'string')) return false;
    return fillTemplate(t, values as Record<string, string>) === utterance;
  });
}

/**
 * A new training row from the template of (user, call) with other span values (enum and free
 * values kept), whose utterance is not in `existing`; null when there is none: no template
 * gives the row back, the template copies no value, or every other value is used up.
 */
export function siblingRow(
  schema: ToolSchema,
  user: string,
  call: ToolCall,
  existing: ReadonlySet<string>,
  seed: number,
): SeedRow | null {
  const utterance = utteranceOf(schema, user);
  const tool = schema.tools.find((t) => t.name === call.tool_name);
  const template = templatesOf(schema, utterance, call)[0];
  if (!tool || template === undefined) return null;
  const names = templateParams(template);
  const rng = new SeededRng(seed);
  // Per parameter, the values to try: span values other than this row's, in a seeded order.
  const options = names.map((n) => {
    const p = tool.params.find((x) => x.name === n)!;
    const own = call.parameters[n] as string;
    return isSpanParam(p)
      ? seededShuffle(
          paramValues(p).filter((v) => v !== own),
          rng.int(2 ** 31),
        )
      : [own];
  });
  if (!options.some((o, i) => isSpanParam(tool.params.find((x) => x.name === names[i])!) && o.length)) return null;
  const total = options.reduce((a, o) => a * o.length, 1);
  for (let k = 0; k < Math.min(total, 4096); k++) {
    let rest = k;
    const values: Record<string, string> = {};
    names.forEach((n, i) => {
      values[n] = options[i][rest % options[i].length];
      rest = Math.floor(rest / options[i].length);
    });
    const input = fillTemplate(template, values);
    if (existing.has(input)) continue;
    const parameters: Record<string, string> = {};
    for (const p of tool.params) if (Object.hasOwn(values, p.name)) parameters[p.name] = values[p.name];
    return {
      ...(schema.system !== undefined ? { system: schema.system } : {}),
      instruct: schema.instruct ?? '',
      input,
      output: { tool_name: tool.name, parameters },
    };
  }
  return null;
}

/** Which evaluation set a run was measured on: FNV-1a over its rows' prompts and answers, order-free. */
export function evalSetFingerprint(rows: readonly { user: string; answer: string; system?: string }[]): string {
  const b = new FingerprintBuilder();
  for (const r of rows) b.add(r);
  return b.value();
}

/** evalSetFingerprint a row at a time, holding 4 bytes a row (eval streams its rows). */
export class FingerprintBuilder {
  private hashes = new Uint32Array(1024);
  private n = 0;

  add(r: { user: string; answer: string; system?: string }): void {
    let h = 0x811c9dc5;
    for (const s of [r.system ?? '\u0000', r.user, r.answer]) {
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
      h = Math.imul(h ^ 0xffff, 0x01000193);
    }
    if (this.n === this.hashes.length) {
      const grown = new Uint32Array(this.n * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.n++] = h >>> 0;
  }

  value(): string {
    // Numeric order is the order of the 8-digit hex strings the fingerprint is made of.
    const sorted = this.hashes.slice(0, this.n).sort();
    let h = 0x811c9dc5;
    for (const v of sorted) {
      const x = v.toString(16).padStart(8, '0');
      for (let i = 0; i < x.length; i++) h = Math.imul(h ^ x.charCodeAt(i), 0x01000193);
    }
    return `${this.n}-${(h >>> 0).toString(16).padStart(8, '0')}`;
  }
}
