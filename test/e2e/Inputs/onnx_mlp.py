#!/usr/bin/env python3
"""Small MLPs exported to ONNX (PyTorch 1.13, opset 17) for the generic path.

--form picks the BitLinear form of both layers, as in onnx_lm.py (ste,
offline, packed, dql, mmi, nbits); `norm` is the training form with the
RMSNorm inside each BitLinear, as BitNet courses write it; `bias` the
training form with nn.Linear's bias, on inputs x [batch, 64] (a Gemm with
C); `float` is a
plain MLP (nn.Linear with bias, Sigmoid, Tanh, a scaled residual, clamp)
with no BitLinear at all; `sln` is SimplifiedLayerNormalization (the ORT
GenAI builder's RMSNorm) then a float MatMul, written with the onnx helper
API, input x [batch, 16]; `elementwise` chains every elementwise op the
generic path compiles (helper API, inputs x and z [batch, 16]; opset 20,
for Gelu in both forms); `classifier`
is a float MLP with GELU (Erf), LayerNorm, ending in a softmax, plus a
ReduceMean/ReduceMax row statistic (exported from PyTorch). The input is x [batch, seq, 64] with both leading
dimensions dynamic; --symbolic-features names the last one too (for --dim).

usage: onnx_mlp.py -o MODEL.onnx [--form F] [--symbolic-features]
"""
import argparse
import io
import os
import sys
import warnings

import onnx
import torch

sys.path.insert(0, os.path.dirname(__file__))
import onnx_lm  # noqa: E402


class NormBitLinear(onnx_lm.BitLinearSTE):
    """BitLinear normalizing its own input (RMSNorm with a gain)."""

    def __init__(self, i, o):
        super().__init__(i, o, bias=False)
        self.norm = onnx_lm.RMSNorm(i, 1e-6)

    def forward(self, x):
        return super().forward(self.norm(x))


class BiasBitLinear(onnx_lm.BitLinearSTE):
    """The training form with nn.Linear's bias: on rows (x [batch, 64]) the
    exporter writes a Gemm with C."""

    def forward(self, x):
        q, s = onnx_lm.act_quant(x)
        x = x + (q / s - x).detach()
        w = self.weight
        r = 1.0 / w.abs().mean().clamp(min=1e-5)
        w = w + ((w * r).round().clamp(-1, 1) / r - w).detach()
        return torch.nn.functional.linear(x, w, self.bias)


class BitMLP(torch.nn.Module):
    """fc1 -> relu^2 -> fc2, as in SPEC 8.2's exports."""

    def __init__(self, linear):
        super().__init__()
        self.fc1, self.fc2 = linear(64, 128), linear(128, 32)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)) ** 2)


class FloatMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 96)
        self.fc2 = torch.nn.Linear(96, 64)
        self.fc3 = torch.nn.Linear(64, 32)

    def forward(self, x):
        h = torch.sigmoid(self.fc1(x))
        h = x + 0.5 * torch.tanh(self.fc2(h))
        return self.fc3(h).clamp(-1.5, 1.5)


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 96)
        self.ln = torch.nn.LayerNorm(96)
        self.fc2 = torch.nn.Linear(96, 32)

    def forward(self, x):
        h = self.ln(torch.nn.functional.gelu(self.fc1(x)))
        h = h - h.mean(-1, keepdim=True) + 0.1 * h.amax(-1, keepdim=True)
        return torch.softmax(self.fc2(h), -1)


def sln_model():
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np
    rng = np.random.default_rng(0)
    g = numpy_helper.from_array((1 + 0.1 * rng.standard_normal(16)).astype(np.float32), "g")
    w = numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("SimplifiedLayerNormalization", ["x", "g"], ["n"], epsilon=1e-6,
                          axis=-1, name="sln"),
         helper.make_node("MatMul", ["n", "W"], ["y"], name="mm")],
        "sln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], [g, w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def elementwise_model():
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np
    rng = np.random.default_rng(1)
    v = numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "v")
    one = numpy_helper.from_array(np.array([1.0], np.float32), "one")
    three = numpy_helper.from_array(np.array(3.0, np.float32), "three")
    nodes = []

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], name=out, **kw))
    node("Relu", ["x"], "relu")
    node("Sigmoid", ["z"], "sigmoid")
    node("Tanh", ["x"], "tanh")
    node("Neg", ["tanh"], "neg")
    node("Abs", ["z"], "abs")
    node("Sqrt", ["abs"], "sqrt")
    node("Add", ["abs", "one"], "abs1")
    node("Reciprocal", ["abs1"], "recip")
    node("Exp", ["neg"], "exp")
    node("Mul", ["x", "v"], "xv")
    node("Round", ["xv"], "round")
    node("Sub", ["relu", "sigmoid"], "sub")
    node("Div", ["sqrt", "abs1"], "div")
    node("Pow", ["recip", "three"], "pow")
    node("Max", ["sub", "div"], "max")
    node("Min", ["exp", "round"], "min")
    node("Add", ["max", "min"], "sum1")
    node("Add", ["sum1", "pow"], "sum2")
    node("Gelu", ["sum2"], "gelu")
    node("Gelu", ["gelu"], "y", approximate="tanh")
    graph = helper.make_graph(
        nodes, "elementwise",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 16]) for n in "xz"],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])], [v, one, three])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--form", default="ste",
                   choices=["ste", "norm", "bias", "offline", "packed", "dql", "mmi", "nbits",
                            "float", "sln", "elementwise", "classifier"])
    p.add_argument("--symbolic-features", action="store_true")
    a = p.parse_args()
    warnings.filterwarnings("ignore")
    if a.form in ("sln", "elementwise"):
        onnx.save(sln_model() if a.form == "sln" else elementwise_model(), a.output)
        return
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    base = "offline" if a.form in ("dql", "mmi", "nbits") else a.form
    if base == "float":
        model = FloatMLP()
    elif base == "classifier":
        model = Classifier()
        with torch.no_grad():  # a LayerNorm that is not the identity
            model.ln.weight.normal_(1, 0.2)
            model.ln.bias.normal_(0, 0.2)
    elif base == "ste":
        model = BitMLP(lambda i, o: onnx_lm.BitLinearSTE(i, o, bias=False))
    elif base == "norm":
        model = BitMLP(NormBitLinear)
    elif base == "bias":
        model = BitMLP(BiasBitLinear)
        with torch.no_grad():  # biases of the size that matters
            for lin in (model.fc1, model.fc2):
                lin.bias.normal_(0, 0.5)
    else:
        cls = onnx_lm.BitLinearPacked if base == "packed" else onnx_lm.BitLinearOffline
        model = BitMLP(lambda i, o: cls(torch.randn(o, i) * 0.1))
    f = io.BytesIO()
    axes = {0: "batch", 1: "seq"}
    if a.symbolic_features:
        axes[2] = "features"
    x = torch.zeros(2, 3, 64)
    if base == "bias":
        axes, x = {0: "batch"}, torch.zeros(2, 64)
    torch.onnx.export(model.eval(), (x,), f, opset_version=17,
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": axes, "y": {k: v for k, v in axes.items() if k < 2}})
    m = onnx.load_from_string(f.getvalue())
    if a.form != base:
        m = onnx_lm.deployment(m, a.form)
    onnx.save(m, a.output)


if __name__ == "__main__":
    main()
