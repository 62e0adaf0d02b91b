#!/usr/bin/env python3
"""Tern on an NVIDIA GPU: tokens/s and weight-streaming GB/s (bench/gpu.sh).

On a machine where nvidia-smi lists a GPU: compiles the 2B4T-shape synthetic
checkpoint (build/bench/, as bench/run.py writes it) for that GPU's
architecture (--target=nvptx --gpu-arch=sm_XY) and for this CPU, and
measures both in the same run:
  pp128  a 128-token prompt, prompt tokens/s
  tg128  128 generated tokens, generation tokens/s
The weights the GPU streams per generated token (the packed projections at
2 bits per weight, and the bf16 tied embedding the LM head reads) over the
time per token gives GB/s, to compare with the GPU's HBM bandwidth (the
decode roofline, docs/GPU.md). Every op runs on the GPU; the executable
copies the token up and the logits back per step.

Without a GPU it says so and exits 0.
"""
import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, cell, checkpoint, measure, run  # noqa: E402


def gpu():
    """(name, sm_XY) of GPU 0, or None."""
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap",
                          "--format=csv,noheader"], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return None
    name, cap = [x.strip() for x in out.stdout.splitlines()[0].split(",")]
    return name, "sm_" + cap.replace(".", "")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--ternc", default=os.path.join(ROOT, "build", "bin", "ternc"))
    p.add_argument("--dir", default=os.path.join(ROOT, "build", "bench"))
    a = p.parse_args()
    device = gpu()
    if not device:
        print("skipped: no NVIDIA GPU here (nvidia-smi lists none)")
        return 0
    name, arch = device
    os.makedirs(a.dir, exist_ok=True)
    ckpt = checkpoint(a.dir)
    exes = {"cpu": os.path.join(a.dir, "bitnet-2b4t-cpu"),
            "gpu": os.path.join(a.dir, "bitnet-2b4t-" + arch)}
    run([a.ternc, "-q", ckpt, "-o", exes["cpu"]])
    run([a.ternc, "-q", ckpt, "--target=nvptx", "--gpu-arch=" + arch, "-o", exes["gpu"]])
    # 2 bits per weight of the ternary projections (the 2B4T shape).
    layers, d, f, kv = 30, 2560, 6912, 640
    ternary = layers * (d * d * 2 + d * kv * 2 + 3 * d * f) / 4
    streamed = ternary + 128256 * d * 2  # + the bf16 LM head
    prompt = ",".join(str(1000 + i) for i in range(128))
    threads = ["-t", str(os.cpu_count() or 1)]
    print(f"\nTern on {name} ({arch}), 2B4T shape, median of {a.reps} (min-max)")
    print(f"  weights per token: {streamed / 1e9:.3f} GB "
          f"({ternary / 1e9:.3f} GB ternary, the rest the bf16 LM head)")
    print(f"  {'':>5} {'pp128 tokens/s':>22} {'tg128 tokens/s':>22} {'GB/s':>7}")
    results = {}
    # "eager": the GPU executable with CUDA graphs off (--no-gpu-graphs),
    # every kernel launched on its own.
    for kind, exe, extra in (("cpu", exes["cpu"], []), ("gpu", exes["gpu"], []),
                             ("eager", exes["gpu"], ["--no-gpu-graphs"])):
        pp = measure(exe, prompt, threads + extra, "prompt", a.reps)
        tg = measure(exe, "1000", threads + extra, "generation", a.reps)
        results[kind] = (pp, tg)
        print(f"  {kind:>5} {cell(pp):>22} {cell(tg):>22} {tg[0] * streamed / 1e9:7.1f}")
    print(f"\n  gpu / cpu: pp {results['gpu'][0][0] / results['cpu'][0][0]:.2f}x, "
          f"tg {results['gpu'][1][0] / results['cpu'][1][0]:.2f}x; "
          f"graphs / eager: tg {results['gpu'][1][0] / results['eager'][1][0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
