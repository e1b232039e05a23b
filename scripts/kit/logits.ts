// `logits --model DIR [--adapter DIR] --out FILE`: Webtune's logits of a few prompts of the
// seed's format, tokenized with the model's own tokenizer, for scripts/kit/peft_check.py to
// compare with PEFT's (or a plain PyTorch LoRA). Writes input_ids, attention_mask (I32, B x T,
// right padded) and logits (F32, B x T x V) to one .safetensors file.

import { writeFile } from 'node:fs/promises';
import { concatParts, encodeSafetensors } from '../../src/core/safetensors.ts';
import type { EngineKind } from '../../src/engine/create.ts';
import { DEFAULT_LORA } from '../../src/train/recipe.ts';
import { encodePrompt } from '../../src/data/examples.ts';
import { scriptFlags } from '../../src/cli/args.ts';
import { loadEngine } from '../../src/cli/commands/common.ts';
import { folderTokenizer, openAdapterFolder, openModelFolder } from '../../src/cli/model-folder.ts';

const PROMPTS = ['创建汇报会会议', '帮我把明天下午三点的周例会取消掉', 'hello'];

export async function logitsMain(argv: string[]): Promise<number> {
  const f = scriptFlags(
    'logits',
    "Webtune's logits of fixed prompts, for comparing an exported adapter elsewhere",
    {
      model: { kind: 'string', required: true, help: 'model folder' },
      adapter: { kind: 'string', help: 'PEFT adapter folder (default: none, the base model)' },
      engine: { kind: 'choice', choices: ['cpu', 'webgpu'], help: 'engine (default webgpu)' },
      out: { kind: 'string', required: true, help: '.safetensors file to write' },
    },
    argv,
  );
  const model = await openModelFolder(f.model as string);
  const tok = await folderTokenizer(model);
  const adapter = f.adapter ? await openAdapterFolder(f.adapter as string, model.config) : null;
  const rows = PROMPTS.map((user) => encodePrompt(tok, { user }));
  const B = rows.length,
    T = Math.max(...rows.map((r) => r.length)),
    V = model.config.vocabSize;
  const inputIds = new Int32Array(B * T),
    attentionMask = new Int32Array(B * T),
    labels = new Int32Array(B * T).fill(-100);
  rows.forEach((r, b) => {
    inputIds.set(r, b * T);
    attentionMask.fill(1, b * T, b * T + r.length);
    labels.set(r, b * T);
  });
  const engine = await loadEngine(
    (f.engine as EngineKind | undefined) ?? 'webgpu',
    model,
    adapter?.settings ?? DEFAULT_LORA,
    B,
    T,
  );
  try {
    if (adapter) await engine.setLora(adapter.tensors);
    else await engine.initLora(0);
    const info = await engine.info();
    const { logits, loss } = await engine.forward({ B, T, inputIds, attentionMask, labels }, true);
    await writeFile(
      f.out as string,
      concatParts(
        encodeSafetensors(
          [
            { name: 'input_ids', dtype: 'I32', shape: [B, T], data: inputIds },
            { name: 'attention_mask', dtype: 'I32', shape: [B, T], data: attentionMask },
            { name: 'logits', dtype: 'F32', shape: [B, T, V], data: logits! },
          ],
          { engine: info.kind, device: info.device },
        ),
      ),
    );
    console.log(
      JSON.stringify({
        command: 'logits',
        out: f.out,
        engine: info.kind,
        device: info.device,
        B,
        T,
        V,
        loss,
        adapter: f.adapter ?? null,
      }),
    );
  } finally {
    await engine.dispose();
  }
  return 0;
}
