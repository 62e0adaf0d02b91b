#!/usr/bin/env python3
"""compare_logits.py A.npy B.npy [--rel R] [--rows F]: the largest |A - B|
relative to B's range must be at most R (default 1e-5).

With --rows F, that bound holds for at least a fraction F of the rows
(tokens), and every row must have the same argmax: kernels that sum in a
different order may round an int8 activation the other way at a tie
(SPEC.md 5.8), which moves that token's logits by more than R while its
prediction stays."""
import argparse
import sys

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("a")
p.add_argument("b")
p.add_argument("--rel", type=float, default=1e-5)
p.add_argument("--rows", type=float, default=None)
a = p.parse_args()
x, y = np.load(a.a), np.load(a.b)
if x.shape != y.shape:
    sys.exit("shapes differ: %s vs %s" % (x.shape, y.shape))
span = y.max() - y.min()
if a.rows is None:
    rel = float(np.abs(x - y).max() / span)
    ok = rel <= a.rel
    print("max |diff| / range = %.2e (bound %.0e): %s" % (rel, a.rel, "ok" if ok else "TOO LARGE"))
    sys.exit(0 if ok else 1)
per_row = np.abs(x - y).reshape(len(x), -1).max(axis=1) / span
within = float((per_row <= a.rel).mean())
same = bool((x.argmax(-1) == y.argmax(-1)).all())
ok = within >= a.rows and same
print("rows within %.0e of the range: %.3f (bound %.2f); argmax %s: %s"
      % (a.rel, within, a.rows, "the same" if same else "DIFFERS",
         "ok" if ok else "TOO LARGE"))
sys.exit(0 if ok else 1)
