#!/usr/bin/env python3
"""Independent PyTorch reference for BitNet b1.58 checkpoints (SPEC.md 3).

Reads a Hugging Face checkpoint directory (config.json + model.safetensors or
sharded files) with its own safetensors parser and runs the forward pass in
fp32 with the integer form of BitLinear (SPEC 2, 3.1): per-token absmax int8
activations, ternary weights, scales applied after the integer dot. It runs
the whole sequence at once with a causal mask (no KV cache), so it shares no
structure with the compiled executable's prefill/decode loop.

Besides logits it reports the smallest distance of any quantizer input to a
rounding boundary (SPEC 5.8): tests choose prompts where that margin is large,
so that legitimate last-ulp differences cannot flip a rounding.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16,
          "U8": np.uint8, "I8": np.int8}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        a = np.frombuffer(data[base + b:base + end], dtype=DTYPES[e["dtype"]])
        a = a.reshape(e["shape"])
        if e["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = a
    return out


def read_checkpoint(path):
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    single = os.path.join(path, "model.safetensors")
    if os.path.exists(single):
        return config, read_safetensors(single)
    with open(os.path.join(path, "model.safetensors.index.json")) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    tensors = {}
    for file in files:
        tensors.update(read_safetensors(os.path.join(path, file)))
    return config, tensors


def unpack_rows(packed):
    """HF unpack_weights: [N/4, K] bytes -> [N, K] trits (SPEC 6.1)."""
    blocks = [((packed >> (2 * i)) & 3).astype(np.int8) - 1 for i in range(4)]
    return np.concatenate(blocks, axis=0)


class Model:
    def __init__(self, path, float_weights=False):
        """float_weights: the float baseline (ternc --weights=bf16): every
        BitLinear is x @ W^T with W = T * scale (or the latent weights),
        rounded to bf16, and no activation quantization."""
        self.float_weights = float_weights
        c, t = read_checkpoint(path)
        self.c = c
        self.D = c["hidden_size"]
        self.H = c["num_attention_heads"]
        self.Hkv = c.get("num_key_value_heads", self.H)
        self.hd = c.get("head_dim", self.D // self.H)
        self.L = c["num_hidden_layers"]
        self.eps = c["rms_norm_eps"]
        arch = c["architectures"][0]
        llama = arch in ("BitnetForCausalLM", "LlamaForCausalLM")
        self.theta = c.get("rope_theta", 10000.0 if llama else 500000.0)
        self.scaling = c.get("rope_scaling")
        self.act = c["hidden_act"]
        multiply = c.get("quantization_config", {}).get(
            "linear_class") == "autobitlinear"
        if arch == "LlamaForCausalLM":  # Falcon3, Falcon-E, Llama3-8B-1.58
            self.sub_attn = self.sub_ffn = None
        else:
            self.sub_attn = "self_attn.inner_attn_ln" if llama else "self_attn.attn_sub_norm"
            self.sub_ffn = "mlp.ffn_layernorm" if llama else "mlp.ffn_sub_norm"
        self.t = {}
        for name, a in t.items():
            if name.endswith(".weight_scale"):
                continue
            scale_name = name[:-len("weight")] + "weight_scale"
            if a.dtype == np.uint8 or a.dtype == np.int8:
                trits = unpack_rows(a) if a.dtype == np.uint8 else a
                s = float(np.asarray(t[scale_name], np.float32).reshape(-1)[0])
                self.t[name] = (torch.from_numpy(trits.astype(np.float32)),
                                s if multiply else 1.0 / s)
            elif name.endswith("_proj.weight") and scale_name in t:
                # AutoBitLinear offline, unpacked: ternary values as floats.
                s = float(np.asarray(t[scale_name], np.float32).reshape(-1)[0])
                self.t[name] = (torch.from_numpy(a.astype(np.float32)),
                                s if multiply else 1.0 / s)
            elif name.endswith("_proj.weight"):
                # Latent weights: absmean (SPEC 2.1), W_eff = T * mean|W|.
                w = torch.from_numpy(a.astype(np.float32))
                m = w.abs().mean().clamp(min=1e-5)
                trits = (w / m).round().clamp(-1, 1)
                self.t[name] = (trits, float(m))
            else:
                self.t[name] = torch.from_numpy(a.astype(np.float32))
        self.float_w = {}
        if float_weights:
            for name, a in t.items():
                if name.endswith(".weight_scale") or name not in self.t:
                    continue
                v = self.t[name]
                if isinstance(v, tuple) and a.dtype in (np.uint8, np.int8):
                    w = v[0] * v[1]
                elif isinstance(v, tuple):  # latent: the stored values
                    w = torch.from_numpy(a.astype(np.float32))
                else:
                    continue
                self.float_w[name] = w.to(torch.bfloat16).float()
        self.embed = self.t["model.embed_tokens.weight"]
        self.head = self.t.get("lm_head.weight", self.embed)
        self.head_fn = None  # h -> logits instead of h @ head^T

    def rms_norm(self, x, name, eps=None):
        var = (x * x).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + (self.eps if eps is None else eps)) * self.t[name]

    def bitlinear(self, x, name):
        q = self.c.get("quantization_config") or {}
        if q.get("use_rms_norm"):  # transformers' BitLinear-internal norm
            x = self.rms_norm(x, name[:-len("weight")] + "rms_norm.weight",
                              q.get("rms_norm_eps", 1e-6))
        if self.float_weights:
            return x @ self.float_w[name].T
        trits, w_scale = self.t[name]
        amax = x.abs().amax(-1, keepdim=True).clamp(min=1e-5)
        s = 127.0 / amax
        scaled = x * s
        frac = (scaled - scaled.floor() - 0.5).abs()
        self.margin = min(self.margin, float(frac.min()))
        q = scaled.round().clamp(-128, 127)
        acc = q.double() @ trits.double().T  # exact integer sums
        return (acc.float() / s) * w_scale

    def inv_freq(self):
        hd = self.hd
        inv = 1.0 / (self.theta ** (torch.arange(0, hd, 2).float() / hd))
        sc = self.scaling
        if sc and sc.get("rope_type", sc.get("type")) == "llama3":
            # Llama 3.1 (Meta's apply_scaling): long wavelengths divided by
            # the factor, short ones kept, a blend in between.
            factor, lo, hi = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
            old = sc["original_max_position_embeddings"]
            out = []
            for f in inv.tolist():
                wavelen = 2 * np.pi / f
                if wavelen < old / hi:
                    out.append(f)
                elif wavelen > old / lo:
                    out.append(f / factor)
                else:
                    a = (old / wavelen - lo) / (hi - lo)
                    out.append((1 - a) * f / factor + a * f)
            inv = torch.tensor(out, dtype=torch.float32)
        return inv

    def rope(self, x, T):
        hd = self.hd
        inv = self.inv_freq()
        ang = torch.arange(T).float()[:, None] * inv[None, :]
        cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
        sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
        x = x.view(T, -1, hd)
        rot = torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1)
        return (x * cos + rot * sin).reshape(T, -1)

    def forward(self, ids):
        """Logits [T, V] for the whole sequence; sets self.margin."""
        self.margin = 1.0
        T = len(ids)
        h = self.embed[torch.tensor(ids, dtype=torch.long)]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(self.L):
            p = f"model.layers.{l}."
            x = self.rms_norm(h, p + "input_layernorm.weight")
            q = self.rope(self.bitlinear(x, p + "self_attn.q_proj.weight"), T)
            k = self.rope(self.bitlinear(x, p + "self_attn.k_proj.weight"), T)
            v = self.bitlinear(x, p + "self_attn.v_proj.weight")
            q = q.view(T, self.H, self.hd).transpose(0, 1)
            rep = self.H // self.Hkv
            k = k.view(T, self.Hkv, self.hd).transpose(0, 1).repeat_interleave(rep, 0)
            v = v.view(T, self.Hkv, self.hd).transpose(0, 1).repeat_interleave(rep, 0)
            a = torch.softmax(q @ k.transpose(1, 2) * self.hd ** -0.5 + mask, -1)
            o = (a @ v).transpose(0, 1).reshape(T, -1)
            if self.sub_attn:
                o = self.rms_norm(o, p + self.sub_attn + ".weight")
            h = h + self.bitlinear(o, p + "self_attn.o_proj.weight")
            x = self.rms_norm(h, p + "post_attention_layernorm.weight")
            g = self.bitlinear(x, p + "mlp.gate_proj.weight")
            u = self.bitlinear(x, p + "mlp.up_proj.weight")
            m = (torch.relu(g) ** 2 if self.act == "relu2"
                 else torch.nn.functional.silu(g)) * u
            if self.sub_ffn:
                m = self.rms_norm(m, p + self.sub_ffn + ".weight")
            h = h + self.bitlinear(m, p + "mlp.down_proj.weight")
        h = self.rms_norm(h, "model.norm.weight")
        if self.head_fn is not None:
            return self.head_fn(h)
        return h @ self.head.T

    def greedy(self, prompt, n):
        """n greedy tokens, the logits of the final full sequence, its margin."""
        ids = list(prompt)
        for _ in range(n):
            ids.append(int(self.forward(ids)[-1].argmax()))
        logits = self.forward(ids[:-1] if n else ids)
        return ids[len(prompt):], logits


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--tokens", required=True, help="prompt ids, comma-separated")
    p.add_argument("-n", type=int, default=0, help="greedy tokens to generate")
    p.add_argument("--dump-logits", help="write prompt logits [T, V] as .npy")
    p.add_argument("--float-weights", action="store_true",
                   help="the float baseline (ternc --weights=bf16)")
    a = p.parse_args()
    torch.set_grad_enabled(False)
    model = Model(a.checkpoint, a.float_weights)
    prompt = [int(t) for t in a.tokens.split(",")]
    generated, _ = model.greedy(prompt, a.n)
    logits = model.forward(prompt)
    if a.dump_logits:
        np.save(a.dump_logits, logits.numpy())
    print(" ".join(map(str, generated)))
    print(f"margin {model.margin:.2e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
