#!/usr/bin/env python3
"""Static cost of the ternary matmul kernels: AArch64 (performance cannot
be timed under qemu) and, with --x86, x86-64 (timings on shared VMs are
noisy). For each kernel variant and CPU scheduling model, ternc compiles a
one-layer model (K = 1024) to assembly with the tiles' inner loops marked,
and llvm-mca-19 estimates the cycles of one iteration (one 64-element
block) of each tile's whole inner loop:

  decode  8x1 tile: 8 rows x 1 token, 512 weights per iteration
  prefill tile: 4 rows x 4 tokens (1 x 12 for avx2), rows x tokens x 64
          weight x token products

printed as cycles per 1,024 weights (decode) or per 1,024 weight x token
products (prefill), and as a ratio to the first variant on the same CPU
(neon; avx2). Static estimates: no cache misses, no memory bandwidth.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHES = {
    "aarch64": ("aarch64-linux-gnu", ["neoverse-n1", "neoverse-v2", "apple-m1"],
                ["neon", "vector", "dotprod", "i8mm"]),
    "x86": ("x86_64-linux-gnu", ["haswell", "znver3", "znver4"],
            ["avx2", "avxvnni", "avx512vnni"]),
}


def macs(region):
    """Weight x token products per iteration of a tileRxT region."""
    rows, toks = re.match(r"tile(\d+)x(\d+)", region).groups()
    return int(rows) * int(toks) * 64


def regions(asm):
    """Per marked region, the whole innermost loop around its first
    occurrence (from the label before the marker to the branch back to it),
    as assembly text. The markers only name the loop: instructions move
    across them, so the text between them can be a fraction of the loop."""
    lines = asm.splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = re.search(r"LLVM-MCA-BEGIN (\S+)", line)
        if not m or m.group(1) in out:
            continue
        start = i
        while start > 0 and not re.match(r"^\.?L\w+:", lines[start]):
            start -= 1
        label = lines[start].split(":")[0]
        end = i
        while end < len(lines) and not (
                lines[end][:1].isspace() and
                re.search(r"\s" + re.escape(label) + r"$", lines[end].rstrip())):
            end += 1
        body = [x for x in lines[start + 1:end + 1]
                if x.strip() and not x.strip().startswith(("#", "//", "."))
                and "LLVM-MCA" not in x]
        out[m.group(1)] = "\n".join(body) + "\n"
    return out


def cycles(asm_text, triple, cpu):
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write(asm_text)
    try:
        out = subprocess.run(
            ["llvm-mca-19", "-mtriple=" + triple, "-mcpu=" + cpu,
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
    p.add_argument("--x86", action="store_true", help="the x86-64 kernels")
    a = p.parse_args()
    arch = "x86" if a.x86 else "aarch64"
    triple, cpus, variants = ARCHES[arch]
    work = tempfile.mkdtemp(prefix="tern-mca-")
    ckpt = os.path.join(work, "ckpt")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_checkpoint.py"),
                    "-o", ckpt, "--layers", "1", "--hidden", "1024",
                    "--intermediate", "1024", "--heads", "8", "--kv-heads", "8",
                    "--vocab", "256"], check=True, stdout=subprocess.DEVNULL)
    print(f"{arch} ternary matmul, llvm-mca-19 estimates (cycles per 1,024 "
          "weights; prefill per 1,024 weight x token products)\n")
    print("%-12s %-10s %12s %18s %10s %10s" % ("cpu", "kernels", "decode 8x1",
                                             "prefill", "vs " + variants[0],
                                             "vs " + variants[0]))
    for cpu in cpus:
        base = None
        for variant in variants:
            r = subprocess.run(
                [a.ternc, "-q", ckpt, "--target=" + triple, "--mcpu=" + cpu,
                 "--kernels=" + variant, "--mca-markers", "--emit=asm", "-o", "-"],
                capture_output=True, text=True)
            if r.returncode != 0:
                print("%-12s %-10s ternc failed: %s" % (cpu, variant, r.stderr.strip()))
                continue
            used = re.search(r"using the (\S+) kernels", r.stderr)
            if used:  # the CPU lacks the variant: ternc fell back
                print("%-12s %-10s (not on this CPU; ternc uses %s)" %
                      (cpu, variant, used.group(1)))
                continue
            found = regions(r.stdout)
            cost = {name: cycles(text, triple, cpu) * 1024 / macs(name)
                    for name, text in found.items()}
            decode = cost.get("tile8x1", float("nan"))
            prefill_name = next((n for n in cost if n != "tile8x1" and
                                 macs(n) > 64 * 4), None)
            prefill = cost.get(prefill_name, float("nan"))
            if base is None:
                base = (decode, prefill)
            print("%-12s %-10s %12.1f %11.1f %-6s %9.2fx %9.2fx" % (
                cpu, variant, decode, prefill, prefill_name or "-",
                base[0] / decode, base[1] / prefill))
    print(f"\n(vs {variants[0]}: its cycles over these; higher is faster)")


if __name__ == "__main__":
    main()
