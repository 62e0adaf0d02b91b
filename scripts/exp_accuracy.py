#!/usr/bin/env python3
"""How accurate is each exp Tern could use? (docs/Rationale.md, Numerics)

Measures, against float64 exp, in float32 ulps on 512,000 inputs (softmax's
range [-87, 0] and SiLU's [-30, 30]):
  cpu     the CPU kernels' math.exp (LLVM lowers it to libm's expf)
  tern    Tern's own polynomial (attention's softmax on the CPU; every exp
          in NVIDIA device code and its emulation)
  mlir    MLIR's populateMathPolynomialApproximationPatterns (mlir-opt-19's
          --test-math-polynomial-approximation)
Usage: .venv/bin/python scripts/exp_accuracy.py [--ternc build/bin/ternc]
"""
import argparse, os, subprocess, tempfile
import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LLVM = "/usr/lib/llvm-19/bin"
KERNEL = """func.func @exps(%in: memref<?xf32>, %out: memref<?xf32>) attributes {llvm.emit_c_interface} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %in, %c0 : memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %in[%i] : memref<?xf32>
    %y = math.exp %x : f32
    memref.store %y, %out[%i] : memref<?xf32>
  }
  return
}
"""
HARNESS = r"""#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
typedef struct { float *a, *b; int64_t off, size, stride; } M;
void _mlir_ciface_exps(M *in, M *out);
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb"); fseek(f, 0, SEEK_END);
  long n = ftell(f) / 4; fseek(f, 0, SEEK_SET);
  float *x = malloc(n * 4), *y = malloc(n * 4);
  if (fread(x, 4, n, f) != (size_t)n) return 1;
  M in = {x, x, 0, n, 1}, out = {y, y, 0, n, 1};
  _mlir_ciface_exps(&in, &out);
  FILE *g = fopen(argv[2], "wb"); fwrite(y, 4, n, g); fclose(g);
  return 0;
}
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ternc", default=os.path.join(ROOT, "build", "bin", "ternc"))
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        j = lambda name: os.path.join(d, name)
        rng = np.random.default_rng(0)
        x = np.concatenate([np.linspace(-87, 0, 256000),
                            rng.uniform(-30, 30, 256000)]).astype(np.float32)
        np.save(j("x.npy"), x.reshape(-1, 64))
        x.tofile(j("x.bin"))
        g = helper.make_graph([helper.make_node("Exp", ["x"], ["y"])], "exp",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), j("exp.onnx"))
        results = {}
        for name, kernels in (("cpu", "vector"), ("tern", "gpu-device-emulation")):
            run([a.ternc, "-q", j("exp.onnx"), "--kernels=" + kernels, "-o", j(name)])
            run([j(name), "--input", "x=" + j("x.npy"), "--output", "y=" + j(name + ".npy")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            results[name] = np.load(j(name + ".npy")).ravel()
        with open(j("k.mlir"), "w") as f:
            f.write(KERNEL)
        lowered = run([LLVM + "/mlir-opt", j("k.mlir"), "--test-math-polynomial-approximation",
                       "--convert-scf-to-cf", "--convert-math-to-llvm", "--finalize-memref-to-llvm",
                       "--convert-arith-to-llvm", "--convert-cf-to-llvm", "--convert-func-to-llvm",
                       "--reconcile-unrealized-casts"], capture_output=True).stdout
        ir = run([LLVM + "/mlir-translate", "--mlir-to-llvmir"], input=lowered,
                 capture_output=True).stdout
        with open(j("k.ll"), "wb") as f:
            f.write(ir)
        with open(j("h.c"), "w") as f:
            f.write(HARNESS)
        run(["clang-19", "-O2", "-Wno-override-module", j("h.c"), j("k.ll"), "-lm", "-o", j("mlir")])
        run([j("mlir"), j("x.bin"), j("mlir.bin")])
        results["mlir"] = np.fromfile(j("mlir.bin"), dtype=np.float32)
    ref = np.exp(x.astype(np.float64)).astype(np.float32)
    normal = np.isfinite(ref) & (ref > np.finfo(np.float32).tiny)
    print(f"{'exp':6s} {'max ulp':>8s} {'mean ulp':>9s} {'exact':>7s}")
    for name, y in results.items():
        u = np.abs(y.view(np.int32).astype(np.int64) - ref.view(np.int32).astype(np.int64))[normal]
        print(f"{name:6s} {u.max():8d} {u.mean():9.3f} {np.mean(u == 0):7.1%}")


if __name__ == "__main__":
    main()
