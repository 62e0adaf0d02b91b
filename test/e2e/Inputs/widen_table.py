#!/usr/bin/env python3
"""Copies a checkpoint with one bf16 tensor widened to f32 (exactly).

  widen_table.py SRC DST [TENSOR]   (default: model.embed_tokens.weight)

lm-head.test compiles both: Tern's LM head reads a bf16 table through its
own SIMD loop and an f32 table through the plain one, so equal logits check
one against the other.
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


def main():
    src, dst = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else "model.embed_tokens.weight"
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
            bits = raw.view(np.uint16).astype(np.uint32) << np.uint32(16)
            tensors[key] = Tensor("F32", bits.view(np.float32).reshape(info["shape"]))
        else:
            kind = NUMPY[info["dtype"]]
            tensors[key] = Tensor(info["dtype"], raw.view(kind).reshape(info["shape"]))
    assert name in tensors, f"no tensor {name} in {path}"
    write_safetensors(os.path.join(dst, "model.safetensors"), tensors)


if __name__ == "__main__":
    main()
