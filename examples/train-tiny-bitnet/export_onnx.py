#!/usr/bin/env python3
"""Exports the trained example model (model/, the 2B4T checkpoint layout) to
ONNX as PyTorch users do: torch.onnx.export at opset 17 of the same modules
train.py trains, with each BitLinear in its packed deployment form (uint8
weights, four trits per byte, unpacked with shifts, SPEC 6.1 and 8.2) so
that the file stays small (2.8 MB). Token ids in, logits out, with a dynamic
batch and sequence; no constant folding, so the unpacking and the tied head's
transpose stay in the graph (Tern folds them).

usage: export_onnx.py [--checkpoint model] [-o model/model.onnx]
"""
import argparse
import io
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import train  # noqa: E402
from reference_torch import read_checkpoint  # noqa: E402


class PackedBitLinear(torch.nn.Module):
    """BitLinear on the checkpoint's packed trits: per-token absmax int8
    activations, the integer product, then both scales (weight_scale
    multiplies, the autobitlinear convention of the checkpoint)."""

    def __init__(self, packed, scale):
        super().__init__()
        self.register_buffer("weight", torch.from_numpy(np.ascontiguousarray(packed)))
        self.register_buffer("weight_scale", torch.tensor([float(scale)]))

    def forward(self, x):
        b = self.weight
        # Four 2-bit codes per byte, row block i in bits 2i (HF pack_weights);
        # shifts only (opset 17 has no BitwiseAnd), subtracted as floats
        # (onnxruntime has no uint8 Sub).
        rows = [(b >> (2 * i)).float() - ((b >> (2 * i + 2)) << 2).float()
                for i in range(3)]
        rows.append((b >> 6).float())
        t = torch.cat(rows, 0) - 1
        s = 127.0 / x.abs().amax(-1, keepdim=True).clamp(min=1e-5)
        q = (x * s).round().clamp(-128, 127)
        return F.linear(q, t) * self.weight_scale / s


def build(path):
    config, tensors = read_checkpoint(path)
    model = train.Model(train.CONFIG).eval()
    model.embed.weight.data = torch.from_numpy(
        tensors["model.embed_tokens.weight"].astype(np.float32).copy())
    model.norm.weight.data = torch.from_numpy(tensors["model.norm.weight"].copy())
    for i, layer in enumerate(model.layers):
        p = f"model.layers.{i}."
        for name, mod in list(layer.named_children()):
            if isinstance(mod, train.RMSNorm):
                full = {"attn_sub_norm": "self_attn.attn_sub_norm",
                        "ffn_sub_norm": "mlp.ffn_sub_norm"}.get(name, name)
                mod.weight.data = torch.from_numpy(tensors[p + full + ".weight"].copy())
            else:
                full = p + ("self_attn." if name[0] in "qkvo" else "mlp.") + name
                setattr(layer, name, PackedBitLinear(tensors[full + ".weight"],
                                                     tensors[full + ".weight_scale"][0]))
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=os.path.join(HERE, "model"))
    p.add_argument("-o", "--output", default=os.path.join(HERE, "model", "model.onnx"))
    a = p.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_grad_enabled(False)
    model = build(a.checkpoint)
    f = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, 8, dtype=torch.long),), f, opset_version=17,
                      input_names=["input_ids"], output_names=["logits"],
                      do_constant_folding=False,
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "logits": {0: "batch", 1: "sequence"}})
    m = onnx.load_from_string(f.getvalue())
    onnx.save(m, a.output)
    print(f"wrote {a.output} ({os.path.getsize(a.output) / 1e6:.1f} MB, "
          f"{len(m.graph.node)} nodes)")


if __name__ == "__main__":
    main()
