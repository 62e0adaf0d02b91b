#!/usr/bin/env python3
"""Compiles a generic (row-wise) ONNX graph with ternc and checks its
executable against onnxruntime on random inputs: every output within --rel
(default 1e-4) of onnxruntime's range. The inputs are the draw, among
--candidates seeded ones, whose activation quantizer inputs are farthest
from a rounding boundary (SPEC 5.8, ort_margin.py).

--reference REF.onnx runs onnxruntime on another file with the same weights
(for com.microsoft.MatMulNBits with bits=2, which it cannot run).

usage: check_onnx_graph.py --ternc TERNC --workdir DIR MODEL.onnx
           [--shape 2,5] [-- TERNC-ARGS...]
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(__file__))
from ort_margin import Margins  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--ternc", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--reference")
    p.add_argument("--rows", default="2,5", help="leading dimensions")
    p.add_argument("--rel", type=float, default=1e-4)
    p.add_argument("--candidates", type=int, default=8)
    p.add_argument("ternc_args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    exe = os.path.join(a.workdir, "model")
    subprocess.run([a.ternc, "-q", a.model, "-o", exe] +
                   [x for x in a.ternc_args if x != "--"], check=True)

    ort.set_default_logger_severity(3)
    session = ort.InferenceSession(a.reference or a.model,
                                   providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    lead = [int(d) for d in a.rows.split(",")]
    margins = Margins(a.reference or a.model)
    best = None
    for _ in range(a.candidates):
        feeds = {}
        for i in session.get_inputs():
            width = i.shape[-1] if isinstance(i.shape[-1], int) else 64
            feeds[i.name] = rng.standard_normal(lead + [width]).astype(np.float32)
        m = margins.margin(feeds) if margins.count else 0.5
        if best is None or m > best[0]:
            best = (m, feeds)
    margin, feeds = best
    if margins.count:
        print(f"margin {margin:.1e} over {margins.count} quantizers")
    args = [exe, "-q"]
    for name, x in feeds.items():
        path = os.path.join(a.workdir, name + ".npy")
        np.save(path, x)
        args += ["--input", f"{name}={path}"]
    outs = session.get_outputs()
    for o in outs:
        args += ["--output", f"{o.name}={os.path.join(a.workdir, 'out-' + o.name + '.npy')}"]
    subprocess.run(args, check=True)
    ok = True
    for o, want in zip(outs, session.run(None, feeds)):
        got = np.load(os.path.join(a.workdir, "out-" + o.name + ".npy"))
        if got.shape != want.shape:
            print(f"FAIL: {o.name} has shape {got.shape}, onnxruntime {want.shape}")
            ok = False
            continue
        span = float(want.max() - want.min())
        diff = np.abs(got - want)
        over = int((diff > a.rel * span).sum())
        print(f"{o.name} {list(got.shape)}: max |diff| {diff.max():.2e} = "
              f"{diff.max() / span:.1e} of range {span:.2f}; {over} of "
              f"{diff.size} elements over {a.rel:.0e}")
        ok &= over == 0
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
