#!/usr/bin/env python3
"""Writes a synthetic BitNet b1.58 checkpoint in a real Hugging Face layout.

Layouts (SPEC.md section 6):
  2b4t       microsoft/bitnet-b1.58-2B-4T: uint8 weights packed along the output
             axis in four row blocks, a bf16 weight_scale per projection,
             bf16 embeddings and norms, relu2, GQA, rope theta 500000.
  2b4t-bf16  microsoft/bitnet-b1.58-2B-4T-bf16: the same model with bf16
             latent weights (absmean-quantized by the compiler).
  1bitllm    1bitLLM/bitnet_b1_58-*: BitnetForCausalLM, model_type llama, fp16
             latent weights, SiLU, full MHA, sub-norms inner_attn_ln /
             ffn_layernorm, rope theta 10000.
  llama      the Llama-architecture BitNets (tiiuae/Falcon3-*-1.58bit,
             tiiuae/Falcon-E-*, HF1BitLLM/Llama3-8B-1.58-*): LlamaForCausalLM
             with quantization_config quant_method "bitnet", no sub-norms,
             SiLU, GQA, head_dim from the config, an untied bf16 lm_head,
             uint8 weights packed as 2B4T's with a bf16 weight_scale
             (--linear-class bitlinear divides, as Falcon3's; autobitlinear
             multiplies, as Falcon-E's), or bf16 latent weights with
             --quantization-mode online. --rope-scaling llama3 adds Llama
             3.1's rope_scaling.

Latent weights are seeded N(0, 0.02) (--weight-std) and kept away from the absmean rounding
boundary (SPEC 5.8); norm weights are near 1. --shards N > 1 writes
model-0000i-of-0000N.safetensors files plus model.safetensors.index.json.
--real-2b4t-shape gives the full 2B4T configuration for benchmarks;
--real-shape NAME the configuration of a published model (REAL_SHAPES).
"""
import argparse
import json
import os
import sys

import numpy as np

LAYOUTS = ("2b4t", "2b4t-bf16", "1bitllm", "llama")

# Published configurations (their config.json files), for --real-shape.
REAL_SHAPES = {
    "2b4t": dict(layout="2b4t", hidden=2560, intermediate=6912, layers=30,
                 heads=20, kv_heads=5, head_dim=None, vocab=128256,
                 context=4096, theta=500000.0),
    "falcon3-1b": dict(layout="llama", hidden=2048, intermediate=8192,
                       layers=18, heads=8, kv_heads=4, head_dim=256,
                       vocab=131072, context=8192, theta=1000042.0),
    "falcon3-3b": dict(layout="llama", hidden=3072, intermediate=9216,
                       layers=22, heads=12, kv_heads=4, head_dim=256,
                       vocab=131072, context=32768, theta=1000042.0),
    "falcon3-7b": dict(layout="llama", hidden=3072, intermediate=23040,
                       layers=28, heads=12, kv_heads=4, head_dim=256,
                       vocab=131072, context=32768, theta=1000042.0),
    "falcon3-10b": dict(layout="llama", hidden=3072, intermediate=23040,
                        layers=40, heads=12, kv_heads=4, head_dim=256,
                        vocab=131072, context=32768, theta=1000042.0),
    "llama3-8b": dict(layout="llama", hidden=4096, intermediate=14336,
                      layers=32, heads=32, kv_heads=8, head_dim=None,
                      vocab=128256, context=8192, theta=500000.0),
}


def to_bf16(x):
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    u = u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))
    return (u >> np.uint32(16)).astype(np.uint16)


def from_bf16(u):
    return (u.astype(np.uint32) << np.uint32(16)).view(np.float32)


def away_from_boundary(w, store, load):
    """Latent weights whose stored value has no |w|/mean|w| near 0.5."""
    for _ in range(8):
        s = store(w)
        v = load(s).astype(np.float32)
        m = max(float(np.abs(v).mean(dtype=np.float64)), 1e-5)
        r = np.abs(v) / m
        near = np.abs(r - 0.5) < 0.06
        if not near.any():
            return s
        w = v.copy()
        w[near] = np.sign(v[near]) * m * np.where(r[near] < 0.5, 0.4, 0.6)
    return store(w)


def random_trits(rng, shape):
    """Ternary values with the frequencies absmean gives a Gaussian."""
    u = rng.random(shape, dtype=np.float32)
    return np.where(u < 0.345, -1, np.where(u < 0.655, 0, 1)).astype(np.int8)


def pack_rows(trits):
    """HF pack_weights: 4 codes per byte along dim 0, row blocks of N/4."""
    n = trits.shape[0]
    assert n % 4 == 0, "packed weights need out_features divisible by 4"
    r = n // 4
    codes = (trits + 1).astype(np.uint8)
    packed = np.zeros((r,) + trits.shape[1:], dtype=np.uint8)
    for i in range(4):
        packed |= codes[i * r:(i + 1) * r] << np.uint8(2 * i)
    return packed


