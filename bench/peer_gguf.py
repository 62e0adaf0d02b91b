#!/usr/bin/env python3
"""Writes the benchmark checkpoint as a GGUF file for other engines.

  peer_gguf.py [--ckpt build/bench/bitnet-2b4t-shape] OUT.gguf
               [--type i2_s|tq2_0|tq1_0] [--arch bitnet-b1.58|bitnet]

The same weights as Tern's benchmark executable, encoded by the tests' own
GGUF writer (test/e2e/Inputs/hf_to_gguf.py, SPEC 7), with a synthetic
byte-level tokenizer of the checkpoint's vocabulary size: llama-bench needs
one to load the file, and its timings do not depend on the tokens. --arch
bitnet names the 1bitLLM architecture, for peers whose llama.cpp predates
bitnet-b1.58 (the tensors are the same).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def byte_level_vocab(size):
    """GPT-2's 256 byte characters, then filler tokens, then BOS/EOS."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + \
        list(range(0xAE, 0x100))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    vocab = {c: i for i, c in enumerate(chars)}
    for i in range(len(vocab), size - 2):
        vocab[f"tok{i}"] = i
    return {"model": {"vocab": vocab, "merges": []},
            "added_tokens": [
                {"content": "<|begin_of_text|>", "id": size - 2, "special": True},
                {"content": "<|end_of_text|>", "id": size - 1, "special": True}]}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--ckpt", default=os.path.join(ROOT, "build", "bench",
                                                  "bitnet-2b4t-shape"))
    p.add_argument("--type", default="i2_s", choices=["i2_s", "tq2_0", "tq1_0"])
    p.add_argument("--arch", default="bitnet-b1.58",
                   choices=["bitnet-b1.58", "bitnet"])
    a = p.parse_args()
    if not os.path.exists(os.path.join(a.ckpt, "config.json")):
        raise SystemExit(f"{a.ckpt}: no config.json (run bench/run.sh once "
                         "to write the benchmark checkpoint)")
    with open(os.path.join(a.ckpt, "config.json")) as f:
        size = json.load(f)["vocab_size"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in os.listdir(a.ckpt):
            if not name.startswith("tokenizer"):
                os.symlink(os.path.abspath(os.path.join(a.ckpt, name)),
                           os.path.join(tmp, name))
        with open(os.path.join(tmp, "tokenizer.json"), "w") as f:
            json.dump(byte_level_vocab(size), f)
        subprocess.run([sys.executable, os.path.join(ROOT, "test", "e2e", "Inputs",
                                                     "hf_to_gguf.py"),
                        tmp, a.out, "--type", a.type, "--arch", a.arch],
                       check=True)


if __name__ == "__main__":
    sys.exit(main())
