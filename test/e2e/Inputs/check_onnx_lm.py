#!/usr/bin/env python3
"""Compiles an ONNX language model with ternc and checks its executable
against onnxruntime.

  * prompt logits: the largest difference relative to onnxruntime's logit
    range, bounded by --rel (default 1e-4); argmax equal at every position;
  * --generate greedy tokens identical (the executable decodes with its KV
    cache; onnxruntime reruns the whole sequence each step).
The prompt is chosen among --candidates seeded ones for the largest distance
of any activation quantizer input from a rounding boundary over the whole
greedy sequence (SPEC 5.8, ort_margin.py).

--reference REF.onnx runs onnxruntime on another file with the same weights
(com.microsoft.MatMulNBits with bits=2 has no CPU kernel in onnxruntime).

--kernels NAME compiles for other kernels (scalar, gpu-device-emulation).

usage: check_onnx_lm.py --ternc TERNC --workdir DIR MODEL.onnx
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(__file__))
from lm_verdict import verdict  # noqa: E402
from ort_margin import Margins  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--ternc", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--reference")
    p.add_argument("--prompt", type=int, default=7, help="prompt length")
    p.add_argument("--candidates", type=int, default=16)
    p.add_argument("--generate", type=int, default=24)
    p.add_argument("--rel", type=float, default=1e-4)
    p.add_argument("--kernels", help="ternc's --kernels (default: the host's)")
    a = p.parse_args()
    exe = os.path.join(a.workdir, "model")
    kernels = [f"--kernels={a.kernels}"] if a.kernels else []
    subprocess.run([a.ternc, "-q", a.model, "-o", exe] + kernels, check=True)

    ort.set_default_logger_severity(3)
    session = ort.InferenceSession(a.reference or a.model,
                                   providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def feeds(ids):
        # Hugging Face exports' other inputs: one unpadded sequence.
        n = len(ids)
        f = {"input_ids": np.array([ids], np.int64)}
        if "attention_mask" in names:
            f["attention_mask"] = np.ones((1, n), np.int64)
        if "position_ids" in names:
            f["position_ids"] = np.arange(n, dtype=np.int64)[None]
        for i in session.get_inputs():  # an empty KV cache
            if i.name.startswith("past_key_values"):
                f[i.name] = np.zeros([1, int(i.shape[1]), 0, int(i.shape[3])],
                                     np.float32)
        return f

    def run(ids):
        return session.run(["logits"], feeds(ids))[0][0]

    def greedy(prompt):
        tokens, seq = [], list(prompt)
        for _ in range(a.generate):
            nxt = int(run(seq)[-1].argmax())
            tokens.append(nxt)
            seq.append(nxt)
        return tokens, seq

    margins = Margins(a.reference or a.model)
    vocab = session.get_outputs()[0].shape[-1]
    rng = np.random.default_rng(1)
    best = None
    for _ in range(a.candidates):
        prompt = [int(t) for t in rng.integers(0, vocab, a.prompt)]
        tokens, seq = greedy(prompt)
        m = margins.margin(feeds(seq))
        if best is None or m > best[0]:
            best = (m, prompt, tokens)
    margin, prompt, ref_tokens = best
    ref_logits = run(prompt)
    print(f"margin {margin:.1e} over {margins.count} quantizers")

    logits_file = os.path.join(a.workdir, "logits.npy")
    tokens_file = os.path.join(a.workdir, "tokens.txt")
    subprocess.run([exe, "--tokens", ",".join(map(str, prompt)), "-n", str(a.generate),
                    "--greedy", "-q", "--ignore-eos", "--dump-logits",
                    logits_file, "--dump-tokens", tokens_file],
                   check=True, stdout=subprocess.DEVNULL)
    logits = np.load(logits_file)
    with open(tokens_file) as f:
        tokens = [int(line) for line in f]
    if logits.shape != ref_logits.shape:
        print(f"FAIL: logits shape {logits.shape}, onnxruntime {ref_logits.shape}")
        return 1
    span = float(ref_logits.max() - ref_logits.min())
    diff = np.abs(logits - ref_logits)
    err = float(diff.max())
    over = int((diff > a.rel * span).sum())
    print(f"logits max |diff| {err:.2e} = {err / span:.1e} of range {span:.2f}; "
          f"{over} of {diff.size} elements over {a.rel:.0e}")
    ok = True
    if err > a.rel * span:
        print(f"FAIL: logits differ by more than {a.rel:.0e} of their range")
        ok = False
    return verdict(logits, ref_logits, tokens, ref_tokens, ok, "onnxruntime")


if __name__ == "__main__":
    sys.exit(main())
