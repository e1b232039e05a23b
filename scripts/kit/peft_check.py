#!/usr/bin/env python3
"""Compares Webtune's logits (scripts/kit/logits.ts) with an independent forward of the same
model and exported PEFT adapter, for the GPU kit (scripts/gpu-kit.sh).

    peft_check.py peft  MODEL_DIR ADAPTER_DIR WEBTUNE.safetensors
    peft_check.py torch MODEL_DIR ADAPTER_DIR WEBTUNE.safetensors GOLDEN_DIR

peft:  transformers' Qwen2 in float32 with PeftModel.from_pretrained(ADAPTER_DIR).
torch: the golden cases' float64 reference forward (GOLDEN_DIR/make_golden.py) with the
       adapter's lora_A / lora_B read from adapter_model.safetensors: plain PyTorch, no PEFT.

Only positions with attention_mask 1 are compared. The check also needs the adapter to move the
logits by far more than the difference, so an adapter that was ignored cannot pass.
Exit 0 pass, 1 fail, 3 skipped (the first line says why).
"""
import json
import os
import struct
import sys

SKIP = 3
# f32 on both sides (transformers) vs f32 against f64 (reference): the golden cases' logits bound
BOUNDS = {"peft": 2e-3, "torch": 1e-4}


def missing(*modules):
    gone = []
    for m in modules:
        try:
            __import__(m)
        except ImportError:
            gone.append(m)
    return gone


def read_safetensors(path):
    import torch
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": torch.float32, "I32": torch.int32, "BF16": torch.bfloat16, "F16": torch.float16, "I64": torch.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[info["dtype"]]) if b > a else torch.empty(0, dtype=dtypes[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out, header.get("__metadata__", {})


def peft_logits(model_dir, adapter_dir, ids, mask):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    base = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    with torch.no_grad():
        tuned = model(input_ids=ids.long(), attention_mask=mask.long()).logits.double()
        with model.disable_adapter():
            plain = model(input_ids=ids.long(), attention_mask=mask.long()).logits.double()
    return tuned, plain


def torch_logits(model_dir, adapter_dir, ids, mask, golden_dir):
    import torch
    sys.path.insert(0, golden_dir)
    import make_golden  # the reference forward of the golden cases (float64)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    P = {k: v.double() for k, v in read_safetensors(os.path.join(model_dir, "model.safetensors"))[0].items()}
    acfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    L = {k: v.double() for k, v in read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))[0].items()}
    r, alpha = acfg["r"], acfg["lora_alpha"]
    scaling = alpha / (r ** 0.5) if acfg.get("use_rslora") else alpha / r
    with torch.no_grad():
        tuned, _ = make_golden.forward(cfg, P, L, scaling, ids.long(), mask.long())
        plain, _ = make_golden.forward(cfg, P, {}, scaling, ids.long(), mask.long())
    return tuned, plain


def main(argv):
    if len(argv) < 5 or argv[1] not in BOUNDS:
        print(__doc__)
        return 2
    mode, model_dir, adapter_dir, webtune = argv[1:5]
    need = ("torch", "transformers", "peft") if mode == "peft" else ("torch",)
    gone = missing(*need)
    if gone:
        print(f"skipped: {', '.join(gone)} not installed (this check needs {', '.join(need)} in {sys.executable})")
        return SKIP
    import torch
    w, meta = read_safetensors(webtune)
    ids, mask, got = w["input_ids"], w["attention_mask"], w["logits"].double()
    if mode == "peft":
        tuned, plain = peft_logits(model_dir, adapter_dir, ids, mask)
    else:
        tuned, plain = torch_logits(model_dir, adapter_dir, ids, mask, argv[5])
    real = mask.bool()
    diff = (got - tuned).abs()[real].max().item()
    effect = (tuned - plain).abs()[real].max().item()
    bound = BOUNDS[mode]
    ok = diff <= bound and effect >= 10 * max(diff, bound)
    print(f"{'pass' if ok else 'FAIL'}: Webtune ({meta.get('device', '?')}) vs {'PEFT + transformers' if mode == 'peft' else 'plain PyTorch LoRA (float64)'}: "
          f"max |logit difference| {diff:.3e} (bound {bound:g}) over {int(real.sum())} positions x {got.shape[-1]} vocabulary; "
          f"the adapter itself moves the logits by up to {effect:.3e} (must be >= 10x the bound)")
    print(json.dumps({"mode": mode, "ok": ok, "max_abs_diff": diff, "bound": bound, "adapter_effect": effect, "positions": int(real.sum()),
                      "torch": torch.__version__, "device": meta.get("device")}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
