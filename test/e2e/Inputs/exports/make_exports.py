#!/usr/bin/env python3
"""Regenerates the ONNX fixtures in this directory: tiny random BitNet
language models exported the way users export them today.

Each fixture is a real exporter's output (torch.onnx.export, dynamo or
legacy) of a real model class (transformers' own, or a hand-written
course-style BitNet), small enough to commit. test/e2e/onnx-exports.test
compiles each with ternc and checks it against onnxruntime.

PyPI torch is several GB, too heavy for CI: run this by hand in a venv of its
own, and commit the .onnx files with the versions it prints into
VERSIONS.txt:

  python3 -m venv /tmp/tfvenv
  /tmp/tfvenv/bin/pip install torch transformers onnx onnxscript onnxruntime
  /tmp/tfvenv/bin/python test/e2e/Inputs/exports/make_exports.py
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
GEN = os.path.join(ROOT, "scripts", "gen_checkpoint.py")

# Tiny shapes: GQA (4 query / 2 KV heads), two blocks.
SHAPE = ["--hidden", "32", "--intermediate", "64", "--layers", "2",
         "--heads", "4", "--kv-heads", "2", "--vocab", "128",
         "--embed-std", "0.1", "--weight-std", "0.1"]


def checkpoint(workdir, name, *extra):
    out = os.path.join(workdir, name)
    subprocess.run([sys.executable, GEN, "-o", out] + SHAPE + list(extra),
                   check=True, stdout=subprocess.DEVNULL)
    return out


def load(ckpt):
    model = transformers.AutoModelForCausalLM.from_pretrained(
        ckpt, dtype=torch.float32)
    return torch.nn.Module.float(model).eval()


class Logits(torch.nn.Module):
    """input_ids (and attention_mask) -> logits, without a cache (what most
    users export)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask=None):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          use_cache=False).logits


def strip_debug_info(model):
    """Drops what the exporter writes for debugging only (each node's stack
    trace and original name): most of a tiny model's bytes, none of its
    meaning."""
    for n in model.graph.node:
        del n.metadata_props[:]
        n.doc_string = ""
    for v in list(model.graph.input) + list(model.graph.output) + \
            list(model.graph.value_info):
        del v.metadata_props[:]
        v.doc_string = ""
    for t in model.graph.initializer:
        del t.metadata_props[:]


def export(module, path, dynamo, opset, mask=False, optimize=True):
    ids = torch.tensor([[1, 5, 9, 3, 7, 2, 8, 4]])
    args = (ids, torch.ones_like(ids)) if mask else (ids,)
    names = ["input_ids", "attention_mask"][:len(args)]
    kwargs = dict(input_names=names, output_names=["logits"],
                  opset_version=opset)
    if dynamo:
        seq = torch.export.Dim("seq", min=2, max=256)
        torch.onnx.export(module, args, path, dynamo=True,
                          dynamic_shapes={n: {1: seq} for n in names},
                          external_data=False, optimize=optimize, **kwargs)
    else:
        axes = {n: {1: "seq"} for n in names + ["logits"]}
        torch.onnx.export(module, args, path, dynamo=False,
                          dynamic_axes=axes, **kwargs)
    model = onnx.load(path)
    strip_debug_info(model)
    onnx.save(model, path)
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{os.path.basename(path)}: {os.path.getsize(path)} bytes, opset "
          f"{model.opset_import[0].version}, ops {' '.join(ops)}")


def export_with_cache(model, path, opset):
    """transformers 5's own exporter (transformers.exporters), with a KV
    cache: inputs past_key_values.layers.N.keys/values, outputs
    cache.layers.N.keys/values, some sizes written as strings of digits."""
    from transformers.exporters.exporter_onnx import OnnxConfig, OnnxExporter
    with torch.no_grad():
        past = model(input_ids=torch.tensor([[2, 4, 6]]),
                     use_cache=True).past_key_values
    inputs = {"input_ids": torch.tensor([[1, 5, 9, 3]]),
              "attention_mask": torch.ones(1, 7, dtype=torch.long),
              "past_key_values": past, "use_cache": True}
    exported = OnnxExporter().export(
        model, inputs, config=OnnxConfig(dynamic=True, opset_version=opset))
    with tempfile.TemporaryDirectory() as out:
        exported.save_pretrained(out)
        onnx_model = onnx.load(os.path.join(out, "model.onnx"))
    strip_debug_info(onnx_model)
    onnx.save(onnx_model, path)  # one file: the weights inline
    ops = sorted({n.op_type for n in onnx_model.graph.node})
    print(f"{os.path.basename(path)}: {os.path.getsize(path)} bytes, opset "
          f"{opset}, ops {' '.join(ops)}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=HERE)
    p.add_argument("--only", help="comma-separated fixture names")
    a = p.parse_args()
    torch.manual_seed(0)
    versions = (f"torch {torch.__version__}, transformers "
                f"{transformers.__version__}, onnx {onnx.__version__}")
    try:
        import onnxscript
        versions += f", onnxscript {onnxscript.__version__}"
    except ImportError:
        pass
    print(versions)
    with tempfile.TemporaryDirectory() as work:
        hf_bitnet = load(checkpoint(work, "bitnet", "--layout", "2b4t"))
        bitnet = Logits(hf_bitnet)
        llama = Logits(load(checkpoint(work, "llama", "--layout", "llama",
                                       "--untied")))
        fixtures = {
            "hf-bitnet-dynamo": lambda p: export(bitnet, p, True, 18),
            "hf-bitnet-exporter-cache":
                lambda p: export_with_cache(hf_bitnet, p, 18),
            # Llama + quant_method bitnet: Falcon3-1.58bit's form.
            "hf-llama-bitnet-dynamo": lambda p: export(llama, p, True, 18),
            # Without onnxscript's optimizer: the weights' unpacking stays
            # in the graph, on constants.
            "hf-llama-bitnet-unoptimized":
                lambda p: export(llama, p, True, 18, optimize=False),
            # The legacy exporter cannot export transformers' packed-sequence
            # check (torch.diff), which runs when no attention_mask is given.
            "hf-bitnet-legacy17": lambda p: export(bitnet, p, False, 17, True),
            "hf-bitnet-legacy21": lambda p: export(bitnet, p, False, 21, True),
        }
        only = a.only.split(",") if a.only else list(fixtures)
        # The legacy exporter traces with TorchScript, which refuses the
        # torch.compile'd helpers transformers uses unless dynamo is off
        # (read at import: a process of its own).
        legacy = [n for n in only if "legacy" in n]
        if legacy and os.environ.get("TORCHDYNAMO_DISABLE") != "1":
            subprocess.run([sys.executable, __file__, "--out", a.out, "--only",
                            ",".join(legacy)], check=True,
                           env={**os.environ, "TORCHDYNAMO_DISABLE": "1"})
            only = [n for n in only if n not in legacy]
        for name in only:
            fixtures[name](os.path.join(a.out, name + ".onnx"))
    with open(os.path.join(a.out, "VERSIONS.txt"), "w") as f:
        f.write(versions + "\n")


if __name__ == "__main__":
    sys.exit(main())
