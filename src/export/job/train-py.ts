// train.py of the training-job zip: the same run in PyTorch + PEFT + the HF Trainer, reading
// config.json and data/train.json written beside it. The pure helpers (prompt, answer text,
// example) import nothing heavy, so they can be checked without torch installed.

export const TRAIN_PY = String.raw`#!/usr/bin/env python3
"""LoRA fine-tuning exported by Webtune: the same data, prompt and hyperparameters, in PyTorch.

    pip install -r requirements.txt
    python train.py                      # settings from config.json
    python train.py --model /path/to/Qwen2.5-0.5B-Instruct --out adapter

The adapter folder it writes (adapter_config.json + adapter_model.safetensors) can be
imported back into Webtune or loaded with PeftModel.from_pretrained / vLLM.
"""
import argparse
import json
import os
import string

HERE = os.path.dirname(os.path.abspath(__file__))
IGNORE_INDEX = -100

# TrainingArguments name <- key of config.json's "train" section
TRAINER_ARGS = [
    ("per_device_train_batch_size", "batch_size"), ("gradient_accumulation_steps", "grad_accum"),
    ("learning_rate", "lr"), ("num_train_epochs", "epochs"), ("lr_scheduler_type", "schedule"),
    ("warmup_steps", "warmup_steps"), ("weight_decay", "weight_decay"), ("max_grad_norm", "max_grad_norm"),
    ("adam_beta1", "beta1"), ("adam_beta2", "beta2"), ("adam_epsilon", "eps"), ("seed", "seed"),
]


def build_prompt(system, user, tokenizer=None):
    """[system, user] plus the generation prompt, as Webtune renders it: through the model's own chat
    template with thinking off (Qwen3's hybrid templates then add an empty think block), or Qwen2.5's
    ChatML when the tokenizer has no template."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    return (
        "<|im_start|>system\n" + system + "<|im_end|>\n"
        "<|im_start|>user\n" + user + "<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def answer_text(output):
    """Tool calls are learned as compact JSON with non-ASCII kept; text answers as they are."""
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False, separators=(",", ":"))


def build_example(tokenizer, row, config):
    """input_ids / attention_mask / labels: prompt tokens masked with -100, answer + end token learned."""
    system = row.get("system", config["system_prompt"])
    user = row["instruct"] + row["input"]
    # Rows that spell a control token were allowed in Webtune ("control_text": "plain"): the
    # spelling is encoded as plain text, by the same rule as Webtune's src/data/control-text.ts.
    tokens = control_tokens(tokenizer) if config.get("control_text") == "plain" else []
    if tokens and (has_control(system, tokens) or has_control(user, tokens)):
        prompt = prompt_ids_plain(tokenizer, system, user, tokens)
    else:
        prompt = tokenizer(build_prompt(system, user, tokenizer), add_special_tokens=False)["input_ids"]
    answer = encode_plain(tokenizer, answer_text(row["output"]), tokens)
    end = tokenizer.convert_tokens_to_ids(config["end_token"])
    input_ids = (prompt + answer + [end])[: config["max_length"]]
    labels = ([IGNORE_INDEX] * len(prompt) + answer + [end])[: config["max_length"]]
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}


def control_tokens(tokenizer):
    """Texts the tokenizer turns into one added token, longest first, then in code-point order."""
    names = {getattr(t, "content", t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values()}
    return sorted((n for n in names if isinstance(n, str) and len(n) > 1), key=lambda n: (-len(n), n))


def has_control(text, tokens):
    return any(t in text for t in tokens)


def split_control(text, tokens):
    """text cut at each spelled control token: (stretch, False) and (token, True) pieces."""
    out, start, i = [], 0, 0
    while i < len(text):
        hit = next((t for t in tokens if text.startswith(t, i)), None)
        if hit is None:
            i += 1
            continue
        if start < i:
            out.append((text[start:i], False))
        out.append((hit, True))
        i += len(hit)
        start = i
    if start < len(text):
        out.append((text[start:], False))
    return out


PUNCT = set(string.punctuation) - {"_"}


def plain_parts(token):
    """A spelled token as two plain texts: its leading ASCII punctuation, then the rest."""
    n = 0
    while n < len(token) and token[n] in PUNCT:
        n += 1
    if n == 0 or n == len(token):
        n = 1
    return token[:n], token[n:]


def encode_plain(tokenizer, text, tokens):
    """Ids of text with every spelled control token encoded as plain text (text as it is without one)."""
    ids = []
    for piece, control in split_control(text, tokens):
        for part in (plain_parts(piece) if control else (piece,)):
            if part:
                ids += tokenizer(part, add_special_tokens=False)["input_ids"]
    return ids


CONTENT_MARK = "\ue000webtune-content-{}\ue000"


def prompt_ids_plain(tokenizer, system, user, tokens):
    """The prompt rendered with placeholders: the template's own text as usual, each content by encode_plain."""
    rest = build_prompt(CONTENT_MARK.format(0), CONTENT_MARK.format(1), tokenizer)
    ids = []
    for i, content in enumerate([system, user]):
        mark = CONTENT_MARK.format(i)
        at = rest.find(mark)
        if at < 0 or rest.find(mark, at + 1) >= 0:
            raise SystemExit("the chat template does not render each message content once as it is")
        if at > 0:
            ids += tokenizer(rest[:at], add_special_tokens=False)["input_ids"]
        ids += encode_plain(tokenizer, content, tokens)
        rest = rest[at + len(mark):]
    if rest:
        ids += tokenizer(rest, add_special_tokens=False)["input_ids"]
    return ids


def load_config(path=os.path.join(HERE, "config.json")):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main():
    config = load_config()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=config["base_model"], help="Hugging Face repo id or local folder of the base model")
    parser.add_argument("--data", default=os.path.join(HERE, "data", "train.json"))
    parser.add_argument("--out", default=os.path.join(HERE, "adapter"))
    args = parser.parse_args()
    if args.model.startswith("<no loadable base>"):
        raise SystemExit("config.json names no loadable base model (" + args.model[len("<no loadable base>"):].strip() + ")")
    # A base model shipped in the job's own folder (Webtune's built-in model) is found from anywhere.
    if args.model.startswith("./") and os.path.isdir(os.path.join(HERE, args.model)):
        args.model = os.path.join(HERE, args.model)

    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer,
                              TrainingArguments)

    t = config["train"]
    lora = config["lora"]
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    with open(args.data, encoding="utf-8") as f:
        rows = json.load(f)
    examples = [build_example(tokenizer, r, config) for r in rows]

    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    load = {"torch_dtype": torch.bfloat16 if bf16 else torch.float32}
    qlora = config.get("quant", "none") == "nf4"
    if qlora:
        # QLoRA as Webtune ran it: the seven projections frozen in NF4 (blocks of 64, no double
        # quantization), LoRA and everything else in 16/32 bits
        from transformers import BitsAndBytesConfig
        load["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=False,
            bnb_4bit_compute_dtype=load["torch_dtype"])
    model = AutoModelForCausalLM.from_pretrained(args.model, **load)
    if qlora:
        from peft import prepare_model_for_kbit_training
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    else:
        model.enable_input_require_grads()  # needed with gradient checkpointing
    model = get_peft_model(model, LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
        use_rslora=lora["use_rslora"],
        bias="none",
        inference_mode=False,
    ))
    model.print_trainable_parameters()

    training_args = TrainingArguments(
        output_dir=os.path.join(HERE, "checkpoints"),
        **{arg: t[key] for arg, key in TRAINER_ARGS},
        logging_steps=1,
        save_strategy="no",
        gradient_checkpointing=True,
        bf16=bf16,
        report_to="none",
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=examples,  # a list works: the collator pads each batch
        data_collator=DataCollatorForSeq2Seq(tokenizer=tokenizer, padding=True),  # pads labels with -100
    )
    trainer.train()
    # Under accelerate/torchrun every process gets here; one writes the adapter.
    if trainer.is_world_process_zero():
        model.save_pretrained(args.out)
        print("adapter written to", args.out)


if __name__ == "__main__":
    main()
`;
