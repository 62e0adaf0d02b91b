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


def activation_quant(x):
    """Per-token absmax int8, kept in float (SPEC 2.2)."""
    scale = 127.0 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    return (x * scale).round().clamp(-128, 127) / scale


def weight_quant(w):
    """Per-tensor absmean ternary, kept in float (SPEC 2.1)."""
    scale = 1.0 / w.abs().mean().clamp(min=1e-5)
    return (w * scale).round().clamp(-1, 1) / scale


class RMSNorm(torch.nn.Module):
    """RMSNorm as courses write it (the legacy exporter has no
    aten::rms_norm, torch.nn.RMSNorm)."""

    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) \
            * self.weight


class CourseBitLinear(torch.nn.Linear):
    """The BitLinear of Microsoft's "The Era of 1-bit LLMs: Training Tips,
    Code and FAQ": an RMSNorm of its own, then int8 activations and ternary
    weights through straight-through estimators, and nn.Linear's bias."""

    def __init__(self, n_in, n_out, bias=True, norm=torch.nn.RMSNorm):
        super().__init__(n_in, n_out, bias)
        self.norm = norm(n_in, eps=1e-6)

    def forward(self, x):
        x = self.norm(x)
        xq = x + (activation_quant(x) - x).detach()
        w = self.weight
        wq = w + (weight_quant(w) - w).detach()
        return torch.nn.functional.linear(xq, wq, self.bias)


class CourseBlock(torch.nn.Module):
    """nanoGPT's block with BitLinears: masked multi-head attention and a
    GELU MLP; the BitLinears normalize, so the block has no norms."""

    def __init__(self, d, heads, ctx):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (CourseBitLinear(d, d)
                                          for _ in range(4))
        self.fc = CourseBitLinear(d, 4 * d)
        self.proj = CourseBitLinear(4 * d, d)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx)))

    def forward(self, x):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.heads, -1).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = (q @ k.transpose(-2, -1)) / (k.shape[-1] ** 0.5)
        att = att.masked_fill(self.mask[:t, :t] == 0, float("-inf"))
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.o(y)
        return x + self.proj(torch.nn.functional.gelu(self.fc(x)))


class CourseBitNet(torch.nn.Module):
    """A from-scratch BitNet as courses write one: learned absolute
    positions, biases, per-BitLinear norms, GELU, a tied head."""

    def __init__(self, vocab=128, d=32, heads=4, layers=2, ctx=64):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Embedding(ctx, d)
        self.blocks = torch.nn.ModuleList(CourseBlock(d, heads, ctx)
                                          for _ in range(layers))
        self.norm = torch.nn.RMSNorm(d, eps=1e-6)
        self.head = torch.nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight
        with torch.no_grad():  # untrained norms and biases are too plain
            for m in self.modules():
                if isinstance(m, torch.nn.RMSNorm):
                    m.weight.uniform_(0.5, 1.5)
                if isinstance(m, CourseBitLinear):
                    m.bias.normal_(0, 0.1)

    def forward(self, input_ids):
        t = input_ids.shape[1]
        x = self.tok(input_ids) + self.pos(torch.arange(t))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class CourseLlamaBlock(torch.nn.Module):
    """A "Llama from scratch" block with BitLinears and no biases: RoPE
    computed in forward from torch.outer, SDPA, a SwiGLU MLP."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        lin = lambda i, o: CourseBitLinear(i, o, bias=False, norm=RMSNorm)
        self.q, self.k, self.v, self.o = lin(d, d), lin(d, d), lin(d, d), lin(d, d)
        self.gate, self.up, self.down = lin(d, 2 * d), lin(d, 2 * d), lin(2 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(t).float(), inv)
        cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()

        def rope(y):
            y = y.view(b, t, self.heads, hd).transpose(1, 2)
            rot = torch.cat([-y[..., hd // 2:], y[..., :hd // 2]], -1)
            return y * cos + rot * sin

        q, k = rope(self.q(x)), rope(self.k(x))
        v = self.v(x).view(b, t, self.heads, hd).transpose(1, 2)
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v,
                                                             is_causal=True)
        x = x + self.o(y.transpose(1, 2).reshape(b, t, d))
        silu = torch.nn.functional.silu
        return x + self.down(silu(self.gate(x)) * self.up(x))


class CourseLlama(torch.nn.Module):
    def __init__(self, vocab=128, d=32, heads=4, layers=2):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(CourseLlamaBlock(d, heads)
                                          for _ in range(layers))
        self.norm = RMSNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, RMSNorm):
                    m.weight.uniform_(0.5, 1.5)

    def forward(self, input_ids):
        x = self.tok(input_ids)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def fresh(cls):
    """A new model of `cls`, the same whichever fixtures run before it."""
    torch.manual_seed(1)
    return cls().eval()


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
            # Opset 23: RMSNormalization, RotaryEmbedding and Attention
            # where the exporter writes them.
            "hf-bitnet-dynamo23": lambda p: export(bitnet, p, True, 23),
            "hf-bitnet-exporter-cache23":
                lambda p: export_with_cache(hf_bitnet, p, 23),
            "course-llama-dynamo23":
                lambda p: export(fresh(CourseLlama), p, True, 23),
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
            # Hand-written BitNets as courses teach them.
            "course-bitnet-dynamo":
                lambda p: export(fresh(CourseBitNet), p, True, 18),
            "course-llama-dynamo":
                lambda p: export(fresh(CourseLlama), p, True, 18),
            # RoPE's torch.outer exported as Einsum.
            "course-llama-legacy17":
                lambda p: export(fresh(CourseLlama), p, False, 17),
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
