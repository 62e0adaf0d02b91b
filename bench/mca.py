#!/usr/bin/env python3
"""Static cost of the AArch64 ternary matmul kernels (issue: performance
cannot be timed under qemu). For each kernel variant and CPU scheduling
model, ternc compiles a one-layer model (K = 1024) to assembly with the
tiles' inner loops marked, and llvm-mca-19 estimates the cycles of one
iteration (one 64-element block):

  decode  8x1 tile: 8 rows x 1 token, 512 weights per iteration
  prefill 4x4 tile: 4 rows x 4 tokens, 1024 weight x token products

printed as cycles per 1,024 weights (decode) or per 1,024 weight x token
products (prefill), and as a ratio to the neon variant on the same CPU.
Static estimates: no cache misses, no memory bandwidth.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPUS = ["neoverse-n1", "neoverse-v2", "apple-m1"]
VARIANTS = ["neon", "vector", "dotprod", "i8mm"]
MACS = {"tile8x1": 512, "tile4x4": 1024}


def regions(asm):
    """The first occurrence of each marked region, as assembly text."""
    out, current, name = {}, None, None
    for line in asm.splitlines():
        m = re.search(r"LLVM-MCA-(BEGIN|END) (\S+)", line)
        if m and m.group(1) == "BEGIN":
            name, current = m.group(2), []
        elif m:
            if name not in out:
                out[name] = "\n".join(current) + "\n"
            current = None
        elif current is not None and not line.strip().startswith("//"):
            current.append(line)
    return out


def cycles(asm_text, cpu):
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write(asm_text)
    try:
        out = subprocess.run(
            ["llvm-mca-19", "-mtriple=aarch64-linux-gnu", "-mcpu=" + cpu,
             "-iterations=200", f.name],
            capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    it = int(re.search(r"Iterations:\s+(\d+)", out).group(1))
    total = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    return total / it


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ternc", default=os.path.join(ROOT, "build", "bin", "ternc"))
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="tern-mca-")
    ckpt = os.path.join(work, "ckpt")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_checkpoint.py"),
                    "-o", ckpt, "--layers", "1", "--hidden", "1024",
                    "--intermediate", "1024", "--heads", "8", "--kv-heads", "8",
                    "--vocab", "256"], check=True, stdout=subprocess.DEVNULL)
    print("AArch64 ternary matmul, llvm-mca-19 estimates (cycles per 1,024 "
          "weights; prefill per 1,024 weight x token products)\n")
    print("%-12s %-8s %14s %14s %10s %10s" % ("cpu", "kernels", "decode 8x1",
                                            "prefill 4x4", "vs neon", "vs neon"))
    for cpu in CPUS:
        base = None
        for variant in VARIANTS:
            r = subprocess.run(
                [a.ternc, "-q", ckpt, "--target=aarch64-linux-gnu", "--mcpu=" + cpu,
                 "--kernels=" + variant, "--mca-markers", "--emit=asm", "-o", "-"],
                capture_output=True, text=True)
            if r.returncode != 0:
                print("%-12s %-8s ternc failed: %s" % (cpu, variant, r.stderr.strip()))
                continue
            used = re.search(r"using the (\S+) kernels", r.stderr)
            if used:  # the CPU lacks the variant: ternc fell back
                print("%-12s %-8s (not on this CPU; ternc uses %s)" %
                      (cpu, variant, used.group(1)))
                continue
            found = regions(r.stdout)
            cost = {name: cycles(text, cpu) * 1024 / MACS[name]
                    for name, text in found.items() if name in MACS}
            if variant == "neon":
                base = cost
            ratio = lambda n: ("%9.2fx" % (base[n] / cost[n])) if base else "%10s" % "-"
            print("%-12s %-8s %14.1f %14.1f %10s %10s" % (
                cpu, variant, cost.get("tile8x1", float("nan")),
                cost.get("tile4x4", float("nan")), ratio("tile8x1"),
                ratio("tile4x4")))
    print("\n(vs neon: the neon kernels' cycles over these; higher is faster)")


if __name__ == "__main__":
    main()
