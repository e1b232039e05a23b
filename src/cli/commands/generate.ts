// `generate`: one answer to one prompt, streamed to stdout as it is decoded.

import { DEFAULT_SYSTEM_PROMPT, encodePrompt } from '../../data/examples.ts';
import { toolCallConstraint } from '../../data/constrain.ts';
import { utteranceOf } from '../../data/schema.ts';
import type { EngineKind } from '../../engine/create.ts';
import { GREEDY } from '../../engine/engine.ts';
import { DEFAULT_LORA } from '../../train/recipe.ts';
import { parseFlags, UsageError, type FlagSpec } from '../args.ts';
import { loadSchema } from './build-data.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder } from '../model-folder.ts';
import { ENGINE_FLAG, F16_FLAG, f16Options, QUANT_FLAG, line, loadEngine, type CliIo } from './common.ts';
import type { Quantization } from '../../core/nf4.ts';

export const GENERATE_SUMMARY = 'greedy answer to one prompt, with the training prompt template';

export const GENERATE_FLAGS: Record<string, FlagSpec> = {
  model: { kind: 'string', required: true, help: 'Hugging Face model folder' },
  adapter: { kind: 'string', help: 'PEFT adapter folder' },
  prompt: { kind: 'string', required: true, help: 'the user turn' },
  system: { kind: 'string', help: `system prompt (default "${DEFAULT_SYSTEM_PROMPT}")` },
  'max-new-tokens': { kind: 'int', min: 1, help: 'longest answer (default 128)' },
  engine: ENGINE_FLAG,
  f16: F16_FLAG,
  schema: { kind: 'string', help: 'tool schema to decode under (with --constrained)' },
  constrained: { kind: 'bool', help: 'the answer is always one valid call of --schema' },
  quant: QUANT_FLAG,
};

export async function runGenerate(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags('generate', argv, GENERATE_FLAGS);
  if (Boolean(f.constrained) !== Boolean(f.schema))
    throw new UsageError('generate: --schema and --constrained go together');
  const schema = f.schema ? await loadSchema(f.schema as string) : null;
  const model = await openModelFolder(f.model as string);
  const tok = await folderTokenizer(model);
  const adapter = f.adapter ? await openAdapterFolder(f.adapter as string, model.config) : null;
  const engine = await loadEngine(
    (f.engine as EngineKind) ?? 'cpu',
    model,
    adapter?.settings ?? DEFAULT_LORA,
    1,
    64,
    f.quant as Quantization | undefined,
    f16Options(f.f16),
    io,
  );
  try {
    if (adapter) await engine.setLora(adapter.tensors);
    else await engine.initLora(0);
    const prompt = encodePrompt(
      tok,
      { user: f.prompt as string },
      { system: (f.system as string | undefined) ?? schema?.system },
    );
    const base = schema ? toolCallConstraint(schema, model.extraFiles['tokenizer.json'], tok.eosTokenIds) : undefined;
    // Span values (x-source "utterance") are tied to the prompt's utterance.
    const constraint = base?.forUtterances([utteranceOf(schema!, f.prompt as string)]);
    const maxNewTokens = (f['max-new-tokens'] as number) ?? GREEDY.maxNewTokens;
    if (base && maxNewTokens < base.minTokens)
      throw new UsageError(
        `generate: --max-new-tokens ${maxNewTokens} is too few for the shortest call of the schema (${base.minTokens} tokens)`,
      );
    const ids: number[] = [];
    let shown = '';
    const stop = tok.eosTokenIds;
    await engine.generate(prompt, { ...GREEDY, maxNewTokens, stopTokens: stop, constraint }, (id) => {
      if (stop.includes(id)) return;
      ids.push(id);
      const text = tok.decode(ids, { skipSpecial: true });
      // A character split across tokens decodes to U+FFFD until its last byte arrives.
      if (text.endsWith('\uFFFD')) return;
      io.stdout.write(text.slice(shown.length));
      shown = text;
    });
    const text = tok.decode(ids, { skipSpecial: true });
    line(io.stdout, text.slice(shown.length));
    return 0;
  } finally {
    await engine.dispose();
  }
}
