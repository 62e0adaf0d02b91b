#!/usr/bin/env python3
"""Writes a model that is one int8 LM head, and checks its logits bit for bit.

The model embeds token t as row t of a float table X (T x K) and applies
tern.lm_head over an i8 table Q (N x K) with per-row scales S. check mode
computes the op's formula (tern.lm_head's description, Numerics.h) in numpy,
each f32 operation rounded as the kernels round it:
  qmax = min(32767, (2^31 - 1) // (127 K))
  s    = f32(qmax) / max(max|x|, 1e-5)
  xq   = clip(round_half_even(x * s), -qmax, qmax)
  out  = f32(sum xq * Q[v]) / s * S[v]
and compares every logit's bits. K = 131 leaves a tail after two 64-value
blocks; N = 70 is not a multiple of a tile. Rows mix magnitudes (one row
all zeros, one with a single huge value, one whose values fall on rounding ties).

--k K writes (and checks) K columns instead; --extreme makes row 0 all
equal (every xq = qmax) and table row 0 all 127, row 1 all -127: the
largest sums the i32 accumulators must hold (K = 4160: 2,147,092,480).

usage: int8_head.py write DIR [--k K] [--extreme]
       int8_head.py check DIR LOGITS.npy [--k K] [--ids LIST] [--extreme]
"""
import argparse
import os
import sys

import numpy as np

T, K, N = 8, 131, 70  # tokens, columns, table rows (vocabulary)
EXTREME = False


def blob(a):
    return "0x" + (64).to_bytes(4, "little").hex() + a.tobytes().hex()


def qmax():
    return min(32767, (2**31 - 1) // (127 * K))


def data():
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, (T, K)).astype(np.float32)
    x[1] = 0                      # amax floor: scale qmax / 1e-5
    x[2, 5] = 3e4                 # one value dominates the row
    x[3] = np.arange(K) % 7 - np.float32(2.5)  # ties: the row's scale is 1
    x[3, 0] = qmax()
    q = rng.integers(-127, 128, (N, K)).astype(np.int8)
    s = rng.uniform(1e-3, 2e-2, N).astype(np.float32)
    if EXTREME:
        x[0] = 0.75
        q[0], q[1] = 127, -127
    return x, q, s


def write(d):
    x, q, s = data()
    os.makedirs(d, exist_ok=True)
    text = f"""module attributes {{tern.context_length = 64 : i64}} {{
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x{N}xf32> {{
    %e = tern.weight "x" = dense_resource<x> : tensor<{T}x{K}xf32> -> tensor<{T}x{K}xf32>
    %h = tern.embedding %e[%ids] : tensor<{T}x{K}xf32>, tensor<?xi32> -> tensor<?x{K}xf32>
    %q = tern.weight "q" = dense_resource<q> : tensor<{N}x{K}xi8> -> tensor<{N}x{K}xi8>
    %s = tern.weight "s" = dense_resource<s> : tensor<{N}xf32> -> tensor<{N}xf32>
    %l = tern.lm_head %h, %q scales %s : tensor<?x{K}xf32>, tensor<{N}x{K}xi8>, tensor<{N}xf32> -> tensor<?x{N}xf32>
    return %l : tensor<?x{N}xf32>
  }}
}}
{{-#
  dialect_resources: {{
    builtin: {{
      x: "{blob(x)}",
      q: "{blob(q)}",
      s: "{blob(s)}"
    }}
  }}
#-}}
"""
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(text)


def expected():
    x, q, s = data()
    f32 = np.float32
    amax = np.maximum(np.abs(x).max(axis=1), f32(1e-5))
    xs = (f32(qmax()) / amax).astype(f32)
    xq = np.clip(np.rint(x * xs[:, None]), -qmax(), qmax()).astype(np.int64)
    acc = xq @ q.T.astype(np.int64)
    assert np.abs(acc).max() < 2**31, "the formula's bound"
    out = (acc.astype(f32) / xs[:, None]).astype(f32) * s[None, :]
    return out.astype(f32), int(np.abs(acc).max())


def check(logits_path, ids=None):
    want, largest = expected()
    if ids is not None:
        want = want[ids]
    got = np.load(logits_path)
    if got.shape != want.shape or not np.array_equal(
            got.view(np.uint32), want.view(np.uint32)):
        bad = np.argwhere(got != want) if got.shape == want.shape else []
        print(f"FAIL: {len(bad)} of {want.size} logits differ, first at "
              f"{[list(map(int, b)) for b in bad[:3]]}")
        return 1
    print(f"OK: {want.size} int8-head logits bit-exact (|acc| <= {largest})")
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
    sys.exit(check(a.logits,
                   [int(i) for i in a.ids.split(",")] if a.ids else None))
