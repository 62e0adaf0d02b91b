#!/usr/bin/env python3
"""Perplexity of a compiled model and of the PyTorch reference on held-out
text, over the same token ids.

usage: perplexity.py EXE CHECKPOINT TEXT [--window N] [--tolerance T]
                     [--onnx MODEL.onnx]

TEXT holds fortunes separated by lines "%"; each is encoded with the
checkpoint's tokenizer.json (Hugging Face tokenizers: BOS first) and ends with
EOS, as the model was trained. The stream is cut into windows of N tokens;
the executable's logits (--dump-logits) and scripts/reference_torch.py's give
two perplexities, which must agree within T (relative, default 1%). The
executable's own tokenization of the first fortune (-p, --verbose-prompt)
must be the library's. With --onnx, the reference is onnxruntime running
MODEL.onnx (an export of the checkpoint) instead of PyTorch.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
from reference_torch import Model  # noqa: E402


def nll(logits, ids):
    logp = torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64), -1)
    return -float(logp[torch.arange(len(ids) - 1), torch.as_tensor(ids[1:])].sum())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("exe")
    p.add_argument("ckpt")
    p.add_argument("text")
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--tolerance", type=float, default=0.01)
    p.add_argument("--onnx")
    a = p.parse_args()
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(a.ckpt, "tokenizer.json"))
    eos = tok.token_to_id("<|end_of_text|>")
    with open(a.text) as f:
        fortunes = [x for x in f.read().split("\n%\n") if x.strip()]

    run = subprocess.run([a.exe, "-p", fortunes[0], "-n", "0", "-q",
                          "--verbose-prompt"], capture_output=True, text=True)
    ours = run.stderr.split("tokens:", 1)[1].split() if "tokens:" in run.stderr else []
    if [int(x) for x in ours] != tok.encode(fortunes[0]).ids:
        print("the executable tokenizes the first fortune differently:\n%s" % run.stderr)
        return 1

    stream = []
    for f in fortunes:
        stream += tok.encode(f).ids + [eos]
    if a.onnx:
        import onnxruntime as ort
        ort.set_default_logger_severity(3)
        session = ort.InferenceSession(a.onnx, providers=["CPUExecutionProvider"])
        label = "onnxruntime"

        def reference(ids):
            return session.run(None, {"input_ids": np.array([ids], np.int64)})[0][0]
    else:
        model = Model(a.ckpt)
        label = "PyTorch"

        def reference(ids):
            with torch.no_grad():
                return model.forward(ids).numpy()
    total = {"tern": 0.0, "torch": 0.0}
    count = 0
    with tempfile.TemporaryDirectory() as d:
        for s in range(0, len(stream) - 1, a.window):
            ids = stream[s:s + a.window]
            if len(ids) < 2:
                break
            out = os.path.join(d, "l.npy")
            subprocess.run([a.exe, "--tokens", ",".join(map(str, ids)), "-n", "0",
                            "-q", "--dump-logits", out], check=True)
            total["tern"] += nll(np.load(out), ids)
            total["torch"] += nll(reference(ids), ids)
            count += len(ids) - 1
    ppl = {k: math.exp(v / count) for k, v in total.items()}
    rel = abs(ppl["tern"] - ppl["torch"]) / ppl["torch"]
    ok = rel <= a.tolerance
    print("perplexity over %d tokens: tern %.3f, %s %.3f (%.3f%% apart, "
          "bound %.1f%%): %s" % (count, ppl["tern"], label, ppl["torch"], 100 * rel,
                                100 * a.tolerance, "ok" if ok else "TOO FAR"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
