#!/usr/bin/python3
"""The PyTorch side of scripts/bench.ts: the same LoRA training step on a random model of the
same preset, written out by hand (no transformers/peft here) the way HF Qwen2 + PEFT + Trainer
compute it: eager attention, LoRA on all seven projections (r=8, alpha=32, dropout 0.1), logits
for every position, shifted cross-entropy with -100 ignored, clip at 1.0, AdamW. f32, 2 threads.

  /usr/bin/python3 scripts/bench_torch.py --preset mid --batch 4 --seq 64 [--steps 3] [--threads 2]
  /usr/bin/python3 scripts/bench_torch.py --preset qwen2.5-0.5b --batch 4 --lengths 46-77

--lengths lo-hi: the ragged rows of bench.ts --lengths (same lengths per step), padded to the
longest row of each batch as DataCollatorForSeq2Seq does; tokens/s over real tokens.

Needs Debian's python3-torch (apt-get install -y python3-torch libopenblas0-pthread). The last
line is one JSON object like bench.ts prints.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F

PRESETS = {
    "small": dict(hidden=256, inter=704, layers=4, heads=4, kv_heads=2, vocab=8192, tied=False),
    "mid": dict(hidden=512, inter=1408, layers=8, heads=8, kv_heads=2, vocab=32000, tied=False),
    "qwen2.5-0.5b": dict(hidden=896, inter=4864, layers=24, heads=14, kv_heads=2, vocab=151936, tied=True),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class LoraLinear(torch.nn.Module):
    """PEFT's Linear: base(x) + lora_B(lora_A(dropout(x))) * alpha / r, base frozen."""

    def __init__(self, n_in, n_out, bias, r, alpha, dropout):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n_out, n_in) / math.sqrt(n_in), requires_grad=False)
        self.bias = torch.nn.Parameter(torch.randn(n_out) * 0.02, requires_grad=False) if bias else None
        self.lora_A = torch.nn.Parameter(torch.empty(r, n_in))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = torch.nn.Parameter(torch.zeros(n_out, r))
        self.scale = alpha / r
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_B) * self.scale


class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n), requires_grad=False)
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self, p, lora):
        super().__init__()
        C, I, hd = p["hidden"], p["inter"], p["hidden"] // p["heads"]
        self.nh, self.nkv, self.hd = p["heads"], p["kv_heads"], hd
        kvd = p["kv_heads"] * hd
        self.ln1, self.ln2 = RMSNorm(C), RMSNorm(C)
        self.q_proj = LoraLinear(C, C, True, **lora)
        self.k_proj = LoraLinear(C, kvd, True, **lora)
        self.v_proj = LoraLinear(C, kvd, True, **lora)
        self.o_proj = LoraLinear(C, C, False, **lora)
        self.gate_proj = LoraLinear(C, I, False, **lora)
        self.up_proj = LoraLinear(C, I, False, **lora)
        self.down_proj = LoraLinear(I, C, False, **lora)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        h = self.ln1(x)
        q = self.q_proj(h).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.hd) + mask, dim=-1)
        x = x + self.o_proj((att @ v).transpose(1, 2).reshape(B, T, C))
        h = self.ln2(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Model(torch.nn.Module):
    def __init__(self, p, lora):
        super().__init__()
        C = p["hidden"]
        self.embed = torch.nn.Parameter(torch.randn(p["vocab"], C) * 0.02, requires_grad=False)
        self.layers = torch.nn.ModuleList(Layer(p, lora) for _ in range(p["layers"]))
        self.norm = RMSNorm(C)
        self.lm_head = self.embed if p["tied"] else torch.nn.Parameter(torch.randn(p["vocab"], C) / math.sqrt(C), requires_grad=False)
        self.hd = C // p["heads"]

    def forward(self, ids, attention_mask, labels):
        B, T = ids.shape
        x = self.embed[ids]
        inv = 1.0 / (1e6 ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        causal = torch.full((T, T), float("-inf")).triu(1)
        mask = causal[None, None] + torch.where(attention_mask[:, None, None, :] > 0, 0.0, float("-inf"))
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = F.linear(self.norm(x), self.lm_head)  # HF: logits for every position
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)


def ragged_batch(vocab, B, step, lo, hi):
    """bench-core.ts rowLengths: row k = s*B + b has lo + floor((hi-lo+1) u^3) tokens, u = frac(k *
    golden ratio), right padded to the longest row; the first half of each row is prompt."""
    lens = []
    for b in range(B):
        u = ((step * B + b) * 0.6180339887498949) % 1.0
        lens.append(lo + math.floor((hi - lo + 1) * u * u * u))
    T = max(lens)
    ids = torch.randint(0, vocab, (B, T))
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for b, n in enumerate(lens):
        mask[b, :n] = 1
        half = (n + 1) // 2  # t >= n / 2, as bench-core.ts
        labels[b, half:n] = ids[b, half:n]
    print(f"step {step}: rows {', '.join(map(str, lens))}")
    return ids, mask, labels, sum(lens)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small", choices=PRESETS)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lengths", default=None, help="lo-hi: ragged rows padded to the longest (real tokens/s)")
    a = ap.parse_args()
    lengths = tuple(int(x) for x in a.lengths.split("-")) if a.lengths else None
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    p = PRESETS[a.preset]
    model = Model(p, dict(r=8, alpha=32, dropout=0.1))
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {sum(q.numel() for q in params)} LoRA parameters")
    ids = torch.randint(0, p["vocab"], (a.batch, a.seq))
    labels = ids.clone()
    labels[:, : a.seq // 2] = -100  # first half of each row is prompt
    attention_mask = torch.ones_like(ids)
    times = []
    real = 0
    for s in range(a.steps + 1):
        if lengths:
            ids, attention_mask, labels, n = ragged_batch(p["vocab"], a.batch, s, *lengths)
            real += n if s > 0 else 0
        t0 = time.perf_counter()
        loss = model(ids, attention_mask, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ms = (time.perf_counter() - t0) * 1000
        print(f"{'warm-up' if s == 0 else f'step {s}'}: {ms:.0f} ms, loss {loss.item():.4f}")
        if s > 0:
            times.append(ms)
    if lengths:
        print(json.dumps({
            "engine": "pytorch", "preset": a.preset, "batch": a.batch, "seq": lengths[1], "lengths": a.lengths,
            "train_tokens_per_s": round(real / (sum(times) / 1000), 2), "ms_per_step": round(sum(times) / len(times)),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "real_tokens": real,
        }))
        return
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "engine": "pytorch", "preset": a.preset, "batch": a.batch, "seq": a.seq,
        "train_tokens_per_s": round(a.batch * a.seq / (median / 1000), 2),
        "ms_per_step": round(median),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
