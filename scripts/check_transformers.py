#!/usr/bin/env python3
"""Checks a compiled checkpoint against transformers' own model code.

Loads a Hugging Face BitNet checkpoint with PyPI transformers
(AutoModelForCausalLM: LlamaForCausalLM or BitNetForCausalLM with
transformers' BitNet quantizer, integrations/bitnet.py) in fp32, compiles the
same directory with ternc, and compares:
  * prompt logits within 1e-3 of the reference logit range, argmax equal at
    every position;
  * N greedy tokens identical (the executable decodes with its KV cache,
    transformers recomputes the whole sequence).
The prompt is chosen among seeded candidates for the largest distance of any
activation quantizer input from a rounding boundary (SPEC 5.8), measured
with scripts/reference_torch.py.

transformers needs torch >= 2 (several GB from PyPI), too heavy for CI:
CI checks the same checkpoints against scripts/reference_torch.py
(test/e2e/checkpoints.test); this script is run by hand, in a venv of its own
(README, "Testing against transformers"):

  python3 -m venv /tmp/tfvenv
  /tmp/tfvenv/bin/pip install torch transformers accelerate
  /tmp/tfvenv/bin/python scripts/check_transformers.py --ternc build/bin/ternc \\
      --workdir /tmp/falcon3 -- --layout llama --untied --head-dim 16

Arguments after `--` go to scripts/gen_checkpoint.py; --checkpoint DIR checks
an existing checkpoint instead.
"""
import argparse
import os
import subprocess
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # eager: the same math

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from reference_torch import Model  # noqa: E402


def transformers_logits(model, ids):
    with torch.no_grad():
        out = model(torch.tensor([ids]), use_cache=False)
    return out.logits[0].float()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ternc", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--checkpoint", help="an existing checkpoint directory")
    p.add_argument("--prompt", type=int, default=12, help="prompt length")
    p.add_argument("--candidates", type=int, default=8)
    p.add_argument("-n", type=int, default=32, help="greedy tokens")
    p.add_argument("gen_args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    ckpt = a.checkpoint or os.path.join(a.workdir, "checkpoint")
    if not a.checkpoint:
        gen = [x for x in a.gen_args if x != "--"]
        subprocess.run([sys.executable, os.path.join(HERE, "gen_checkpoint.py"),
                        "-o", ckpt] + gen, check=True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")

    exe = os.path.join(a.workdir, "model")
    subprocess.run([a.ternc, "-q", ckpt, "-o", exe], check=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        ckpt, dtype=torch.float32)
    # AutoBitLinear unpacks packed weights to the checkpoint's dtype (bf16)
    # whatever `dtype` asks: everything in fp32.
    model = torch.nn.Module.float(model).eval()
    print(f"transformers model: {type(model).__name__}, quantizer: "
          f"{type(getattr(model, 'hf_quantizer', None)).__name__}")

    torch.set_grad_enabled(False)
    ref = Model(ckpt)
    vocab = ref.embed.shape[0]
    rng = np.random.default_rng(7)
    best = None
    for _ in range(a.candidates):
        ids = [int(x) for x in rng.integers(3, vocab, a.prompt)]
        ref.forward(ids)
        if best is None or ref.margin > best[0]:
            best = (ref.margin, ids)
    margin, ids = best

    want = transformers_logits(model, ids).numpy()
    tokens = ",".join(map(str, ids))
    npy = os.path.join(a.workdir, "logits.npy")
    subprocess.run([exe, "--tokens", tokens, "-n", "0", "-q", "--dump-logits",
                    npy], check=True)
    got = np.load(npy)
    span = float(want.max() - want.min())
    diff = float(np.abs(got - want).max())
    argmax = bool((got.argmax(-1) == want.argmax(-1)).all())
    print(f"prompt {tokens}; margin {margin:.2e}; logits max |diff| "
          f"{diff:.3g} = {diff / span:.2g} of range {span:.3g}")

    seq = list(ids)
    for _ in range(a.n):
        seq.append(int(transformers_logits(model, seq)[-1].argmax()))
    expected = seq[len(ids):]
    out = subprocess.run([exe, "--tokens", tokens, "-n", str(a.n), "--greedy",
                          "--ignore-eos", "-q"], check=True, capture_output=True,
                         text=True).stdout.split()
    generated = [int(t) for t in out]
    same = generated == expected
    if diff > 1e-3 * span or not argmax or not same:
        print(f"FAIL: argmax equal: {argmax}; tokens\n  ternc        "
              f"{generated}\n  transformers {expected}")
        return 1
    print(f"OK: argmax equal at {len(ids)} positions, {a.n} greedy tokens "
          f"identical to transformers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
