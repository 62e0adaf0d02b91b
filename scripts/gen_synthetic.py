#!/usr/bin/env python3
"""Writes a small synthetic ternary language model as tern IR (.mlir).

The model is BitNet-shaped but attention-free (embedding, then per layer an
RMSNorm + relu2 GLU feed-forward of BitLinear layers with a sub-norm and a
residual, then a final norm and the tied LM head), with seeded random latent
weights ~N(0, 0.02) kept away from the absmean rounding boundary (SPEC 5.8)
and norm weights near 1. Weights go into resource blobs, as the frontends do.
--npz also saves them for the numpy reference (scripts/reference_mlp.py).
"""
import argparse
import sys

import numpy as np


def away_from_boundary(w):
    """Nudges latent weights so that no |w|/mean|w| is near 0.5 (SPEC 5.8)."""
    for _ in range(8):
        m = max(np.abs(w).mean(dtype=np.float64), 1e-5)
        r = np.abs(w) / m
        near = np.abs(r - 0.5) < 0.06
        if not near.any():
            return w
        w[near] = np.sign(w[near]) * m * np.where(r[near] < 0.5, 0.4, 0.6)
    return w


def blob_hex(array):
    # Resource blob text: 4-byte little-endian alignment, then the raw bytes.
    return "0x" + (64).to_bytes(4, "little").hex() + array.tobytes().hex()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-o", "--output", required=True, help="output .mlir file")
    p.add_argument("--npz", help="also save the weights here")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--intermediate", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--eps", type=float, default=1e-5)
    p.add_argument("--embed-std", type=float, default=1.0,
                   help="standard deviation of the embedding table")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    V, D, F, L = a.vocab, a.hidden, a.intermediate, a.layers

    weights = {"model.embed_tokens.weight": rng.normal(0, a.embed_std, (V, D))}
    for l in range(L):
        pre = f"model.layers.{l}."
        weights[pre + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.05, D)
        weights[pre + "mlp.gate_proj.weight"] = away_from_boundary(rng.normal(0, 0.02, (F, D)))
        weights[pre + "mlp.up_proj.weight"] = away_from_boundary(rng.normal(0, 0.02, (F, D)))
        weights[pre + "mlp.ffn_sub_norm.weight"] = 1 + rng.normal(0, 0.05, F)
        weights[pre + "mlp.down_proj.weight"] = away_from_boundary(rng.normal(0, 0.02, (D, F)))
    weights["model.norm.weight"] = 1 + rng.normal(0, 0.05, D)
    weights = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}

    blobs = {}
    lines = []
    emit = lines.append

    def weight(name):
        key = "w%d" % len(blobs)
        blobs[key] = weights[name]
        shape = "x".join(map(str, weights[name].shape))
        t = f"tensor<{shape}xf32>"
        v = f"%{key}"
        emit(f'    {v} = tern.weight "{name}" = dense_resource<{key}> : {t} -> {t}')
        return v

    act = lambda n: f"tensor<?x{n}xf32>"
    eps = f"{np.float32(a.eps):.6e}"
    emit(f"module attributes {{tern.context_length = {a.context} : i64}} {{")
    emit(f"  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> {act(V)} {{")
    emb = weight("model.embed_tokens.weight")
    emit(f"    %h0 = tern.embedding {emb}[%ids] : tensor<{V}x{D}xf32>, tensor<?xi32> -> {act(D)}")
    h = "%h0"
    for l in range(L):
        pre = f"model.layers.{l}."
        g = weight(pre + "post_attention_layernorm.weight")
        emit(f"    %x{l} = tern.rms_norm {h}, {g} {{epsilon = {eps} : f32}} : {act(D)}, tensor<{D}xf32>")
        wg = weight(pre + "mlp.gate_proj.weight")
        wu = weight(pre + "mlp.up_proj.weight")
        emit(f"    %gate{l} = tern.bitlinear %x{l}, {wg} : {act(D)}, tensor<{F}x{D}xf32> -> {act(F)}")
        emit(f"    %up{l} = tern.bitlinear %x{l}, {wu} : {act(D)}, tensor<{F}x{D}xf32> -> {act(F)}")
        emit(f"    %m{l} = tern.glu %gate{l}, %up{l} {{activation = #tern.activation<relu2>}} : {act(F)}")
        gs = weight(pre + "mlp.ffn_sub_norm.weight")
        emit(f"    %n{l} = tern.rms_norm %m{l}, {gs} {{epsilon = {eps} : f32}} : {act(F)}, tensor<{F}xf32>")
        wd = weight(pre + "mlp.down_proj.weight")
        emit(f"    %y{l} = tern.bitlinear %n{l}, {wd} : {act(F)}, tensor<{D}x{F}xf32> -> {act(D)}")
        emit(f"    %h{l + 1} = tern.add {h}, %y{l} : {act(D)}")
        h = f"%h{l + 1}"
    gn = weight("model.norm.weight")
    emit(f"    %final = tern.rms_norm {h}, {gn} {{epsilon = {eps} : f32}} : {act(D)}, tensor<{D}xf32>")
    emit(f"    %logits = tern.lm_head %final, {emb} : {act(D)}, tensor<{V}x{D}xf32> -> {act(V)}")
    emit(f"    return %logits : {act(V)}")
    emit("  }")
    emit("}")
    emit("{-#")
    emit("  dialect_resources: {")
    emit("    builtin: {")
    items = list(blobs.items())
    for i, (key, arr) in enumerate(items):
        emit(f'      {key}: "{blob_hex(arr)}"' + ("," if i + 1 < len(items) else ""))
    emit("    }")
    emit("  }")
    emit("#-}")
    with open(a.output, "w") as f:
        f.write("\n".join(lines) + "\n")
    if a.npz:
        np.savez(a.npz, eps=np.float32(a.eps), layers=L, **weights)
    return 0


if __name__ == "__main__":
    sys.exit(main())
