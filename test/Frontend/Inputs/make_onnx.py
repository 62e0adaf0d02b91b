#!/usr/bin/env python3
"""Small ONNX files for the frontend's checks, made with the onnx helper API
(Debian's python3-onnx).

usage: make_onnx.py DIR   writes DIR/CASE.onnx for every case below
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp(opset=17, nodes=None, inits=None, outputs=("y",)):
    """A BitLinear-style MLP in the offline form: MatMul with a ternary
    float weight, Mul by its scale, Relu."""
    w = numpy_helper.from_array(
        np.random.default_rng(0).integers(-1, 2, (8, 4)).astype(np.float32), "W")
    s = numpy_helper.from_array(np.array(0.5, np.float32), "s")
    nodes = nodes or [helper.make_node("MatMul", ["x", "W"], ["m"], name="matmul"),
                      helper.make_node("Mul", ["m", "s"], ["h"], name="scale"),
                      helper.make_node("Relu", ["h"], ["y"], name="relu")]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["n", 4]) for o in outputs],
        inits if inits is not None else [w, s])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def save(model, d, name):
    with open(os.path.join(d, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    save(mlp(), d, "valid")
    with open(os.path.join(d, "garbage.onnx"), "wb") as f:
        f.write(b"\xff\xfe this is not a protobuf \x00\x01")
    save(mlp(opset=11), d, "opset11")
    save(mlp(opset=24), d, "opset24")
    save(mlp(nodes=[helper.make_node("MatMul", ["x", "W"], ["m"], name="matmul"),
                    helper.make_node("Add", ["m", "nope"], ["y"], name="add")]),
         d, "dangling")
    save(mlp(outputs=("y", "z")), d, "unproduced")
    short = numpy_helper.from_array(np.zeros((8, 4), np.float32), "W")
    short.raw_data = b"\x00" * 12  # 12 bytes for 32 floats
    save(mlp(inits=[short, numpy_helper.from_array(np.array(0.5, np.float32), "s")]),
         d, "short-initializer")
    # External data: W's 128 bytes in weights.bin beside the model.
    ext = mlp()
    w = ext.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "weights.bin"), ("offset", "0"), ("length", "128")]:
        w.external_data.add(key=k, value=v)
    save(ext, d, "external-missing")
    os.makedirs(os.path.join(d, "ext"), exist_ok=True)
    save(ext, os.path.join(d, "ext"), "external-short")
    with open(os.path.join(d, "ext", "weights.bin"), "wb") as f:
        f.write(b"\x00" * 100)
    # A location outside the model's directory (as onnx.checker refuses).
    escape = onnx.ModelProto()
    escape.CopyFrom(ext)
    escape.graph.initializer[0].external_data[0].value = "../ok/weights.bin"
    save(escape, os.path.join(d, "ext"), "external-escape")
    os.makedirs(os.path.join(d, "ok"), exist_ok=True)
    save(ext, os.path.join(d, "ok"), "external")
    with open(os.path.join(d, "ok", "weights.bin"), "wb") as f:
        f.write(numpy_helper.to_array(mlp().graph.initializer[0]).tobytes())
    # Unsupported ops: every type listed, with counts and node names.
    save(mlp(nodes=[helper.make_node("MatMul", ["x", "W"], ["m"], name="matmul"),
                    helper.make_node("Conv", ["m"], ["e1"], name="conv_a"),
                    helper.make_node("Conv", ["e1"], ["e2"], name="conv_b"),
                    helper.make_node("Foo", ["e2"], ["y"], name="foo", domain="com.example")]),
         d, "unsupported")
    # A training-mode export: Dropout, with a hint.
    save(mlp(nodes=[helper.make_node("MatMul", ["x", "W"], ["m"], name="matmul"),
                    helper.make_node("Dropout", ["m"], ["y"], name="dropout")]),
         d, "dropout")
    # Token ids in, but a node that cannot run on the probe sequence.
    table = numpy_helper.from_array(np.ones((4, 8), np.float32), "E")
    shape = numpy_helper.from_array(np.array([3, 5], np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "ids"], ["h"], name="embed"),
         helper.make_node("Reshape", ["h", "shape"], ["y"], name="reshape")],
        "lm", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["seq"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [table, shape])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), d, "probe-error")

    # The generic path's errors.
    def graph_model(nodes, inputs, inits=(), out_shape=("n", 4)):
        graph = helper.make_graph(
            nodes, "g", inputs,
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))],
            list(inits))
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "features"])
    save(graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [x]),
         d, "symbolic-features")
    x8 = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])
    save(graph_model([helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=0)],
                     [x8], out_shape=("n", 8)), d, "softmax")
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([4], np.int64), "ends")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    save(graph_model([helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"],
                                       name="slice")], [x8], [starts, ends, axes]),
         d, "slice")
    save(graph_model([helper.make_node("Transpose", ["x"], ["t"], name="transpose"),
                      helper.make_node("Transpose", ["t"], ["y"], name="back")], [x8],
                     out_shape=("n", 8)), d, "transpose")
    i8 = helper.make_tensor_value_info("x", TensorProto.INT8, ["n", 8])
    save(graph_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
                     [i8, helper.make_tensor_value_info("z", TensorProto.INT8, ["n", 8])]),
         d, "integer-inputs")
    # Token ids and an input that is none of a language model's others.
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "n"])
    table = numpy_helper.from_array(np.ones((8, 4), np.float32), "table")
    save(graph_model([helper.make_node("Gather", ["table", "input_ids"], ["y"])],
                     [ids, helper.make_tensor_value_info("extra", TensorProto.INT64, [1, "n"])],
                     [table], out_shape=(1, "n", 4)),
         d, "unknown-lm-input")


if __name__ == "__main__":
    main()