class Tensor:
    def __init__(self, dtype, array):
        self.dtype, self.array = dtype, np.ascontiguousarray(array)


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, t in tensors.items():
        size = t.array.nbytes
        header[name] = {"dtype": t.dtype, "shape": list(t.array.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for t in tensors.values():
            f.write(t.array.tobytes())


def config_for(a):
    D, H = a.hidden, a.heads
    common = {
        "hidden_size": D, "intermediate_size": a.intermediate,
        "num_hidden_layers": a.layers, "num_attention_heads": H,
        "vocab_size": a.vocab, "rms_norm_eps": 1e-5,
        "max_position_embeddings": a.context, "tie_word_embeddings": not a.untied,
        "bos_token_id": 1, "eos_token_id": 2,
    }
    if a.layout == "1bitllm":
        return dict(common, architectures=["BitnetForCausalLM"],
                    model_type="llama", hidden_act="silu",
                    num_key_value_heads=H, rope_theta=a.theta or 10000.0,
                    torch_dtype="float16", weight_bits=1, input_bits=8)
    if a.layout == "llama":
        quant = {"quant_method": "bitnet", "modules_to_not_convert": None}
        if a.linear_class == "autobitlinear" or a.quantization_mode == "online":
            quant.update(linear_class="autobitlinear",
                         quantization_mode=a.quantization_mode)
        if a.use_rms_norm:
            quant.update(use_rms_norm=True, rms_norm_eps=1e-6)
        cfg = dict(common, architectures=["LlamaForCausalLM"],
                   model_type="llama", hidden_act="silu",
                   num_key_value_heads=a.kv_heads,
                   head_dim=a.head_dim or D // H,
                   rope_theta=a.theta or 1000042.0, rope_scaling=None,
                   attention_bias=False, mlp_bias=False, pretraining_tp=1,
                   torch_dtype="bfloat16", quantization_config=quant)
        if a.rope_scaling == "llama3":
            cfg["rope_scaling"] = {
                "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": max(a.context // 4, 8)}
        return cfg
    cfg = dict(common, architectures=["BitNetForCausalLM"], model_type="bitnet",
               hidden_act=a.act or "relu2", num_key_value_heads=a.kv_heads,
               rope_theta=a.theta or 500000.0, torch_dtype="bfloat16")
    if a.layout == "2b4t":
        cfg["quantization_config"] = {
            "quant_method": "bitnet", "linear_class": a.linear_class,
            "quantization_mode": "offline"}
    return cfg


def generate(a):
    rng = np.random.default_rng(a.seed)
    D, F, L, V = a.hidden, a.intermediate, a.layers, a.vocab
    H = a.heads
    Hkv = H if a.layout == "1bitllm" else a.kv_heads
    hd = a.head_dim or D // H
    half = a.layout == "1bitllm"
    packed = a.layout == "2b4t" or (a.layout == "llama" and
                                    a.quantization_mode == "offline")
    fdt, store = ("F16", lambda x: np.asarray(x, np.float16)) if half else \
        ("BF16", to_bf16)
    load = (lambda s: s.astype(np.float32)) if half else from_bf16

    def floats(array):
        return Tensor(fdt, store(array))

    def linear(name, n, k):
        out = linear_weights(name, n, k)
        if a.use_rms_norm:
            out[name + ".rms_norm.weight"] = floats(1 + rng.normal(0, 0.05, k))
        return out

    def linear_weights(name, n, k):
        if packed:
            trits = random_trits(rng, (n, k))
            scale = np.float32(a.weight_std * 0.798 * (1 + rng.normal(0, 0.05)))
            if a.linear_class == "bitlinear":
                scale = np.float32(1) / scale
            weight = (Tensor("I8", trits) if a.dtype == "I8"
                      else Tensor("U8", pack_rows(trits)))
            return {name + ".weight": weight,
                    name + ".weight_scale": Tensor("BF16", to_bf16([scale]))}
        w = rng.normal(0, a.weight_std, (n, k)).astype(np.float32)
        if a.dtype == "F32":
            f32 = lambda x: np.asarray(x, np.float32)
            return {name + ".weight": Tensor("F32", away_from_boundary(w, f32, f32))}
        return {name + ".weight": Tensor(fdt, away_from_boundary(w, store, load))}

    sub_attn = "self_attn.inner_attn_ln" if half else "self_attn.attn_sub_norm"
    sub_ffn = "mlp.ffn_layernorm" if half else "mlp.ffn_sub_norm"
    if a.layout == "llama":
        sub_attn = sub_ffn = None
    tensors = {"model.embed_tokens.weight":
               floats(rng.normal(0, a.embed_std, (V, D)).astype(np.float32))}
    for l in range(L):
        pre = f"model.layers.{l}."
        tensors[pre + "input_layernorm.weight"] = floats(1 + rng.normal(0, 0.05, D))
        tensors.update(linear(pre + "self_attn.q_proj", H * hd, D))
        tensors.update(linear(pre + "self_attn.k_proj", Hkv * hd, D))
        tensors.update(linear(pre + "self_attn.v_proj", Hkv * hd, D))
        if sub_attn:
            tensors[pre + sub_attn + ".weight"] = floats(1 + rng.normal(0, 0.05, H * hd))
        tensors.update(linear(pre + "self_attn.o_proj", D, H * hd))
        tensors[pre + "post_attention_layernorm.weight"] = floats(1 + rng.normal(0, 0.05, D))
        tensors.update(linear(pre + "mlp.gate_proj", F, D))
        tensors.update(linear(pre + "mlp.up_proj", F, D))
        if sub_ffn:
            tensors[pre + sub_ffn + ".weight"] = floats(1 + rng.normal(0, 0.05, F))
        tensors.update(linear(pre + "mlp.down_proj", D, F))
    tensors["model.norm.weight"] = floats(1 + rng.normal(0, 0.05, D))
    if a.untied:
        tensors["lm_head.weight"] = floats(rng.normal(0, a.embed_std, (V, D)))
    return tensors


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True, help="checkpoint directory")
    p.add_argument("--layout", choices=LAYOUTS, default="2b4t")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--intermediate", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--head-dim", type=int,
                   help="head_dim (default hidden / heads; Falcon3: 256)")
    p.add_argument("--quantization-mode", choices=("offline", "online"),
                   default="offline",
                   help="llama: packed ternary weights, or bf16 latent ones")
    p.add_argument("--rope-scaling", choices=("llama3",),
                   help="llama: add Llama 3.1's rope_scaling")
    p.add_argument("--act", choices=("relu2", "silu"),
                   help="2b4t: hidden_act (default relu2; llama.cpp's "
                        "`bitnet` GGUF architecture is SiLU)")
    p.add_argument("--use-rms-norm", action="store_true",
                   help="llama: quantization_config use_rms_norm (an RMSNorm "
                        "inside every BitLinear, gain <module>.rms_norm.weight)")
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--theta", type=float, help="rope theta (default: the layout's)")
    p.add_argument("--linear-class", choices=("autobitlinear", "bitlinear"),
                   help="weight_scale multiplies or divides (default: "
                        "autobitlinear for 2b4t, as 2B4T's; bitlinear for "
                        "llama, as Falcon3's)")
    p.add_argument("--embed-std", type=float, default=1.0)
    p.add_argument("--weight-std", type=float, default=0.02,
                   help="standard deviation of the latent linear weights")
    p.add_argument("--dtype", choices=("I8", "F32"),
                   help="store linear weights as I8 trits (2b4t) or F32 latent "
                        "(2b4t-bf16, 1bitllm) instead of the layout's dtype")
    p.add_argument("--untied", action="store_true",
                   help="a separate lm_head.weight (tie_word_embeddings false)")
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--real-2b4t-shape", action="store_true",
                   help="the same as --real-shape 2b4t")
    p.add_argument("--real-shape", choices=sorted(REAL_SHAPES),
                   help="the configuration of a published model (its layout, "
                        "sizes, heads, vocabulary, context and rope theta)")
    a = p.parse_args()
    if a.real_2b4t_shape:
        a.real_shape = "2b4t"
    if not a.linear_class:
        a.linear_class = "bitlinear" if a.layout == "llama" else "autobitlinear"
    if a.real_shape:
        for key, value in REAL_SHAPES[a.real_shape].items():
            setattr(a, key, value)
        a.embed_std = 0.02
        a.untied = a.untied or a.layout == "llama"
    if a.dtype and (a.dtype == "I8") != (a.layout == "2b4t"):
        p.error(f"--dtype {a.dtype} does not apply to layout {a.layout}")

    tensors = generate(a)
    os.makedirs(a.output, exist_ok=True)
    with open(os.path.join(a.output, "config.json"), "w") as f:
        json.dump(config_for(a), f, indent=2)
    if a.shards <= 1:
        write_safetensors(os.path.join(a.output, "model.safetensors"), tensors)
        return
    names = list(tensors)
    per = -(-len(names) // a.shards)
    weight_map = {}
    for i in range(a.shards):
        file = f"model-{i + 1:05d}-of-{a.shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[i * per:(i + 1) * per]}
        write_safetensors(os.path.join(a.output, file), part)
        weight_map.update({n: file for n in part})
    with open(os.path.join(a.output, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
