// Everything done with a (trained) adapter: accuracy on the eval rows, the base-vs-tuned
// playground and the downloads. All model work goes through the worker; here the text is
// tokenized, decoded and scored.

import { commonInstruct } from '../playground/chat-prefix.ts';
import { encodePrompt } from '../../data/examples.ts';
import { evalSetFingerprint } from '../../data/sibling.ts';
import { evaluateRows, type EvalRow, type SkippedEvalRow } from '../../eval/evaluate.ts';
import type { EvalReport } from '../../eval/metrics.ts';
import { ToolCallGrammar } from '../../data/call-grammar.ts';
import { utteranceOf, type ToolSchema } from '../../data/schema.ts';
import type { WorkerGenerateOptions } from '../../worker/api.ts';
import type { PageContext } from '../app/context.ts';
import { saveBlob, zipFiles } from '../shared/save-files.ts';
import { buildJobZip } from '../export/job-zip.ts';
import { uiError, type AppState, type ChatSide } from '../app/state.ts';

type ExportKind = keyof AppState['exports'];

/** "Qwen/Qwen2.5-0.5B-Instruct" -> "Qwen2.5-0.5B-Instruct", "tiny (built in)" -> "tiny-built-in". */
export function fileStem(modelName: string): string {
  const last = modelName.split('/').filter(Boolean).pop() ?? '';
  return (
    last
      .replace(/[^\p{L}\p{N}_.-]+/gu, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '') || 'model'
  );
}

/** New tokens for an answer under a schema: at least the shortest call (its bytes bound its tokens), which the worker requires. */
function callBudget(schema: ToolSchema, wanted: number): number {
  const g = new ToolCallGrammar(schema);
  return Math.max(wanted, g.minBytes(g.start) + 1);
}

export class ResultsController {
  constructor(private readonly c: PageContext) {}

  private busyTraining(): boolean {
    const st = this.c.state.training.state;
    return st === 'running' || st === 'starting' || st === 'paused';
  }

  async evaluate(): Promise<void> {
    const c = this.c;
    const tok = c.tokenizer;
    const { eval: rows } = c.splitRows();
    if (!tok || c.state.model.status !== 'ready' || this.busyTraining()) return;
    await c.quiet();
    if (rows.length === 0) {
      c.patch((s) => ({ evaluation: { ...s.evaluation, error: { where: 'eval', key: 'eval.noRows', detail: '' } } }));
      return;
    }
    // Free decoding is the seed's number; under a tool schema every answer is also decoded constrained.
    const schema = c.state.schema.applied;
    const passes = schema ? 2 : 1;
    c.patch((s) => ({
      evaluation: {
        busy: true,
        done: 0,
        total: passes * rows.length,
        inputs: rows.map((r) => r.user),
        added: [],
        ofRun: s.runs.current,
      },
    }));
    try {
      const system = c.state.systemPrompt;
      // Room for the longest expected answer plus its end token and a little slack.
      const longest = rows.reduce((m, r) => Math.max(m, tok.encode(r.answer).length), 0);
      const opts = {
        encodePrompt: (row: EvalRow) => encodePrompt(tok, row, { system }),
        decode: (ids: Int32Array) => tok.decode(ids, { skipSpecial: true }),
        stopTokens: tok.eosTokenIds,
        maxNewTokens: Math.min(256, longest + 8),
        maxPositions: c.state.model.summary?.config.maxPositionEmbeddings,
      };
      const progress = (pass: number) => (done: number, total: number) =>
        c.patch((s) => ({ evaluation: { ...s.evaluation, done: pass * total + done, total: passes * total } }));
      const { report, predictions, skipped } = await evaluateRows(c.worker, rows, { ...opts, onProgress: progress(0) });
      const measured = new Set(predictions.map((p) => p.user));
      const evalSet = evalSetFingerprint(rows.filter((r) => measured.has(r.user)));
      const where = (r: SkippedEvalRow) =>
        r.origin?.line !== undefined
          ? `line ${r.origin.line}`
          : r.origin?.index !== undefined
            ? `row ${r.origin.index + 1}`
            : r.user.slice(0, 30);
      // The report's rows are the evaluated ones: their inputs, in order, for the wrong-answer list.
      c.patch((s) => ({
        evaluation: {
          ...s.evaluation,
          report,
          constrained: undefined,
          inputs: predictions.map((p) => p.user),
          evalSet,
          movedOut: [],
          skipped: skipped.length
            ? { count: skipped.length, rows: skipped.slice(0, 5).map(where).join(', ') }
            : undefined,
        },
      }));
      let constrained: EvalReport | undefined;
      if (schema) {
        // The shortest call in bytes bounds its tokens: the worker refuses a budget below it.
        constrained = (
          await evaluateRows<WorkerGenerateOptions>(c.worker, rows, {
            ...opts,
            maxNewTokens: callBudget(schema, opts.maxNewTokens),
            onProgress: progress(1),
            generation: { toolSchema: schema },
            // Each batch's utterances travel with it: span values are tied to their own row.
            generationFor: (batch) => ({ utterances: batch.map((r) => utteranceOf(schema, r.user)) }),
          })
        ).report;
      }
      await c.worker.setDataset(
        (await c.exampleSet(c.splitRows().train)).examples,
        (await c.exampleSet(rows)).examples,
      );
      const loss = (await c.worker.evaluate()).loss;
      c.patch((s) => ({ evaluation: { ...s.evaluation, busy: false, report, constrained, loss } }));
    } catch (e) {
      c.patch((s) => ({ evaluation: { ...s.evaluation, busy: false, error: uiError('eval', 'eval.failed', e) } }));
    }
  }

