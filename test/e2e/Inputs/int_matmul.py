#!/usr/bin/env python3
"""Writes a model whose logits are exactly the integer BitLinear results.

Embedding rows are integers in [-127, 127] with max |x| = 127, so the
per-token scale is 1 and the int8 activations equal the rows; the BitLinear
scales are 1; the LM head is the identity. The logits are then
acc = q . T1^T + q . T2^T as exact integers in f32, for an unpacked ternary
weight T1 and a weight T2 stored in the checkpoint packing (hf_rows), both
with odd sizes (K = 131 is not a multiple of 4). check mode compares the
executable's logits with numpy's integer matmul, bit for bit.

--k K writes (and checks) K in features instead; --ids I,J,... checks logits
of those embedding rows only (a run with --tokens I,J,...). --extreme makes
rows 0 and 1 all 127 and all -127 and the first weight rows all +1 and all
-1: the largest sums any kernel's partial sums can hold.

usage: int_matmul.py write DIR [--k K] [--extreme]
       int_matmul.py check DIR LOGITS.npy [--k K] [--ids LIST] [--extreme]
"""
import argparse
import os
import sys

import numpy as np

T, K, N = 8, 131, 68  # tokens, in features, out features (= vocab)


def blob(a):
    return "0x" + (64).to_bytes(4, "little").hex() + a.tobytes().hex()


EXTREME = False


def data():
    rng = np.random.default_rng(7)
    x = rng.integers(-127, 128, (T, K)).astype(np.int32)
    x[np.arange(T), rng.integers(0, K, T)] = 127 * rng.choice([-1, 1], T)
    t1 = rng.integers(-1, 2, (N, K)).astype(np.int8)
    t2 = rng.integers(-1, 2, (N, K)).astype(np.int8)
    if EXTREME:
        x[0], x[1] = 127, -127
        for t in (t1, t2):
            t[0], t[1] = 1, -1
    return x, t1, t2


def pack_rows(t):
    r = t.shape[0] // 4
    codes = (t + 1).astype(np.uint8)
    out = np.zeros((r, t.shape[1]), np.uint8)
    for i in range(4):
        out |= codes[i * r:(i + 1) * r] << (2 * i)
    return out


def write(d):
    x, t1, t2 = data()
    os.makedirs(d, exist_ok=True)
    packed = pack_rows(t2)
    ident = np.eye(N, dtype=np.float32)
    text = f"""module attributes {{tern.context_length = 64 : i64}} {{
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x{N}xf32> {{
    %e = tern.weight "x" = dense_resource<x> : tensor<{T}x{K}xf32> -> tensor<{T}x{K}xf32>
    %h = tern.embedding %e[%ids] : tensor<{T}x{K}xf32>, tensor<?xi32> -> tensor<?x{K}xf32>
    %w1 = tern.weight "t1" = dense_resource<t1> : tensor<{N}x{K}xi8> -> tensor<{N}x{K}x!tern.trit>
    %y1 = tern.bitlinear %h, %w1 {{scale = 1.0 : f32}} : tensor<?x{K}xf32>, tensor<{N}x{K}x!tern.trit> -> tensor<?x{N}xf32>
    %w2 = tern.weight "t2" = dense_resource<t2> : tensor<{packed.size}xi8> -> tensor<{N}x{K}x!tern.trit, #tern.packed<hf_rows>>
    %y2 = tern.bitlinear %h, %w2 {{scale = 1.0 : f32}} : tensor<?x{K}xf32>, tensor<{N}x{K}x!tern.trit, #tern.packed<hf_rows>> -> tensor<?x{N}xf32>
    %y = tern.add %y1, %y2 : tensor<?x{N}xf32>
    %i = tern.weight "identity" = dense_resource<identity> : tensor<{N}x{N}xf32> -> tensor<{N}x{N}xf32>
    %l = tern.lm_head %y, %i : tensor<?x{N}xf32>, tensor<{N}x{N}xf32> -> tensor<?x{N}xf32>
    return %l : tensor<?x{N}xf32>
  }}
}}
{{-#
  dialect_resources: {{
    builtin: {{
      x: "{blob(x.astype(np.float32))}",
      t1: "{blob(t1)}",
      t2: "{blob(packed)}",
      identity: "{blob(ident)}"
    }}
  }}
#-}}
"""
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(text)


def check(logits_path, ids=None):
    x, t1, t2 = data()
    expected = (x.astype(np.int64) @ t1.T.astype(np.int64)
                + x.astype(np.int64) @ t2.T.astype(np.int64))
    if ids is not None:
        expected = expected[ids]
    got = np.load(logits_path)
    if got.shape != expected.shape or not np.array_equal(got, expected.astype(np.float32)):
        bad = np.argwhere(got != expected)
        print(f"FAIL: {len(bad)} of {expected.size} results differ, first at {bad[:3].tolist()}")
        return 1
    print(f"OK: {expected.size} int32 dot products bit-exact (|acc| <= {np.abs(expected).max()})")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["write", "check"])
    p.add_argument("dir")
    p.add_argument("logits", nargs="?")
    p.add_argument("--k", type=int, default=K)
    p.add_argument("--ids")
    p.add_argument("--extreme", action="store_true")
    a = p.parse_args()
    K, EXTREME = a.k, a.extreme
    if a.mode == "write":
        sys.exit(write(a.dir))
    sys.exit(check(a.logits, [int(i) for i in a.ids.split(",")] if a.ids else None))
