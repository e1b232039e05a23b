// `inspect --model M --data F --row N`: what one row becomes for the model, to look at before
// training: the chat-templated text (prompt, answer, end token) and, last, one JSON line
// `{"ids": [...]}` with the token ids training uses (not cut to --max-length). A row spelling a
// control token is refused as `train` refuses it, or with --allow-control-text shown encoded as
// plain text, exactly as `train` would encode it.

import { DEFAULT_SYSTEM_PROMPT, renderPrompt, toTrainExample } from '../../data/examples.ts';
import { IM_END } from '../../tokenizer/tokenizer.ts';
import { parseFlags, UsageError, type FlagSpec } from '../args.ts';
import { folderTokenizer, openModelFolder } from '../model-folder.ts';
import { ALLOW_CONTROL_FLAG, controlTextPolicy, line, loadRow, type CliIo } from './common.ts';

export const INSPECT_SUMMARY = 'one row of a dataset as the model sees it: chat-templated text, then {"ids": [...]}';

export const INSPECT_FLAGS: Record<string, FlagSpec> = {
  model: { kind: 'string', required: true, help: 'model folder whose tokenizer and chat template to use' },
  data: { kind: 'string', required: true, help: 'dataset file' },
  row: {
    kind: 'int',
    min: 1,
    required: true,
    help: 'which row, counting from 1 in file order (rows repeating an earlier one are left out first, as in train)',
  },
  system: { kind: 'string', help: `system prompt for rows without one (default "${DEFAULT_SYSTEM_PROMPT}")` },
  'allow-control-text': ALLOW_CONTROL_FLAG,
};

export async function runInspect(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags('inspect', argv, INSPECT_FLAGS);
  const model = await openModelFolder(f.model as string);
  const tok = await folderTokenizer(model);
  const n = f.row as number;
  // Only row n is kept as the file streams through: a 100 MB file costs its hashes, not its rows.
  const { row, rows } = await loadRow(f.data as string, n, io);
  if (!row) throw new UsageError(`inspect: --row ${n}: ${f.data} has ${rows} row(s)`);
  const controlTokens = controlTextPolicy(tok, [row], f.data as string, Boolean(f['allow-control-text']));
  const system = (f.system as string | undefined) ?? DEFAULT_SYSTEM_PROMPT;
  const ex = toTrainExample(tok, row, { system, maxLength: Number.MAX_SAFE_INTEGER, controlTokens });
  io.stdout.write(renderPrompt(tok, row, { system }) + row.answer + IM_END + '\n');
  line(io.stdout, JSON.stringify({ ids: [...ex.ids] }));
  return 0;
}
