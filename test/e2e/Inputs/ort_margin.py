"""Rounding margins of an ONNX graph's activation quantizers, by onnxruntime.

Two correct fp32 implementations of a BitLinear may round x * s the other
way when it sits within ~1e-4 of a .5 boundary, and one such flip moves a
small model's outputs by ~1e-2 (SPEC 5.8). The checks therefore pick, among
candidate inputs, the one whose quantizer inputs are farthest from every
boundary: margin() runs the graph with the input of every Round node that
depends on the graph inputs added as an output.
"""
import numpy as np
import onnx
import onnxruntime as ort


class Margins:
    def __init__(self, path):
        model = onnx.load(path)
        g = model.graph
        dynamic = {i.name for i in g.input}
        rounds = []
        for n in g.node:
            if n.op_type != "Shape" and any(i in dynamic for i in n.input):
                dynamic.update(n.output)
                if n.op_type == "Round":
                    rounds.append(n.input[0])
        known = {o.name for o in g.output}
        for name in rounds:
            if name not in known:
                g.output.append(onnx.helper.make_empty_tensor_value_info(name))
        self.count = len(rounds)
        ort.set_default_logger_severity(3)
        self.session = ort.InferenceSession(model.SerializeToString(),
                                            providers=["CPUExecutionProvider"])
        self.first = len(model.graph.output) - len(rounds)

    def margin(self, feeds):
        """Smallest distance of any quantizer input to a .5 boundary."""
        outs = self.session.run(None, feeds)[self.first:]
        best = 0.5
        for v in outs:
            frac = np.abs(v - np.floor(v) - 0.5)
            best = min(best, float(frac.min()))
        return best
