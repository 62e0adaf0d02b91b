#!/usr/bin/env python3
"""Independent numpy reference for the models of gen_synthetic.py.

Implements SPEC 2.1 (absmean weights), 2.2 (per-token absmax int8
activations) and 2.3 (int32 dot products, scales applied in fp32 afterwards)
directly from the saved latent weights, then compares with the logits and
greedy tokens an executable compiled by ternc wrote.
"""
import argparse
import sys

import numpy as np

f32 = np.float32


def rms_norm(x, g, eps):
    # Sequential fp32 sum, as the generated kernel accumulates.
    ss = np.cumsum(x * x, axis=-1, dtype=f32)[:, -1]
    inv = f32(1) / np.sqrt(ss / f32(x.shape[1]) + f32(eps))
    return (x * inv[:, None]) * g


def act_quant(x):
    amax = np.maximum(np.abs(x).max(axis=1), f32(1e-5))
    s = f32(127) / amax
    q = np.clip(np.rint(x * s[:, None]), -128, 127).astype(np.int32)
    return q, s


def weight_quant(w):
    m = max(f32(np.abs(w.astype(np.float64)).mean()), f32(1e-5))
    t = np.clip(np.rint(w * (f32(1) / m)), -1, 1).astype(np.int32)
    return t, m


def bitlinear(x, w):
    q, s = act_quant(x)
    t, m = weight_quant(w)
    acc = q @ t.T  # int32, exact
    return (acc.astype(f32) / s[:, None]) * m


def forward(wts, ids):
    eps, layers = float(wts["eps"]), int(wts["layers"])
    emb = wts["model.embed_tokens.weight"]
    h = emb[ids]
    for l in range(layers):
        p = f"model.layers.{l}."
        x = rms_norm(h, wts[p + "post_attention_layernorm.weight"], eps)
        gate = bitlinear(x, wts[p + "mlp.gate_proj.weight"])
        up = bitlinear(x, wts[p + "mlp.up_proj.weight"])
        m = np.maximum(gate, f32(0)) ** 2 * up
        m = rms_norm(m, wts[p + "mlp.ffn_sub_norm.weight"], eps)
        h = h + bitlinear(m, wts[p + "mlp.down_proj.weight"])
    h = rms_norm(h, wts["model.norm.weight"], eps)
    return h @ emb.T


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("weights", help=".npz written by gen_synthetic.py --npz")
    p.add_argument("--tokens", required=True, help="prompt ids, comma-separated")
    p.add_argument("--logits", required=True, help=".npy from --dump-logits")
    p.add_argument("--generated", help="file from --dump-tokens (greedy run)")
    p.add_argument("--rtol", type=float, default=1e-3,
                   help="tolerance as a fraction of the logit range")
    a = p.parse_args()
    wts = np.load(a.weights)
    ids = np.array([int(t) for t in a.tokens.split(",")])
    ref = forward(wts, ids)
    got = np.load(a.logits)
    if got.shape != ref.shape:
        print(f"FAIL: logits shape {got.shape}, reference {ref.shape}")
        return 1
    span = float(ref.max() - ref.min())
    err = float(np.abs(got - ref).max())
    print(f"max |logit - reference| = {err:.3e} ({err / span:.2e} of range {span:.3f})")
    ok = err <= a.rtol * span
    if not (got.argmax(1) == ref.argmax(1)).all():
        print("FAIL: argmax differs at positions",
              np.nonzero(got.argmax(1) != ref.argmax(1))[0].tolist())
        ok = False
    if a.generated:
        gen = [int(l) for l in open(a.generated).read().split()]
        seq = list(ids)
        for _ in gen:  # greedy, attention-free: each step sees all tokens
            seq.append(int(forward(wts, np.array(seq))[-1].argmax()))
        want = seq[len(ids):]
        print(f"greedy tokens: {gen}")
        if gen != want:
            print(f"FAIL: reference greedy tokens {want}")
            ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
