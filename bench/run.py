#!/usr/bin/env python3
"""Tern's x86 benchmark: prompt processing and generation on the 2B4T shape.

One command (bench/run.sh): writes the 2B4T-shape synthetic checkpoint once
(build/bench/), compiles it with ternc, measures the machine's read
bandwidth with a small probe in the same run, then runs the executable:
  pp128  a 128-token prompt, prompt tokens/s
  tg128  128 generated tokens after a 1-token prompt, generation tokens/s
Each is the median of --reps runs (min and max shown). Bytes per generated
token are the executable's weight section (every weight, including the
tied embedding read by the LM head, is read once per token); the decode
roofline is bandwidth / bytes per token.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def section_bytes(exe, name=".tern_weights"):
    out = run(["/usr/lib/llvm-19/bin/llvm-readelf", "-S", "-W", exe],
              capture_output=True).stdout
    for line in out.splitlines():
        fields = line.replace("[", " ").replace("]", " ").split()
        if name in fields:
            i = fields.index(name)
            return int(fields[i + 4], 16)  # Type Address Off Size
    raise SystemExit(f"{exe}: no {name} section")


def rate(exe, args, which):
    err = run([exe] + args, capture_output=True).stderr
    m = re.search(which + r": (\d+) tokens in ([0-9.]+) s \(([0-9.]+) tokens/s\)", err)
    if not m:
        raise SystemExit(f"no {which} timing in:\n{err}")
    return float(m.group(3))


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--ternc", default=os.path.join(ROOT, "build", "bin", "ternc"))
    p.add_argument("--dir", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--kernels", default="auto")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)

    ckpt = os.path.join(a.dir, "bitnet-2b4t-shape")
    if not os.path.exists(os.path.join(ckpt, "config.json")):
        print("writing the 2B4T-shape synthetic checkpoint (1.2 GB, once)", flush=True)
        run([sys.executable, os.path.join(ROOT, "scripts", "gen_checkpoint.py"),
             "-o", ckpt, "--real-2b4t-shape"])
    exe = os.path.join(a.dir, "bitnet-2b4t-" + a.kernels)
    run([a.ternc, "-q", ckpt, "--kernels=" + a.kernels, "-o", exe])
    probe = os.path.join(a.dir, "bandwidth")
    run(["clang-19", "-O2", "-march=native", "-o", probe,
         os.path.join(ROOT, "bench", "bandwidth.c")])

    bandwidth = float(run([probe, "2048"], capture_output=True).stdout)
    weights = section_bytes(exe)
    prompt = ",".join(str(1000 + i) for i in range(128))
    pp = [rate(exe, ["--tokens", prompt, "-n", "1", "--greedy"], "prompt")
          for _ in range(a.reps)]
    tg = [rate(exe, ["--tokens", "1000", "-n", "129", "--greedy"], "generation")
          for _ in range(a.reps)]
    roofline = bandwidth * 1e9 / weights

    print(f"\nTern {a.kernels} kernels, 2B4T shape, 1 thread, median of {a.reps} (min-max)")
    print(f"  read bandwidth (probe, 1 thread)  {bandwidth:8.2f} GB/s")
    print(f"  bytes per generated token          {weights / 1e9:8.3f} GB")
    print(f"  decode roofline                    {roofline:8.1f} tokens/s")
    for name, vals in (("pp128", pp), ("tg128", tg)):
        med, lo, hi = summary(vals)
        print(f"  {name}  {med:8.1f} tokens/s  ({lo:.1f}-{hi:.1f})")
    med = summary(tg)[0]
    print(f"  tg128 / roofline                   {med / roofline:8.0%}")
    print("  (-t is accepted but the kernels run on one thread so far)")


if __name__ == "__main__":
    sys.exit(main())
