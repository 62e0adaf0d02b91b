#!/usr/bin/env python3
"""Compiles a generic (row-wise) ONNX graph with ternc and checks its
executable against onnxruntime on random inputs: every output within --rel
(default 1e-4) of onnxruntime's range.

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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--ternc", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--reference")
    p.add_argument("--rows", default="2,5", help="leading dimensions")
    p.add_argument("--rel", type=float, default=1e-4)
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
    feeds, args = {}, [exe, "-q"]
    for i in session.get_inputs():
        x = rng.standard_normal(lead + [i.shape[-1] if isinstance(i.shape[-1], int)
                                        else int(os.environ.get("FEATURES", 64))])
        feeds[i.name] = x.astype(np.float32)
        path = os.path.join(a.workdir, i.name + ".npy")
        np.save(path, feeds[i.name])
        args += ["--input", f"{i.name}={path}"]
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
