// README.md and requirements.txt of the training-job zip.

import type { JobSpec } from './spec.ts';

// transformers 4.46 is the first whose Trainer normalizes the accumulated loss by the label
// tokens of the whole optimizer step, which is what Webtune's step minimizes.
export const REQUIREMENTS_TXT = `torch>=2.1
transformers>=4.46
peft>=0.13
accelerate>=0.34
safetensors>=0.4
`;

/** bitsandbytes only for a QLoRA run (its 4-bit kernels need a CUDA GPU). */
export function requirementsTxt(spec: Pick<JobSpec, 'quant'>): string {
  return REQUIREMENTS_TXT + (spec.quant === 'nf4' ? 'bitsandbytes>=0.43\n' : '');
}

export function jobReadme(spec: JobSpec): string {
  const t = spec.train,
    l = spec.lora;
  return `# Webtune training job

The fine-tune configured in Webtune, as a PyTorch script (PEFT LoRA + Hugging Face Trainer)
for a machine with a CUDA GPU.

## Run

\`\`\`sh
pip install -r requirements.txt
python train.py                                   # base model: ${spec.baseModel}
python train.py --model /path/to/local/model --out adapter
\`\`\`

On several GPUs, or several machines, start the same script through Accelerate or torchrun
(the Trainer handles the distribution). The batch size is per GPU, so divide \`train.grad_accum\`
in \`config.json\` by the number of GPUs to keep the effective batch of ${spec.train.batchSize * spec.train.gradAccum}:

\`\`\`sh
accelerate launch train.py                        # after \`accelerate config\`
torchrun --nproc_per_node 4 train.py
\`\`\`

The script writes a PEFT adapter folder (\`adapter/adapter_config.json\` and
\`adapter/adapter_model.safetensors\`). Webtune's command line takes it back with
\`--adapter adapter\` (\`eval\` to score it, \`generate\` to try it, \`train\` to continue
training it); \`PeftModel.from_pretrained\` and vLLM's LoRA support load it unchanged.

## What it does

- Data: \`data/train.json\` (${spec.rows.length} rows${spec.evalRows?.length ? `; \`data/eval.json\` holds ${spec.evalRows.length} held-out rows` : ''}) in the seed format
  \`{"instruct", "input", "output"}\`; the user turn is instruct + input, an object output is
  learned as compact JSON.
- Prompt: \`<|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n{user}<|im_end|>\\n<|im_start|>assistant\\n\`
  with system prompt "${spec.system}"; then the answer and \`${spec.endToken}\`. Prompt tokens are
  masked with -100, examples cut at ${spec.maxLength} tokens.
- LoRA: r ${l.r}, alpha ${l.alpha}, dropout ${l.dropout}, on ${l.targets.join(', ')}${l.rslora ? ', rsLoRA' : ''}.${
    spec.quant === 'nf4'
      ? `
- QLoRA: the base is loaded in 4 bits as in Webtune (bitsandbytes NF4, blocks of 64, no double
  quantization; \`"quant": "nf4"\` in \`config.json\`), so it needs a CUDA GPU; set it to
  \`"none"\` to train on the 16-bit base instead.`
      : ''
  }
- Trainer: batch ${t.batchSize} x accumulation ${t.gradAccum}, lr ${t.lr} (${t.schedule}, ${t.warmupSteps} warmup steps),
  ${t.epochs} epochs, weight decay ${t.weightDecay}, max grad norm ${t.maxGradNorm}, AdamW (${t.beta1}, ${t.beta2}, ${t.eps}), seed ${t.seed}.

All settings live in \`config.json\`. The HF Trainer shuffles with its own generator and LoRA
dropout draws its own masks, so losses follow the same course as in Webtune but are not
identical step by step.
`;
}
