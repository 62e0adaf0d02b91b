#!/usr/bin/env python3
"""Trains a tiny BitNet b1.58 language model from scratch on the fortunes
that Debian's `fortunes` package ships, and exports it as a Hugging Face
checkpoint in the microsoft/bitnet-b1.58-2B-4T layout (packed ternary
weights, bf16 embedding and norms) with its tokenizer.

The model is the 2B4T block (RMSNorm before every BitLinear, GQA, half-split
RoPE, attention and FFN sub-norms, relu2 GLU, tied embedding). BitLinear is
trained the BitNet way: absmean ternary weights and per-token absmax int8
activations, both fake-quantized with the straight-through estimator, and
phased in (quantized = x + lam * (q(x) - x), lam rising from 0 to 1) so that
the first steps train a float model. AdamW, warm-up then cosine decay.

usage: train.py --out DIR [--steps N] [--threads T]
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from gen_checkpoint import Tensor, pack_rows, to_bf16, write_safetensors  # noqa: E402

FORTUNES = "/usr/share/games/fortunes"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
                  r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
                  r"\s+(?!\S)|\s+")
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
CONFIG = dict(vocab=2048, hidden=256, intermediate=512, layers=4, heads=4,
              kv_heads=2, context=256, theta=10000.0, eps=1e-5)


def read_fortunes():
    """Every fortune of the package's English files, in a fixed order."""
    texts = []
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if "." in name or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for item in f.read().split("\n%\n"):
                item = item.strip("\n%")
                if item.strip():
                    texts.append(item)
    texts = sorted(set(texts))
    random.Random(0).shuffle(texts)
    return texts


def train_tokenizer(texts, out):
    from tokenizers import Regex, Tokenizer, decoders, models, \
        pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=CONFIG["vocab"], special_tokens=[BOS, EOS],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.TemplateProcessing(
        single=BOS + " $A", special_tokens=[(BOS, tok.token_to_id(BOS))])
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": BOS, "eos_token": EOS}, f, indent=1)
    return tok


class BitLinear(torch.nn.Linear):
    lam = 1.0  # quantization phase-in, shared by every layer

    def forward(self, x):
        lam = BitLinear.lam
        s = 127.0 / x.abs().amax(-1, keepdim=True).clamp(min=1e-5)
        xq = (x * s).round().clamp(-128, 127) / s
        x = x + lam * (xq - x).detach()
        w = self.weight
        m = w.abs().mean().clamp(min=1e-5)
        wq = (w / m).round().clamp(-1, 1) * m
        w = w + lam * (wq - w).detach()
        return F.linear(x, w)


class RMSNorm(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) +
                               CONFIG["eps"]) * self.weight


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        D, H, Hkv, Fi = c["hidden"], c["heads"], c["kv_heads"], c["intermediate"]
        hd = D // H
        self.H, self.Hkv, self.hd = H, Hkv, hd
        self.input_layernorm = RMSNorm(D)
        self.q_proj = BitLinear(D, H * hd, bias=False)
        self.k_proj = BitLinear(D, Hkv * hd, bias=False)
        self.v_proj = BitLinear(D, Hkv * hd, bias=False)
        self.attn_sub_norm = RMSNorm(D)
        self.o_proj = BitLinear(H * hd, D, bias=False)
        self.post_attention_layernorm = RMSNorm(D)
        self.gate_proj = BitLinear(D, Fi, bias=False)
        self.up_proj = BitLinear(D, Fi, bias=False)
        self.ffn_sub_norm = RMSNorm(Fi)
        self.down_proj = BitLinear(Fi, D, bias=False)

    def forward(self, h, cos, sin):
        B, T, _ = h.shape

        def rope(x, heads):
            x = x.view(B, T, heads, self.hd)
            half = self.hd // 2
            rot = torch.cat([-x[..., half:], x[..., :half]], -1)
            return (x * cos + rot * sin).transpose(1, 2)

        x = self.input_layernorm(h)
        q = rope(self.q_proj(x), self.H)
        k = rope(self.k_proj(x), self.Hkv)
        v = self.v_proj(x).view(B, T, self.Hkv, self.hd).transpose(1, 2)
        # GQA as HF's repeat_kv (expand + reshape; repeat_interleave would
        # export to ONNX as a Loop).
        rep = self.H // self.Hkv
        k = k[:, :, None].expand(B, self.Hkv, rep, T, self.hd).reshape(B, self.H, T, self.hd)
        v = v[:, :, None].expand(B, self.Hkv, rep, T, self.hd).reshape(B, self.H, T, self.hd)
        a = q @ k.transpose(-1, -2) * self.hd ** -0.5
        a = a.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        o = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        h = h + self.o_proj(self.attn_sub_norm(o))
        x = self.post_attention_layernorm(h)
        m = torch.relu(self.gate_proj(x)) ** 2 * self.up_proj(x)
        return h + self.down_proj(self.ffn_sub_norm(m))


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = torch.nn.Embedding(c["vocab"], c["hidden"])
        torch.nn.init.normal_(self.embed.weight, std=0.02)
        self.layers = torch.nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["hidden"])
        hd = c["hidden"] // c["heads"]
        inv = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.arange(c["context"]).float()[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cat([ang.cos()] * 2, -1)[:, None, :])
        self.register_buffer("sin", torch.cat([ang.sin()] * 2, -1)[:, None, :])

    def forward(self, ids):
        T = ids.shape[1]
        h = self.embed(ids)
        for layer in self.layers:
            h = layer(h, self.cos[:T], self.sin[:T])
        return self.norm(h) @ self.embed.weight.T


