// A child process for test/full/eval-stream-memory: scores every row of a dataset file the way
// `eval` does now (streamEvalRows + RowEvaluator) or the way it did (every row loaded, then
// evaluateRows), with the tiny model's tokenizer and an engine that answers "ok" at once, so the
// run measures what the scoring holds, not how fast a model decodes. Prints the outcome as JSON.
//   node --import tsx test/helpers/eval-stream-child.ts <model folder> <data file> stream|whole
import { loadEvalRows, streamEvalRows } from '../../src/cli/commands/common.ts';
import { folderTokenizer, openModelFolder } from '../../src/cli/model-folder.ts';
import { FingerprintBuilder, evalSetFingerprint } from '../../src/data/sibling.ts';
import { evaluateRows, RowEvaluator, tokenizerEvalOptions, type BatchGenerator } from '../../src/eval/evaluate.ts';
import type { DecodeOptions } from '../../src/engine/engine.ts';

const [modelDir, data, mode] = process.argv.slice(2);
const tok = await folderTokenizer(await openModelFolder(modelDir));
const answer = Int32Array.from([...tok.encode('ok'), tok.eosTokenIds[0]]);
const engine: BatchGenerator<DecodeOptions> = {
  generateBatch: async (prompts) => prompts.map(() => ({ tokens: answer })),
};
const options = tokenizerEvalOptions(tok, { maxNewTokens: 4, maxPositions: 4096 });

if (mode === 'stream') {
  const set = new FingerprintBuilder();
  const make = () => new RowEvaluator(engine, { ...options, onPrediction: (_p, row) => set.add(row) });
  let ev = make();
  await streamEvalRows(
    data,
    undefined,
    42,
    undefined,
    (r) => ev.add(r),
    () => (ev = make()),
  );
  const { report } = await ev.finish();
  console.log(
    JSON.stringify({ rows: report.rows, accuracy: report.accuracy, wrong: report.wrong.length, evalSet: set.value() }),
  );
} else {
  const rows = await loadEvalRows(data, undefined, 42, undefined);
  const { report } = await evaluateRows(engine, rows, options);
  console.log(
    JSON.stringify({
      rows: report.rows,
      accuracy: report.accuracy,
      wrong: report.wrong.length,
      evalSet: evalSetFingerprint(rows),
    }),
  );
}
