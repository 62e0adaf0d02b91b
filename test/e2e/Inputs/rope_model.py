"""Writes, or checks the logits of, a model that is embedding -> rope -> lm_head.

Usage: rope_model.py write OUT.mlir STYLE
       rope_model.py check LOGITS.npy STYLE N
The numpy reference follows SPEC 4: inv_freq[i] = 1 / theta^(2i/D) in f32,
half_split pairs i with i + D/2, interleaved pairs 2i with 2i + 1.
"""
import sys

import numpy as np

V, D, HEAD, THETA = 16, 8, 4, 10000.0
rng = np.random.default_rng(5)
E = rng.normal(0, 1, (V, D)).astype(np.float32)


def rope(x, pos, style):
    out = x.copy()
    half = HEAD // 2
    i = np.arange(half, dtype=np.float32)
    inv = np.float32(1) / np.power(np.float32(THETA), (2 * i) / np.float32(HEAD))
    for t, p in enumerate(pos):
        ang = np.float32(p) * inv
        c, s = np.cos(ang), np.sin(ang)
        for h in range(D // HEAD):
            base = h * HEAD
            ia = base + (i.astype(int) if style == "half_split" else 2 * i.astype(int))
            ib = ia + (half if style == "half_split" else 1)
            a, b = x[t, ia], x[t, ib]
            out[t, ia] = a * c - b * s
            out[t, ib] = b * c + a * s
    return out


def main():
    mode, path, style = sys.argv[1:4]
    if mode == "write":
        blob = "0x" + (64).to_bytes(4, "little").hex() + E.tobytes().hex()
        t = f"tensor<{V}x{D}xf32>"
        with open(path, "w") as f:
            f.write(f"""func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x{V}xf32> {{
  %e = tern.weight "embed" = dense_resource<e> : {t} -> {t}
  %h = tern.embedding %e[%ids] : {t}, tensor<?xi32> -> tensor<?x{D}xf32>
  %r = tern.rope %h, %pos {{head_dim = {HEAD} : i64, style = #tern.rope_style<{style}>, theta = {THETA} : f32}} : tensor<?x{D}xf32>, tensor<?xi32>
  %l = tern.lm_head %r, %e : tensor<?x{D}xf32>, {t} -> tensor<?x{V}xf32>
  return %l : tensor<?x{V}xf32>
}}
{{-#
  dialect_resources: {{ builtin: {{ e: "{blob}" }} }}
#-}}
""")
        return 0
    n = int(sys.argv[4])
    ids = np.arange(1, n + 1)
    ref = rope(E[ids], np.arange(n), style) @ E.T
    got = np.load(path)
    err = float(np.abs(got - ref).max())
    print(f"{style}: max |logit - reference| = {err:.2e}")
    print("PASS" if err <= 1e-4 * float(np.abs(ref).max()) else "FAIL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
