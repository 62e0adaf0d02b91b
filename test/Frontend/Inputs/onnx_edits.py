#!/usr/bin/env python3
"""Edits a valid ONNX model in one place (python3-onnx; the inputs are
committed fixtures or onnx_mlp.py's output): breaks it, for the frontend's
errors, or rewrites it into an equivalent graph Tern must still read.

  detours            hf-bitnet-dynamo.onnx, still valid: the embedding
                     passes through Unsqueeze then Squeeze, block 0's
                     residual through Reshape to [tokens, hidden] and back,
                     and an Expand to its own shape

  course-o-no-norm   course-bitnet-dynamo.onnx: block 0's o projection reads
                     the attention output without its own RMSNorm
  course-shared-qkv  course-bitnet-dynamo.onnx: block 1's k and v read q's
                     normalized input (one norm where block 0 has three)
  course-eps         course-bitnet-dynamo.onnx: block 1's o projection
                     normalizes with epsilon 1e-3, the others with 1e-6
  course-tanh        course-bitnet-dynamo.onnx: block 0's GELU computed with
                     tanh where erf belongs (no activation Tern knows)
  rope-interleaved   hf-bitnet-dynamo23.onnx: every RotaryEmbedding rotates
                     interleaved pairs (GPT-J style)
  cache-sigmoid      hf-bitnet-exporter-cache.onnx: block 0's relu^2 gate
                     is a sigmoid (no activation Tern knows) in an export
                     with a KV cache
  rms-axis           hf-bitnet-dynamo23.onnx: the first RMSNormalization
                     normalizes over the last two axes
  row-bias           onnx_mlp.py --form bias: fc1's Gemm bias C is one row
                     per batch row ([2, 128]) instead of one per column

usage: onnx_defects.py CASE IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def producer(graph, value):
    return next(n for n in graph.node if value in n.output)


def gain_mul(graph, weight):
    """The Mul of a norm's output by its gain initializer `weight`."""
    return next(n for n in graph.node if n.op_type == "Mul" and weight in n.input)


def rewire(graph, old, new):
    for n in graph.node:
        for k, v in enumerate(n.input):
            if v == old:
                n.input[k] = new


def detour(graph, node, steps):
    """Routes `node`'s output through `steps` (op, constant second input)
    before its readers, right after `node`."""
    value = node.output[0]
    readers = [n for n in graph.node if value in n.input]
    at = list(graph.node).index(node) + 1
    current = value
    for k, (op, const) in enumerate(steps):
        name = f"{value}_detour{k}"
        graph.initializer.append(numpy_helper.from_array(
            np.array(const, np.int64), name + "_arg"))
        graph.node.insert(at + k, onnx.helper.make_node(
            op, [current, name + "_arg"], [name], name=name))
        current = name
    for n in readers:
        for k, v in enumerate(n.input):
            if v == value:
                n.input[k] = current


def main():
    case, src, dst = sys.argv[1:]
    m = onnx.load(src)
    g = m.graph
    if case == "course-o-no-norm":
        mul = gain_mul(g, "blocks.0.o.norm.weight")
        normed = next(v for v in mul.input if v != "blocks.0.o.norm.weight")
        raw = producer(g, normed).input[0]  # x * rsqrt(mean(x^2) + eps)
        rewire(g, mul.output[0], raw)
    elif case == "course-shared-qkv":
        q = gain_mul(g, "blocks.1.q.norm.weight").output[0]
        for w in ("blocks.1.k.norm.weight", "blocks.1.v.norm.weight"):
            rewire(g, gain_mul(g, w).output[0], q)
    elif case == "course-eps":
        mul = gain_mul(g, "blocks.1.o.norm.weight")
        normed = producer(g, next(v for v in mul.input
                                  if v != "blocks.1.o.norm.weight"))
        node = producer(g, normed.input[1])  # rsqrt: Reciprocal(Sqrt(Add))
        while node.op_type != "Add":
            node = producer(g, node.input[0])
        g.initializer.append(numpy_helper.from_array(
            np.array(1e-3, np.float32), "eps_1e-3"))
        node.input[1] = "eps_1e-3"
    elif case == "course-tanh":
        next(n for n in g.node if n.op_type == "Erf").op_type = "Tanh"
    elif case == "rope-interleaved":
        for n in g.node:
            if n.op_type == "RotaryEmbedding":
                next(a for a in n.attribute if a.name == "interleaved").i = 1
    elif case == "detours":
        first_add = next(n for n in g.node if n.op_type == "Add"
                         and "embedding" in n.input)
        detour(g, producer(g, "embedding"), [("Unsqueeze", [0]), ("Squeeze", [0])])
        table = producer(g, "embedding").input[0]
        hidden = next(i for i in g.initializer if i.name == table).dims[1]
        detour(g, first_add, [("Reshape", [-1, hidden]), ("Reshape", [1, -1, hidden]),
                              ("Expand", [1, 1, hidden])])
    elif case == "cache-sigmoid":
        next(n for n in g.node if n.op_type == "Relu").op_type = "Sigmoid"
    elif case == "rms-axis":
        norm = next(n for n in g.node if n.op_type == "RMSNormalization")
        next(a for a in norm.attribute if a.name == "axis").i = -2
    elif case == "row-bias":
        gemm = next(n for n in g.node if n.op_type == "Gemm")
        c = numpy_helper.to_array(next(i for i in g.initializer
                                       if i.name == gemm.input[2]))
        rows = numpy_helper.from_array(np.stack([c, -c]).astype(np.float32),
                                       "row_bias")
        g.initializer.append(rows)
        gemm.input[2] = "row_bias"
        for v in list(g.input) + list(g.output):
            v.type.tensor_type.shape.dim[0].dim_value = 2
    else:
        sys.exit(f"unknown case {case}")
    onnx.save(m, dst)


if __name__ == "__main__":
    main()