def batches(stream, batch, seq, rng):
    while True:
        starts = rng.integers(0, len(stream) - seq - 1, batch)
        x = np.stack([stream[s:s + seq + 1] for s in starts])
        yield torch.from_numpy(x[:, :-1]).long(), torch.from_numpy(x[:, 1:]).long()


@torch.no_grad()
def evaluate(model, stream, seq):
    """Perplexity over the whole stream in windows of `seq` tokens."""
    model.eval()
    nll, count = 0.0, 0
    for s in range(0, len(stream) - 1, seq):
        x = torch.from_numpy(stream[s:s + seq + 1]).long()[None]
        if x.shape[1] < 2:
            break
        logits = model(x[:, :-1])
        nll += F.cross_entropy(logits[0], x[0, 1:], reduction="sum").item()
        count += x.shape[1] - 1
    model.train()
    return math.exp(nll / count)


def export(model, out):
    """The 2B4T checkpoint layout: packed trits and weight_scale (the
    autobitlinear convention: multiply), bf16 embedding and norms."""
    c = CONFIG
    tensors = {"model.embed_tokens.weight": Tensor("BF16", to_bf16(model.embed.weight.detach().numpy()))}
    for i, layer in enumerate(model.layers):
        p = f"model.layers.{i}."
        for name, mod in layer.named_children():
            if isinstance(mod, RMSNorm):
                full = {"attn_sub_norm": "self_attn.attn_sub_norm",
                        "ffn_sub_norm": "mlp.ffn_sub_norm"}.get(name, name)
                tensors[p + full + ".weight"] = Tensor("BF16", to_bf16(mod.weight.detach().numpy()))
            else:
                full = ("self_attn." if name[0] in "qkvo" else "mlp.") + name
                w = mod.weight.detach()
                m = w.abs().mean().clamp(min=1e-5)
                trits = (w / m).round().clamp(-1, 1).numpy().astype(np.int8)
                tensors[p + full + ".weight"] = Tensor("U8", pack_rows(trits))
                tensors[p + full + ".weight_scale"] = Tensor("BF16", to_bf16([float(m)]))
    tensors["model.norm.weight"] = Tensor("BF16", to_bf16(model.norm.weight.detach().numpy()))
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    config = {
        "architectures": ["BitNetForCausalLM"], "model_type": "bitnet",
        "hidden_size": c["hidden"], "intermediate_size": c["intermediate"],
        "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
        "num_key_value_heads": c["kv_heads"], "vocab_size": c["vocab"],
        "max_position_embeddings": c["context"], "rms_norm_eps": c["eps"],
        "rope_theta": c["theta"], "hidden_act": "relu2",
        "tie_word_embeddings": True, "bos_token_id": 0, "eos_token_id": 1,
        "torch_dtype": "bfloat16",
        "quantization_config": {"quant_method": "bitnet",
                                "linear_class": "autobitlinear",
                                "quantization_mode": "offline"}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)

    texts = read_fortunes()
    n_val = len(texts) // 20
    tok = train_tokenizer(texts[n_val:], a.out)
    eos = tok.token_to_id(EOS)

    def stream(items):
        ids = []
        for e in tok.encode_batch(items):
            ids += e.ids + [eos]
        return np.array(ids, dtype=np.int32)

    train, val = stream(texts[n_val:]), stream(texts[:n_val])
    with open(os.path.join(a.out, "heldout.txt"), "w") as f:
        f.write("\n%\n".join(texts[:16]) + "\n")
    print(f"corpus: {len(texts)} fortunes, {len(train)} train and {len(val)} "
          f"validation tokens", flush=True)

    model = Model(CONFIG)
    params = sum(x.numel() for x in model.parameters())
    decay = [x for n, x in model.named_parameters() if x.dim() == 2]
    other = [x for n, x in model.named_parameters() if x.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    warmup = a.steps // 20
    data = batches(train, a.batch, a.seq, np.random.default_rng(0))
    log, start = [], time.time()
    for step in range(a.steps):
        # Learning rate: warm-up, then cosine to a tenth. Quantization: off
        # for the first 10% of steps, phased in linearly by 40%.
        lr = a.lr * (step + 1) / warmup if step < warmup else a.lr * (
            0.1 + 0.45 * (1 + math.cos(math.pi * (step - warmup) / (a.steps - warmup))))
        BitLinear.lam = min(1.0, max(0.0, (step / a.steps - 0.1) / 0.3))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = next(data)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == a.steps - 1:
            log.append({"step": step, "loss": round(loss.item(), 4),
                        "lam": round(BitLinear.lam, 3),
                        "seconds": round(time.time() - start, 1)})
            print(json.dumps(log[-1]), flush=True)
    BitLinear.lam = 1.0
    ppl = evaluate(model, val, a.seq)
    print(f"validation perplexity (ternary): {ppl:.3f}", flush=True)
    export(model, a.out)
    with open(os.path.join(a.out, "training.json"), "w") as f:
        json.dump({"command": " ".join(sys.argv), "parameters": params,
                   "config": CONFIG, "steps": a.steps, "batch": a.batch,
                   "seq": a.seq, "lr": a.lr, "threads": a.threads,
                   "train_tokens": int(len(train)),
                   "validation_tokens": int(len(val)),
                   "validation_perplexity": round(ppl, 3),
                   "seconds": round(time.time() - start, 1), "log": log},
                  f, indent=1)


if __name__ == "__main__":
    main()
