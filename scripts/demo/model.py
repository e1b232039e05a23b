"""A Qwen2 decoder in plain PyTorch (1.13 has no fused attention), with Hugging Face's tensor
names, so the weights drop into Webtune's loader unchanged: RMSNorm, rotary embeddings (rotate
half), grouped-query attention with q/k/v biases, SwiGLU, tied input/output embedding."""
import json, struct
import torch
import torch.nn as nn
import torch.nn.functional as F


class Cfg:
    def __init__(self, vocab, hidden=128, layers=4, heads=4, kv_heads=2, inter=384, theta=10000.0, eps=1e-6, max_pos=1024):
        self.vocab, self.hidden, self.layers, self.heads, self.kv_heads = vocab, hidden, layers, heads, kv_heads
        self.inter, self.theta, self.eps, self.max_pos = inter, theta, eps, max_pos
        self.head_dim = hidden // heads


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope(cfg, T):
    inv = 1.0 / (cfg.theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
    f = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    e = torch.cat([f, f], -1)
    return e.cos(), e.sin()


def rot_half(x):
    a, b = x.chunk(2, -1)
    return torch.cat([-b, a], -1)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.input_layernorm = RMSNorm(c.hidden, c.eps)
        self.post_attention_layernorm = RMSNorm(c.hidden, c.eps)
        self.q_proj = nn.Linear(c.hidden, c.heads * c.head_dim)
        self.k_proj = nn.Linear(c.hidden, c.kv_heads * c.head_dim)
        self.v_proj = nn.Linear(c.hidden, c.kv_heads * c.head_dim)
        self.o_proj = nn.Linear(c.heads * c.head_dim, c.hidden, bias=False)
        self.gate_proj = nn.Linear(c.hidden, c.inter, bias=False)
        self.up_proj = nn.Linear(c.hidden, c.inter, bias=False)
        self.down_proj = nn.Linear(c.inter, c.hidden, bias=False)

    def forward(self, x, cos, sin, mask):
        c = self.c
        B, T, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, c.heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        q = q * cos + rot_half(q) * sin
        k = k * cos + rot_half(k) * sin
        rep = c.heads // c.kv_heads
        k = k.repeat_interleave(rep, 1)
        v = v.repeat_interleave(rep, 1)
        a = (q @ k.transpose(-1, -2)) * (c.head_dim ** -0.5) + mask
        o = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.o_proj(o)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Qwen2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab, c.hidden)
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.layers)])
        self.norm = RMSNorm(c.hidden, c.eps)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
            elif n.endswith('bias'):
                nn.init.zeros_(p)
        for l in self.layers:  # scaled residual projections (GPT-2's init), steadier at lr 3e-3
            nn.init.normal_(l.o_proj.weight, std=0.02 / (2 * c.layers) ** 0.5)
            nn.init.normal_(l.down_proj.weight, std=0.02 / (2 * c.layers) ** 0.5)

    def hidden_states(self, ids, pad=None):
        """pad: (B, T) bool, True at left-padding positions no query may attend to."""
        B, T = ids.shape
        cos, sin = rope(self.c, T)
        mask = torch.full((T, T), float('-inf')).triu(1)
        if pad is not None:
            mask = mask + torch.zeros(B, 1, 1, T).masked_fill(pad[:, None, None, :], float('-inf'))
            mask = mask.masked_fill(torch.isinf(mask).all(-1, keepdim=True), 0.0)  # a pad query attends to all: harmless, no NaN
        x = self.embed_tokens(ids)
        for l in self.layers:
            x = l(x, cos, sin, mask)
        return self.norm(x)

    def forward(self, ids, pad=None):
        return self.hidden_states(ids, pad) @ self.embed_tokens.weight.t()

    def loss(self, ids, labels):
        """Mean cross-entropy over labelled positions; the head runs only there (answers are a third of the tokens)."""
        h = self.hidden_states(ids)
        keep = labels != -100
        return F.cross_entropy(h[keep] @ self.embed_tokens.weight.t(), labels[keep])

    def hf_state(self):
        """Tensors under Hugging Face Qwen2 names (tied head: no lm_head.weight)."""
        out = {'model.embed_tokens.weight': self.embed_tokens.weight, 'model.norm.weight': self.norm.weight}
        for i, l in enumerate(self.layers):
            p = f'model.layers.{i}.'
            for n in ['q_proj', 'k_proj', 'v_proj', 'o_proj']:
                out[p + f'self_attn.{n}.weight'] = getattr(l, n).weight
                if n != 'o_proj':
                    out[p + f'self_attn.{n}.bias'] = getattr(l, n).bias
            for n in ['gate_proj', 'up_proj', 'down_proj']:
                out[p + f'mlp.{n}.weight'] = getattr(l, n).weight
            out[p + 'input_layernorm.weight'] = l.input_layernorm.weight
            out[p + 'post_attention_layernorm.weight'] = l.post_attention_layernorm.weight
        return {k: v.detach().float().contiguous() for k, v in out.items()}

    def config_json(self, bos, eos):
        c = self.c
        return {
            'architectures': ['Qwen2ForCausalLM'], 'model_type': 'qwen2', 'hidden_act': 'silu',
            'hidden_size': c.hidden, 'intermediate_size': c.inter, 'num_hidden_layers': c.layers,
            'num_attention_heads': c.heads, 'num_key_value_heads': c.kv_heads, 'vocab_size': c.vocab,
            'max_position_embeddings': c.max_pos, 'rope_theta': c.theta, 'rms_norm_eps': c.eps,
            'tie_word_embeddings': True, 'torch_dtype': 'float32', 'bos_token_id': bos, 'eos_token_id': eos,
            'attention_dropout': 0.0, 'initializer_range': 0.02, 'use_cache': True,
            'use_sliding_window': False, 'sliding_window': c.max_pos, 'max_window_layers': c.layers,
        }


def write_safetensors(path, tensors, metadata):
    """F32 safetensors: an 8-byte header length, the JSON header, then the raw little-endian data."""
    header, off, blobs = {'__metadata__': metadata}, 0, []
    for name in sorted(tensors):
        t = tensors[name]
        b = t.numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h)
        for b in blobs:
            f.write(b)
