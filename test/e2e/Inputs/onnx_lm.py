#!/usr/bin/env python3
"""A tiny BitNet b1.58 language model exported to ONNX the ways users do.

The model is the 2B4T block (RMSNorm before every BitLinear, GQA, half-split
RoPE, attention and FFN sub-norms, relu2 or SiLU GLU, tied or separate head)
written in PyTorch and exported with torch.onnx.export at opset 17 (SPEC 8.2).
--form picks how each BitLinear reaches the graph (SPEC 8.3):

  ste      training form: activation and weight fake quantization with the
           straight-through estimator (the weight chain stays in the graph)
  offline  ternary float initializer, MatMul, Mul(weight_scale)
  packed   uint8 initializer unpacked with BitShift/Sub/Concat, MatMul on
           the integer activations, Div(input_scale * weight_scale)
  dql      offline, with each weight as DequantizeLinear(int8 T, m)
  mmi      offline, with each matmul as Cast(int8) -> MatMulInteger ->
           Cast -> Div(input_scale) -> Mul(weight_scale)
  nbits    offline, with each matmul as com.microsoft.MatMulNBits (bits=2,
           codes T + 2, default zero point 2, scale m)

The last three are rewritten from the offline export with the onnx helper
API, as deployment tools write them.

--hf-inputs exports the inputs Hugging Face exports take besides the ids:
attention_mask (combined with the causal mask) and position_ids (which
index the RoPE tables); --past adds Optimum's KV cache, inputs
past_key_values.L.key/value and outputs present.L.key/value.

--checkpoint DIR also writes the same model as a Hugging Face checkpoint
(2B4T layout: I8 trits and weight_scale, f32 embedding and norms), for the
offline and packed forms whose scales the graph states exactly: compiled
from either file, the executable must be the same.

--defect makes a graph that is not a BitNet model in one place, for the
frontend's errors: static (fixed sequence length), per-tensor (one
activation scale for all tokens), float (plain float linears), no-norm (no
RMSNorm before q/k/v), interleaved (RoPE tables in pairs), no-mask
(attention not causal), repeat-interleave (GQA exported as a Loop). One is a
model Tern compiles: no-rope (no position encoding at all, NoPE).

usage: onnx_lm.py -o MODEL.onnx [--form F] [--rope table|computed]
                  [--act relu2|silu] [--untied] [--layers N] [--seed S]
                  [--defect D]
"""
import argparse
import io
import math
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts")
sys.path.insert(0, SCRIPTS)
from gen_checkpoint import Tensor, pack_rows, write_safetensors  # noqa: E402


DEFECT = None


def act_quant(x):
    """Per-token absmax int8 (SPEC 2.2): the integer q and the scale s."""
    if DEFECT == "per-tensor":
        s = 127.0 / x.abs().max().clamp(min=1e-5)
        return (x * s).round().clamp(-128, 127), s
    s = 127.0 / x.abs().amax(-1, keepdim=True).clamp(min=1e-5)
    return (x * s).round().clamp(-128, 127), s


class BitLinearSTE(torch.nn.Linear):
    """The training form of BitNet's BitLinear (HF / 1bitLLM)."""

    def forward(self, x):
        q, s = act_quant(x)
        x = x + (q / s - x).detach()
        w = self.weight
        r = 1.0 / w.abs().mean().clamp(min=1e-5)
        w = w + ((w * r).round().clamp(-1, 1) / r - w).detach()
        return F.linear(x, w)


def ternarize(w):
    m = w.abs().mean().clamp(min=1e-5)
    return (w / m).round().clamp(-1, 1), m


