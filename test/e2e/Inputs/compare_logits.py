#!/usr/bin/env python3
"""compare_logits.py A.npy B.npy [--rel R]: the largest |A - B| relative to
B's range must be at most R (default 1e-5)."""
import argparse
import sys

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("a")
p.add_argument("b")
p.add_argument("--rel", type=float, default=1e-5)
a = p.parse_args()
x, y = np.load(a.a), np.load(a.b)
if x.shape != y.shape:
    sys.exit("shapes differ: %s vs %s" % (x.shape, y.shape))
rel = float(np.abs(x - y).max() / (y.max() - y.min()))
ok = rel <= a.rel
print("max |diff| / range = %.2e (bound %.0e): %s" % (rel, a.rel, "ok" if ok else "TOO LARGE"))
sys.exit(0 if ok else 1)