  /**
   * The base model is the tuned one with every lora_B zeroed (B·A = 0 exactly), so one engine
   * answers both; the trained adapter is put back afterwards.
   */
  async chat(): Promise<void> {
    const c = this.c;
    const tok = c.tokenizer;
    if (!tok || c.state.model.status !== 'ready' || this.busyTraining()) return;
    await c.quiet();
    const { prompt, maxNewTokens, temperature } = c.state.chat;
    const instruct = c.state.chat.instruct === false ? '' : commonInstruct(c.state.dataset?.rows);
    const ids = encodePrompt(tok, { user: instruct + prompt }, { system: c.state.systemPrompt });
    const schema = c.state.chat.constrained ? c.state.schema.applied : undefined;
    const opts: WorkerGenerateOptions = {
      maxNewTokens: schema ? callBudget(schema, maxNewTokens) : maxNewTokens,
      temperature,
      topK: 0,
      topP: 1,
      stopTokens: tok.eosTokenIds,
      seed: c.state.train.seed,
      ...(schema ? { toolSchema: schema, utterances: [prompt] } : {}),
    };
    const side = (which: 'base' | 'tuned', v: Partial<ChatSide>) =>
      c.patch((s) => ({ chat: { ...s.chat, [which]: { ...s.chat[which], ...v } } }));
    const empty: ChatSide = { text: '', tokens: 0, busy: true };
    c.patch((s) => ({ chat: { ...s.chat, base: empty, tuned: { ...empty } } }));
    let adapter: Record<string, Float32Array> | undefined;
    try {
      adapter = (await c.worker.getAdapter()).tensors;
      const zeroB: Record<string, Float32Array> = {};
      for (const [name, t] of Object.entries(adapter))
        zeroB[name] = name.includes('lora_B') ? new Float32Array(t.length) : t;
      await c.worker.setAdapter(zeroB);
      for (const which of ['base', 'tuned'] as const) {
        if (which === 'tuned') await c.worker.setAdapter(adapter);
        const got: number[] = [];
        // Decoding the whole prefix each time keeps multi-byte characters split across tokens intact.
        await c.worker.generate(ids, opts, (id) => {
          got.push(id);
          side(which, { text: tok.decode(got, { skipSpecial: true }), tokens: got.length });
        });
        side(which, { busy: false });
      }
    } catch (e) {
      if (adapter) await c.worker.setAdapter(adapter).catch(() => undefined);
      const msg = e instanceof Error ? e.message : String(e);
      c.patch((s) => ({
        chat: {
          ...s.chat,
          base: { ...s.chat.base, busy: false, error: msg },
          tuned: { ...s.chat.tuned, busy: false, error: msg },
        },
      }));
    }
  }

  async export(kind: ExportKind): Promise<void> {
    const c = this.c;
    const summary = c.state.model.summary;
    if (!summary || this.busyTraining()) return;
    await c.quiet();
    const set = (v: AppState['exports'][ExportKind]) => c.patch((s) => ({ exports: { ...s.exports, [kind]: v } }));
    set({ busy: true });
    try {
      const base = fileStem(summary.name);
      let blob: Blob;
      let name: string;
      if (kind === 'job') {
        blob = await buildJobZip(c, summary);
        name = `${base}-training-job.zip`;
      } else {
        const files = await c.worker.exportFiles(kind === 'peft' ? 'adapter' : kind);
        if (files.length === 1) {
          blob = files[0].blob;
          name = `${base}-${files[0].name}`;
        } else {
          const folder = kind === 'peft' ? `${base}-lora-adapter` : `${base}-merged`;
          blob = await zipFiles(files, folder);
          name = `${folder}.zip`;
        }
      }
      saveBlob(blob, name);
      set({ busy: false, files: [name] });
    } catch (e) {
      set({ busy: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
}
