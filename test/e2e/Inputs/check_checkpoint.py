#!/usr/bin/env python3
"""Compiles a synthetic checkpoint and checks its executable against PyTorch.

Writes a checkpoint with scripts/gen_checkpoint.py (the layout and shape
arguments after `--` are passed through), compiles it with ternc, then
compares with scripts/reference_torch.py:
  * prompt logits within 1e-3 of the reference logit range, argmax equal at
    every position;
  * 32 greedy tokens identical (the executable decodes with its KV cache, the
    reference recomputes the whole sequence).
Prompts are chosen, among seeded candidates, for the largest distance of
any quantizer input from a rounding boundary (SPEC 5.8).

--lm-head int8 compiles with ternc --lm-head=int8 and gives the reference
the same int8 head (per-row s = max|row| / 127, q = round(row / s); x rows
to integers of at most qmax, exact integer sums, times s / x's scale, as
tern.lm_head defines it); it also prints the int8 head's effect against the exact model: top-1
agreement of the prompt logits and their largest difference.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts")
sys.path.insert(0, SCRIPTS)
from reference_torch import Model  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lm_verdict import verdict  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ternc", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--generate", type=int, default=32)
    p.add_argument("--candidates", type=int, default=8)
    p.add_argument("--prompt", type=int, default=5, help="prompt length")
    p.add_argument("--lm-head", default="exact", choices=["exact", "int8"])
    p.add_argument("--weights", default="ternary",
                   help="bf16: check the float baseline against the "
                        "reference's float mode")
    p.add_argument("gen_args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    gen_args = [x for x in a.gen_args if x != "--"]
    ckpt = os.path.join(a.workdir, "ckpt")
    exe = os.path.join(a.workdir, "model")
    subprocess.run([sys.executable, os.path.join(SCRIPTS, "gen_checkpoint.py"),
                    "-o", ckpt] + gen_args, check=True)
    subprocess.run([a.ternc, "-q", ckpt, "--weights=" + a.weights,
                    "--lm-head=" + a.lm_head, "-o", exe], check=True)

    torch.set_grad_enabled(False)
    model = Model(ckpt, float_weights=a.weights == "bf16")
    exact = None
    if a.lm_head == "int8":
        exact = Model(ckpt, float_weights=a.weights == "bf16")
        head = model.head.numpy().astype(np.float32)
        amax = np.abs(head).max(axis=1, keepdims=True)
        scale = np.where(amax > 0, amax / np.float32(127), np.float32(1))
        q = np.clip(np.rint(head / scale), -127, 127).astype(np.int64)
        row_scale = scale[:, 0].astype(np.float32)
        qmax = min(32767, (2**31 - 1) // (127 * head.shape[1]))

        def int8_head(h):
            # tern.lm_head over an i8 table: x rows as integers, exact sums.
            x = h.numpy().astype(np.float32)
            amax = np.maximum(np.abs(x).max(axis=1), np.float32(1e-5))
            xs = (np.float32(qmax) / amax).astype(np.float32)
            xq = np.clip(np.rint(x * xs[:, None]), -qmax, qmax)
            acc = (xq.astype(np.int64) @ q.T).astype(np.float32)
            out = (acc / xs[:, None]).astype(np.float32) * row_scale[None, :]
            return torch.from_numpy(out.astype(np.float32))
        model.head_fn = int8_head
    vocab = model.embed.shape[0]
    rng = np.random.default_rng(1)
    best = None
    for _ in range(a.candidates):
        prompt = [int(t) for t in rng.integers(0, vocab, a.prompt)]
        tokens, _ = model.greedy(prompt, a.generate)
        if best is None or model.margin > best[0]:
            best = (model.margin, prompt, tokens)
    margin, prompt, ref_tokens = best
    ref_logits = model.forward(prompt).numpy()

    logits_file = os.path.join(a.workdir, "logits.npy")
    tokens_file = os.path.join(a.workdir, "tokens.txt")
    subprocess.run([exe, "--tokens", ",".join(map(str, prompt)),
                    "-n", str(a.generate), "--greedy", "-q", "--ignore-eos",
                    "--dump-logits", logits_file, "--dump-tokens", tokens_file],
                   check=True, stdout=subprocess.DEVNULL)
    logits = np.load(logits_file)
    with open(tokens_file) as f:
        tokens = [int(line) for line in f]

    if exact is not None:
        exact_logits = exact.forward(prompt).numpy()
        espan = float(exact_logits.max() - exact_logits.min())
        agree = int((logits.argmax(1) == exact_logits.argmax(1)).sum())
        ediff = float(np.abs(logits - exact_logits).max())
        print(f"int8 head vs exact: top-1 equal at {agree}/{len(prompt)} "
              f"positions, max |diff| {ediff:.2e} = {ediff / espan:.1e} of "
              f"range {espan:.2f}")
    span = float(ref_logits.max() - ref_logits.min())
    err = float(np.abs(logits - ref_logits).max())
    print(f"margin {margin:.1e}; logits max |diff| {err:.2e} = "
          f"{err / span:.1e} of range {span:.2f}")
    ok = True
    if logits.shape != ref_logits.shape:
        print(f"FAIL: logits shape {logits.shape}, reference {ref_logits.shape}")
        return 1
    if err > 1e-3 * span:
        print("FAIL: logits differ by more than 1e-3 of their range")
        ok = False
    return verdict(logits, ref_logits, tokens, ref_tokens, ok, "reference")


if __name__ == "__main__":
    sys.exit(main())