class BitLinearOffline(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        t, m = ternarize(w)
        self.register_buffer("weight", t)
        self.register_buffer("weight_scale", m.reshape(1))

    def forward(self, x):
        q, s = act_quant(x)
        return F.linear(q / s, self.weight) * self.weight_scale


class BitLinearPacked(torch.nn.Module):
    """HF's packed BitLinear with a shift-only unpack (opset 17 has no
    BitwiseAnd) and the divide convention for weight_scale (SPEC 6.1)."""

    def __init__(self, w):
        super().__init__()
        t, m = ternarize(w)
        self.register_buffer("weight", torch.from_numpy(
            pack_rows(t.numpy().astype(np.int8))))
        self.register_buffer("weight_scale", (1.0 / m).reshape(1))

    def forward(self, x):
        b = self.weight
        # onnxruntime has no uint8 Sub: the codes are subtracted as floats.
        rows = [(b >> (2 * i)).float() - ((b >> (2 * i + 2)) << 2).float()
                for i in range(3)]
        rows.append((b >> 6).float())
        t = torch.cat(rows, 0) - 1
        q, s = act_quant(x)
        return F.linear(q, t) / (s * self.weight_scale)


class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(torch.nn.Module):
    def __init__(self, c, linear):
        super().__init__()
        D, H, Hkv, Fi = c.hidden, c.heads, c.kv_heads, c.intermediate
        self.H, self.Hkv, self.hd, self.act = H, Hkv, D // H, c.act
        self.input_layernorm = RMSNorm(D, c.eps)
        self.q_proj = linear(D, H * self.hd)
        self.k_proj = linear(D, Hkv * self.hd)
        self.v_proj = linear(D, Hkv * self.hd)
        self.attn_sub_norm = RMSNorm(H * self.hd, c.eps)
        self.o_proj = linear(H * self.hd, D)
        self.post_attention_layernorm = RMSNorm(D, c.eps)
        self.gate_proj = linear(D, Fi)
        self.up_proj = linear(D, Fi)
        self.ffn_sub_norm = RMSNorm(Fi, c.eps)
        self.down_proj = linear(Fi, D)

    def forward(self, h, cos, sin, keep=None, past=None):
        B, T, _ = h.shape

        def rope(x, heads):
            x = x.view(B, T, heads, self.hd).transpose(1, 2)
            if DEFECT == "no-rope":
                return x
            half = self.hd // 2
            rot = torch.cat([-x[..., half:], x[..., :half]], -1)
            return x * cos + rot * sin

        x = h if DEFECT == "no-norm" else self.input_layernorm(h)
        q = rope(self.q_proj(x), self.H)
        k = rope(self.k_proj(x), self.Hkv)
        v = self.v_proj(x).view(B, T, self.Hkv, self.hd).transpose(1, 2)
        P = 0
        if past is not None:  # the KV cache of an HF export: past, then new
            P = past[0].shape[2]
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        present = (k, v)
        S = P + T
        rep = self.H // self.Hkv  # GQA as HF's repeat_kv: Expand + Reshape
        if DEFECT == "repeat-interleave":  # exports as a Loop
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        else:
            k = k[:, :, None].expand(B, self.Hkv, rep, S, self.hd).reshape(B, self.H, S, self.hd)
            v = v[:, :, None].expand(B, self.Hkv, rep, S, self.hd).reshape(B, self.H, S, self.hd)
        a = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        mask = torch.ones(T, S, dtype=torch.bool).triu(1 + P)
        if keep is not None:  # attention_mask: 0 hides a position
            mask = mask | (keep[:, None, None, :] == 0)
        if DEFECT != "no-mask":
            a = a.masked_fill(mask, float("-inf"))
        o = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        sub = getattr(self, "skip_sub_norm", False)  # --defect mixed-sub-norms
        h = h + self.o_proj(o if sub else self.attn_sub_norm(o))
        x = self.post_attention_layernorm(h)
        g = self.gate_proj(x)
        g = torch.relu(g) ** 2 if self.act == "relu2" else F.silu(g)
        h = h + self.down_proj(self.ffn_sub_norm(g * self.up_proj(x)))
        return h if past is None else (h, present)


class Model(torch.nn.Module):
    def __init__(self, c, linear):
        super().__init__()
        self.c = c
        self.embed_tokens = torch.nn.Embedding(c.vocab, c.hidden)
        self.layers = torch.nn.ModuleList(Block(c, linear) for _ in range(c.layers))
        if DEFECT == "mixed-sub-norms":  # block 1 without attn_sub_norm
            self.layers[1].skip_sub_norm = True
        self.norm = RMSNorm(c.hidden, c.eps)
        self.lm_head = None if not c.untied else torch.nn.Linear(c.hidden, c.vocab, bias=False)
        hd = c.hidden // c.heads
        self.register_buffer("inv_freq", 1.0 / (c.theta ** (torch.arange(0, hd, 2).float() / hd)))
        ang = torch.arange(c.context).float()[:, None] * self.inv_freq[None, :]
        ang = ang.repeat_interleave(2, -1) if DEFECT == "interleaved" else torch.cat([ang] * 2, -1)
        self.register_buffer("cos", ang.cos())
        self.register_buffer("sin", ang.sin())

    def forward(self, ids, attention_mask=None, position_ids=None, *past):
        T = ids.shape[1]
        keep = attention_mask
        if position_ids is not None:  # [B, T] -> [B, 1, T, hd]
            cos, sin = self.cos[position_ids][:, None], self.sin[position_ids][:, None]
        elif self.c.rope == "table":
            cos, sin = self.cos[:T], self.sin[:T]
        else:  # computed from the positions, as HF's rotary embedding does
            ang = torch.arange(T, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
            ang = torch.cat([ang, ang], -1)
            cos, sin = ang.cos(), ang.sin()
        h = self.embed_tokens(ids)
        presents = []
        for i, layer in enumerate(self.layers):
            if past:
                h, kv = layer(h, cos, sin, keep, past[2 * i:2 * i + 2])
                presents += kv
            else:
                h = layer(h, cos, sin, keep)
        h = h if DEFECT == "no-final-norm" else self.norm(h)
        logits = self.lm_head(h) if self.lm_head is not None else h @ self.embed_tokens.weight.T
        return (logits, *presents) if past else logits


def export(model, path, hf_inputs=False, past=False):
    f = io.BytesIO()
    ids = torch.zeros(1, 5, dtype=torch.long)
    args, names, outs = (ids,), ["input_ids"], ["logits"]
    if hf_inputs or past:
        args = (ids, torch.ones(1, 5, dtype=torch.long), torch.arange(5)[None])
        names = ["input_ids", "attention_mask", "position_ids"]
    axes = None if DEFECT == "static" else {
        n: {0: "batch", 1: "sequence"} for n in names + ["logits"]}
    if past:  # Optimum's names: past_key_values.L.key/value -> present.L.*
        c = model.c
        shape = (1, c.kv_heads, 3, c.hidden // c.heads)
        for i in range(c.layers):
            for kind in ("key", "value"):
                args += (torch.zeros(shape),)
                names.append(f"past_key_values.{i}.{kind}")
                outs.append(f"present.{i}.{kind}")
                axes[names[-1]] = axes[outs[-1]] = {0: "batch", 2: "past"}
        axes["attention_mask"] = {0: "batch", 1: "total"}
        args = (ids, torch.ones(1, 8, dtype=torch.long), torch.arange(3, 8)[None]) + args[3:]
    torch.onnx.export(model, args, f, opset_version=17, input_names=names,
                      output_names=outs, do_constant_folding=True,
                      dynamic_axes=axes)
    return onnx.load_from_string(f.getvalue())


def deployment(model, form):
    """Rewrites each offline BitLinear (MatMul by a ternary initializer, then
    Mul by weight_scale) into a deployment form."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    out, drop = [], set()
    for n in g.node:
        if id(n) in drop:
            continue
        if n.op_type != "MatMul" or n.input[1] not in inits:
            out.append(n)
            continue
        t = numpy_helper.to_array(inits[n.input[1]])  # [in, out]
        if not np.isin(t, (-1, 0, 1)).all():
            out.append(n)  # the untied head
            continue
        mul = consumers[n.output[0]][0]
        assert mul.op_type == "Mul"
        scale_name = [i for i in mul.input if i != n.output[0]][0]
        m = float(numpy_helper.to_array(inits[scale_name]).reshape(-1)[0])
        base = n.output[0]
        if form == "dql":
            g.initializer.append(numpy_helper.from_array(t.astype(np.int8), base + "_t"))
            g.initializer.append(numpy_helper.from_array(np.array(m, np.float32), base + "_m"))
            g.initializer.append(numpy_helper.from_array(np.array(0, np.int8), base + "_zp"))
            out.append(helper.make_node("DequantizeLinear", [base + "_t", base + "_m", base + "_zp"],
                                        [base + "_w"], name=base + "_dql"))
            out.append(helper.make_node("MatMul", [n.input[0], base + "_w"], [mul.output[0]],
                                        name=n.name))
            drop.add(id(mul))
        elif form == "mmi":
            # The activation chain ends Div(q, s) -> Cast -> MatMul: read q and s.
            a = producer[n.input[0]]
            while a.op_type == "Cast":
                a = producer[a.input[0]]
            assert a.op_type == "Div", a.op_type
            q, s = a.input
            g.initializer.append(numpy_helper.from_array(t.astype(np.int8), base + "_t"))
            out += [helper.make_node("Cast", [q], [base + "_q8"], to=TensorProto.INT8),
                    helper.make_node("MatMulInteger", [base + "_q8", base + "_t"], [base + "_i"],
                                     name=n.name),
                    helper.make_node("Cast", [base + "_i"], [base + "_f"], to=TensorProto.FLOAT),
                    helper.make_node("Div", [base + "_f", s], [base])]
        elif form == "nbits":
            k, nout = t.shape
            block = 16
            codes = (t.T + 2).astype(np.uint8)  # [N, K]
            codes = codes.reshape(nout, k // block, block // 4, 4)
            packed = (codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6)
            g.initializer.append(numpy_helper.from_array(packed.astype(np.uint8), base + "_b"))
            g.initializer.append(numpy_helper.from_array(
                np.full((nout * (k // block),), m, np.float32), base + "_s"))
            out.append(helper.make_node("MatMulNBits", [n.input[0], base + "_b", base + "_s"],
                                        [mul.output[0]], name=n.name, domain="com.microsoft",
                                        K=k, N=nout, bits=2, block_size=block))
            drop.add(id(mul))
    del g.node[:]
    g.node.extend(out)
    if form == "nbits":
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    # Drop the initializers nothing reads any more.
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    return model


def write_checkpoint(model, c, out):
    """The model's ternary weights and scales as a 2B4T-layout checkpoint."""
    import json
    os.makedirs(out, exist_ok=True)
    f32 = lambda t: Tensor("F32", t.detach().numpy().astype(np.float32))  # noqa: E731
    tensors = {"model.embed_tokens.weight": f32(model.embed_tokens.weight),
               "model.norm.weight": f32(model.norm.weight)}
    for i, layer in enumerate(model.layers):
        p = f"model.layers.{i}."
        for name, mod in layer.named_children():
            if isinstance(mod, RMSNorm):
                full = {"attn_sub_norm": "self_attn.attn_sub_norm",
                        "ffn_sub_norm": "mlp.ffn_sub_norm"}.get(name, name)
                tensors[p + full + ".weight"] = f32(mod.weight)
                continue
            full = p + ("self_attn." if name[0] in "qkvo" else "mlp.") + name
            if isinstance(mod, BitLinearPacked):  # the divide convention
                tensors[full + ".weight"] = Tensor("U8", mod.weight.numpy())
                scale = float(mod.weight_scale[0])
            else:
                tensors[full + ".weight"] = Tensor("I8", mod.weight.numpy().astype(np.int8))
                scale = float(mod.weight_scale[0])
            tensors[full + ".weight_scale"] = Tensor("F32", np.array([scale], np.float32))
    if model.lm_head is not None:
        tensors["lm_head.weight"] = f32(model.lm_head.weight)
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    packed = any(isinstance(m, BitLinearPacked) for m in model.modules())
    config = {
        "architectures": ["BitNetForCausalLM"], "model_type": "bitnet",
        "hidden_size": c.hidden, "intermediate_size": c.intermediate,
        "num_hidden_layers": c.layers, "num_attention_heads": c.heads,
        "num_key_value_heads": c.kv_heads, "vocab_size": c.vocab,
        "max_position_embeddings": c.context, "rms_norm_eps": c.eps,
        "rope_theta": c.theta, "hidden_act": c.act,
        "tie_word_embeddings": model.lm_head is None,
        "quantization_config": {"quant_method": "bitnet",
                                "linear_class": "bitlinear" if packed else "autobitlinear"}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


def to_opset(model, opset):
    """The export at `opset` (18 to 21): the ops this model uses change only
    in that ReduceMean/ReduceMax/ReduceSum take axes as an input (onnx 1.12's
    version converter stops at 17)."""
    g = model.graph
    for n in g.node:
        if n.op_type in ("ReduceMean", "ReduceMax", "ReduceSum"):
            axes = [a for a in n.attribute if a.name == "axes"]
            if axes:
                name = n.name + "_axes"
                g.initializer.append(numpy_helper.from_array(
                    np.array(list(axes[0].ints), np.int64), name))
                n.input.append(name)
                n.attribute.remove(axes[0])
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = opset
    model.ir_version = 9 if opset < 21 else 10
    return model


def build(a):
    torch.manual_seed(a.seed)
    linear = {"ste": lambda i, o: BitLinearSTE(i, o, bias=False)}.get(a.form)
    if DEFECT == "float":
        linear = lambda i, o: torch.nn.Linear(i, o, bias=False)  # noqa: E731
    if linear is None:
        cls = BitLinearPacked if a.form == "packed" else BitLinearOffline
        linear = lambda i, o: cls(torch.randn(o, i) * 0.1)  # noqa: E731
    model = Model(a, linear).eval()
    if a.form == "ste":
        for m in model.modules():
            if isinstance(m, (BitLinearSTE, torch.nn.Linear)) and m is not model.lm_head:
                torch.nn.init.normal_(m.weight, std=0.1)
    torch.nn.init.normal_(model.embed_tokens.weight, std=1.0)
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--form", default="ste",
                   choices=["ste", "offline", "packed", "dql", "mmi", "nbits"])
    p.add_argument("--rope", default="table", choices=["table", "computed"])
    p.add_argument("--act", default="relu2", choices=["relu2", "silu"])
    p.add_argument("--untied", action="store_true")
    p.add_argument("--hf-inputs", action="store_true")
    p.add_argument("--checkpoint", help="also write the model as a checkpoint here")
    p.add_argument("--opset", type=int, default=17,
                   help="18 or more: rewrite the export to that opset (Reduce* "
                        "take their axes as an input from 18 on)")
    p.add_argument("--past", action="store_true",
                   help="also past_key_values.* inputs and present.* outputs")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--vocab", type=int, default=96)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--intermediate", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--theta", type=float, default=10000.0)
    p.add_argument("--eps", type=float, default=1e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--defect", choices=["static", "per-tensor", "float", "no-norm",
                                        "no-rope", "interleaved", "no-mask",
                                        "repeat-interleave", "mixed-sub-norms",
                                        "no-final-norm"])
    a = p.parse_args()
    global DEFECT
    DEFECT = a.defect
    warnings.filterwarnings("ignore")
    torch.set_grad_enabled(False)
    base = "offline" if a.form in ("dql", "mmi", "nbits") else a.form
    form, a.form = a.form, base
    model = build(a)
    onnx_model = export(model, a.output, a.hf_inputs, a.past)
    if a.checkpoint:
        write_checkpoint(model, a, a.checkpoint)
    if form != base:
        onnx_model = deployment(onnx_model, form)
    if a.opset > 17:
        onnx_model = to_opset(onnx_model, a.opset)
    onnx.save(onnx_model, a.output)


if __name__ == "__main__":
    main()
