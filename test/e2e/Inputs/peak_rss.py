"""Runs a command and checks the peak resident memory of it and its children
(the linker ternc starts included) against a multiple of a file's size.

  peak_rss.py --file model.safetensors --max-ratio 2 -- ternc ... -o model
"""
import argparse
import os
import resource
import subprocess
import sys

p = argparse.ArgumentParser()
p.add_argument("--file", required=True, help="the size to compare with")
p.add_argument("--max-ratio", type=float, required=True)
p.add_argument("command", nargs="+")
a = p.parse_args()
subprocess.run(a.command, check=True)
# ru_maxrss of waited-for descendants, in KiB on Linux.
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
size = os.path.getsize(a.file)
ratio = peak / size
verdict = "OK" if ratio < a.max_ratio else "FAIL"
print(f"{verdict}: peak RSS {peak / 1e6:.0f} MB, {ratio:.2f}x the "
      f"{size / 1e6:.0f} MB of {os.path.basename(a.file)} "
      f"(limit {a.max_ratio}x)")
sys.exit(0 if verdict == "OK" else 1)
