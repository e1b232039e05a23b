#!/usr/bin/env python3
"""NF4 codes and absmax by the PyTorch reference (make_golden.py's nf4_roundtrip), for the
JS quantizer's bit-for-bit test (test/nf4.test.ts).

usage: /usr/bin/python3 scripts/nf4_reference.py CASE_DIR OUT.safetensors
  (Debian's python3-torch; make_golden.py is read from ../shared/golden)

Writes, for every projection weight W of the case's model.safetensors (and for a synthetic
tensor of ties and edge values, `edge`):
  codes.W   I32 [numel/8]: the code indices, eight to a word, element 8w+k in bits 4k..4k+3
  absmax.W  F32 [numel/64]
and edge.input F32, the synthetic input, with dequant.edge F32, code * absmax as the reference
computes it (the case's expected.safetensors holds one dequantized weight of its own).
"""
import json, os, struct, sys
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "golden"))
from make_golden import NF4, TARGETS, nf4_roundtrip  # noqa: E402

DT_IN = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = bytearray(data[a:b])
        dt = DT_IN[info["dtype"]]
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def pack_codes(idx):
    flat = idx.reshape(-1, 8).to(torch.int64)
    word = torch.zeros(flat.shape[0], dtype=torch.int64)
    for k in range(8):
        word |= flat[:, k] << (4 * k)
    return (word - ((word >> 31) << 32)).to(torch.int32)  # two's complement view of the u32


def edge_input():
    """Blocks that exercise the rule's corners: exact midpoints between codes (ties go to the
    lower index), values one f32 step either side of them, an all-zero block, a block whose
    absmax is negative, a lone tiny value, and subnormals."""
    codes = NF4.tolist()
    blocks = []
    mids = [float(torch.tensor((codes[i] + codes[i + 1]) / 2, dtype=torch.float32)) for i in range(15)]
    b = [1.0] + mids + [-m for m in mids] + [0.0] * 3
    blocks.append(b + [0.0] * (64 - len(b)))
    up = [float(torch.nextafter(torch.tensor(m, dtype=torch.float32), torch.tensor(2.0, dtype=torch.float32))) for m in mids]
    dn = [float(torch.nextafter(torch.tensor(m, dtype=torch.float32), torch.tensor(-2.0, dtype=torch.float32))) for m in mids]
    b = [-1.0] + up + dn
    blocks.append(b + [0.5] * (64 - len(b)))
    blocks.append([0.0] * 64)
    b = [-3.5] + [3.5 * c for c in codes] + [3.5 * m for m in mids]
    blocks.append(b + [-0.0] * (64 - len(b)))
    blocks.append([1e-30] + [0.0] * 63)
    blocks.append([1e-40 * (k - 32) for k in range(64)])
    g = torch.Generator().manual_seed(5)
    blocks.append((torch.randn(64, generator=g) * 0.02).tolist())
    return torch.tensor(blocks, dtype=torch.float32).reshape(-1)


def main():
    case, out = sys.argv[1], sys.argv[2]
    model = read_safetensors(os.path.join(case, "model.safetensors"))
    block = 64
    qcfg = json.load(open(os.path.join(case, "case.json"))).get("quant") or {}
    block = int(qcfg.get("block", block))
    result = {}
    items = [(n, t) for n, t in sorted(model.items()) if n.endswith(".weight") and any(f".{m}." in n for m in TARGETS)]
    items.append(("edge", edge_input()))
    for name, t in items:
        deq, idx, absmax = nf4_roundtrip(t, block)
        result[f"codes.{name}"] = pack_codes(idx)
        result[f"absmax.{name}"] = absmax.to(torch.float32)
    result["dequant.edge"] = deq.reshape(-1).to(torch.float32)
    result["edge.input"] = items[-1][1]
    write_safetensors(out, result)
    print(f"{out}: {len(items)} tensors")


if __name__ == "__main__":
    main()
