#!/usr/bin/env python3
"""Copies a checkpoint with one bf16 tensor widened to f32 (exactly).

  widen_table.py SRC DST [TENSOR] [--plant] [--bf16]
  (default TENSOR: model.embed_tokens.weight)

lm-head.test compiles both: Tern's LM head reads a bf16 table through its
own SIMD loop and an f32 table through the plain one, so equal logits check
one against the other. --plant first writes values far outside the table's
range into rows 0-9 and the last (zeros of both signs, tiny, subnormal and
large values: blocks that #tern.packed_bf16 keeps whole); --bf16 keeps the
tensor bf16.
"""
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                "scripts"))
from gen_checkpoint import Tensor, write_safetensors  # noqa: E402


NUMPY = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32,
         "U8": np.uint8, "I8": np.int8}


def plant(bits):
    """Outliers in bf16 bits [V, D] (D a multiple of 64): see the docstring."""
    blocks = bits.shape[1] // 64
    for r in range(10):
        bits[r, (r % blocks) * 64 + (r * 7) % 64] = 0x8000 if r % 2 else 0
    bits[3, 5] = 0x0DE1           # about 1e-30
    bits[3, bits.shape[1] - 1] = 0x0001  # subnormal
    bits[5, ::64] = 0x46EA        # 29952 in every block of a row
    bits[8, 64:192] = 0x8000      # two blocks of -0 in a row
    bits[-1, -64:] = 0xC6EA       # the last block of the last row
    return bits


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src, dst = args[0], args[1]
    name = args[2] if len(args) > 2 else "model.embed_tokens.weight"
    shutil.copytree(src, dst)
    path = os.path.join(src, "model.safetensors")
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        data = f.read()
    header.pop("__metadata__", None)
    tensors = {}
    for key, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[begin:end], np.uint8)
        if key == name:
            assert info["dtype"] == "BF16", f"{name} is {info['dtype']}, not BF16"
            bf16 = raw.view(np.uint16).reshape(info["shape"]).copy()
            if "--plant" in sys.argv:
                bf16 = plant(bf16)
            if "--bf16" in sys.argv:
                tensors[key] = Tensor("BF16", bf16)
                continue
            bits = bf16.astype(np.uint32) << np.uint32(16)
            tensors[key] = Tensor("F32", bits.view(np.float32))
        else:
            kind = NUMPY[info["dtype"]]
            tensors[key] = Tensor(info["dtype"], raw.view(kind).reshape(info["shape"]))
    assert name in tensors, f"no tensor {name} in {path}"
    write_safetensors(os.path.join(dst, "model.safetensors"), tensors)


if __name__ == "__main__":
    main()
