#!/usr/bin/env python3
"""Runs three optimizer steps of Webtune's exported training job (export --format job) with
PyTorch + PEFT + the HF Trainer, for the GPU kit (scripts/gpu-kit.sh).

    job_check.py JOB.zip MODEL_DIR WORK_DIR

The job was exported with 48 rows; its config.json gets epochs 1, so batch 4 x accumulation 4
makes exactly 3 optimizer steps (the only change: train.py and every other setting are as
exported). Passes when train.py exits 0 after logging 3 finite losses and writes the adapter.
Exit 0 pass, 1 fail, 3 skipped (the first line says why).
"""
import json
import math
import os
import re
import subprocess
import sys
import zipfile

SKIP = 3
STEPS = 3


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    job_zip, model_dir, work = argv[1:4]
    gone = []
    for m in ("torch", "transformers", "peft", "accelerate"):
        try:
            __import__(m)
        except ImportError:
            gone.append(m)
    if gone:
        print(f"skipped: {', '.join(gone)} not installed (train.py needs torch, transformers, peft and accelerate in {sys.executable})")
        return SKIP
    os.makedirs(work, exist_ok=True)
    with zipfile.ZipFile(job_zip) as z:
        z.extractall(work)
    scripts = [os.path.join(d, "train.py") for d, _, files in os.walk(work) if "train.py" in files]
    if len(scripts) != 1:
        print(f"FAIL: {job_zip} should hold one train.py, found {len(scripts)}")
        return 1
    job = os.path.dirname(scripts[0])
    cfg_path = os.path.join(job, "config.json")
    cfg = json.load(open(cfg_path, encoding="utf-8"))
    rows = len(json.load(open(os.path.join(job, "data", "train.json"), encoding="utf-8")))
    t = cfg["train"]
    per_epoch = math.ceil(math.ceil(rows / t["batch_size"]) / t["grad_accum"])
    if per_epoch != STEPS:
        print(f"FAIL: {rows} rows at batch {t['batch_size']} x accumulation {t['grad_accum']} make {per_epoch} steps per epoch, not {STEPS}")
        return 1
    t["epochs"] = 1
    json.dump(cfg, open(cfg_path, "w", encoding="utf-8"), ensure_ascii=False, indent=2)
    out = os.path.join(work, "adapter")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", WANDB_DISABLED="true")
    p = subprocess.run([sys.executable, scripts[0], "--model", model_dir, "--out", out], cwd=job, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(os.path.join(work, "train.log"), "w", encoding="utf-8") as f:
        f.write(p.stdout)
    losses = [float(x) for x in re.findall(r"'loss': '?([0-9.eE+-]+|nan|inf)", p.stdout)]
    written = os.path.exists(os.path.join(out, "adapter_model.safetensors")) and os.path.exists(os.path.join(out, "adapter_config.json"))
    ok = p.returncode == 0 and len(losses) == STEPS and all(math.isfinite(x) for x in losses) and written
    tail = " | ".join(p.stdout.strip().splitlines()[-3:])
    print(f"{'pass' if ok else 'FAIL'}: train.py exit {p.returncode}, losses {losses} ({STEPS} expected), adapter {'written' if written else 'missing'} in {out}"
          + ("" if ok else f"; last lines: {tail}"))
    import torch
    print(json.dumps({"ok": ok, "exit": p.returncode, "losses": losses, "adapter": out if written else None, "cuda": torch.cuda.is_available()}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
