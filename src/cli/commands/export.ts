// `export`: an adapter folder as a PEFT folder (canonical names), a merged BF16 model folder,
// a GGUF LoRA adapter for llama.cpp, or a PyTorch training-job zip with the adapter's LoRA
// settings. No engine needed: the merge is done tensor by tensor.

import { DEFAULT_SYSTEM_PROMPT } from '../../data/examples.ts';
import { loadableBase, NO_BASE } from '../../export/job.ts';
import { readRunRecord, RUN_RECORD } from '../run-record.ts';
import { JOB_FLAGS, jobSettings } from './export-job.ts';
import { PASSTHROUGH_FILES, writeMergedModel } from '../../export/merged.ts';
import { IM_END } from '../../tokenizer/tokenizer.ts';
import { writeLoraGguf } from '../../export/gguf.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, writePeftAdapter } from '../../export/peft.ts';
import { parseFlags, UsageError, type FlagSpec } from '../args.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder } from '../model-folder.ts';
import { NodeFolder, nodeFileSink } from '../node-sink.ts';
import { guardOutputs } from '../output-guard.ts';
import { CHECKPOINT_FILE } from '../train-out.ts';
import { progressBar } from '../progress.ts';
import { ALLOW_CONTROL_FLAG, QUANT_FLAG, QUIET_FLAG, line, type CliIo } from './common.ts';
import { writeJobStreamed } from './export-job.ts';
import { controlTokens } from '../../data/control-text.ts';
import type { Quantization } from '../../core/nf4.ts';

export const EXPORT_SUMMARY =
  'write an adapter as PEFT, a merged model folder, a GGUF LoRA adapter, or a PyTorch job zip';

export const EXPORT_FLAGS: Record<string, FlagSpec> = {
  model: { kind: 'string', required: true, help: 'base model folder the adapter was trained on' },
  adapter: { kind: 'string', required: true, help: 'PEFT adapter folder' },
  format: { kind: 'choice', choices: ['peft', 'merged', 'gguf', 'job'], required: true, help: 'what to write' },
  out: { kind: 'string', required: true, help: 'folder (peft, merged) or file (gguf, job)' },
  data: { kind: 'string', help: 'job: the dataset the script trains on' },
  system: {
    kind: 'string',
    help: `job: system prompt (default: the adapter's run record, else "${DEFAULT_SYSTEM_PROMPT}")`,
  },
  ...JOB_FLAGS,
  dtype: { kind: 'choice', choices: ['bf16', 'f32'], help: 'merged: dtype of the merged projections (default bf16)' },
  overwrite: {
    kind: 'bool',
    help: 'replace what --out holds (a previous export); without it a non-empty --out is refused',
  },
  quant: {
    ...QUANT_FLAG,
    help: 'the base the adapter was trained on: nf4 (QLoRA) merges into the NF4-dequantized projections and makes the job load the base in 4 bits (default none)',
  },
  'allow-control-text': {
    ...ALLOW_CONTROL_FLAG,
    help: 'job: keep rows that spell a chat control token; train.py encodes the spelling as plain text, as Webtune does',
  },
  quiet: QUIET_FLAG,
};

/** Every file a Webtune writer puts in an output folder: --overwrite replaces such a folder, never one holding anything else. */
export const OUTPUT_FILES: readonly string[] = [
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  'config.json',
  'model.safetensors',
  ...PASSTHROUGH_FILES,
  CHECKPOINT_FILE,
  RUN_RECORD,
];

export async function runExport(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags('export', argv, EXPORT_FLAGS);
  const out = f.out as string;
  // Each format is written beside --out and renamed into place when complete: a kill leaves the
  // previous output or the new one, and the target is checked before any work.
  const quant = (f.quant as Quantization | undefined) ?? 'none';
  const asFolder = f.format === 'peft' || f.format === 'merged';
  const opts = { overwrite: Boolean(f.overwrite), ours: OUTPUT_FILES };
  // Never one of its own inputs (the model folder or its weights, the adapter, the dataset),
  // even with --overwrite: compared by real path and inode, not by name.
  const staged = (
    await guardOutputs(
      'export',
      [{ flag: '--out', path: out, kind: asFolder ? 'dir' : 'file' }],
      [
        { flag: '--model', path: f.model as string },
        { flag: '--adapter', path: f.adapter as string },
        { flag: '--data', path: f.data as string | undefined },
      ],
      opts,
    )
  )['--out'];
  await staged.run(async (path) => {
    const model = await openModelFolder(f.model as string);
    const adapter = await openAdapterFolder(f.adapter as string, model.config);
    switch (f.format) {
      case 'peft':
        await writePeftAdapter(
          new NodeFolder(path),
          model.config,
          adapter.settings,
          adapter.tensors,
          adapter.baseModel ?? model.name,
        );
        break;
      case 'gguf':
        await writeLoraGguf(await nodeFileSink(path), model.config, adapter.settings, adapter.tensors);
        break;
      case 'job': {
        if (!f.data) throw new UsageError('export: --format job needs --data (the dataset the script trains on)');
        const allow = Boolean(f['allow-control-text']);
        // Rows spelling a chat control token are refused with line and field unless allowed (checked as they stream).
        const tokens = model.hasTokenizer && !allow ? controlTokens(await folderTokenizer(model)) : undefined;
        // The run's own settings: the adapter's run record (train writes it), flags over it.
        const record = await readRunRecord(f.adapter as string);
        const job = jobSettings(record, f);
        if (!record)
          line(
            io.stderr,
            `note: ${f.adapter} has no ${RUN_RECORD} (an adapter trained elsewhere): the job uses the default recipe${job.flagged.length ? ` with ${job.flagged.join(', ')}` : ''}`,
          );
        const base = loadableBase(adapter.baseModel ?? model.name);
        if (base.startsWith(NO_BASE))
          line(
            io.stderr,
            `note: the base "${adapter.baseModel ?? model.name}" has no Hugging Face hub id: the job's train.py needs --model with one (or a local folder)`,
          );
        await writeJobStreamed(path, f.data as string, tokens, io, {
          baseModel: base,
          system: (f.system as string) ?? record?.system ?? DEFAULT_SYSTEM_PROMPT,
          maxLength: job.maxLength,
          endToken: IM_END,
          lora: adapter.settings,
          quant,
          ...(allow ? { controlText: 'plain' as const } : {}),
          train: job.train,
        });
        break;
      }
      case 'merged': {
        const MB = 1024 * 1024;
        let bar: ReturnType<typeof progressBar> | null = null;
        await writeMergedModel(new NodeFolder(path), model, adapter, {
          dtype: f.dtype === 'f32' ? 'F32' : 'BF16',
          quant,
          onProgress: (done, total) => {
            bar ??= progressBar('merge (MB)', Math.ceil(total / MB), io.stderr, Boolean(f.quiet));
            bar.update(Math.floor(done / MB));
          },
        });
        (bar as ReturnType<typeof progressBar> | null)?.finish();
        break;
      }
    }
  });
  line(io.stdout, JSON.stringify({ command: 'export', format: f.format, out, quant }));
  return 0;
}
