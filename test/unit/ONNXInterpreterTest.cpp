//===- ONNXInterpreterTest.cpp - the probe interpreter's newer ops --------===//
//
// Ops the torch 2.x exporters emit around transformers' causal mask, on the
// ONNX specification's own examples.
//
//===----------------------------------------------------------------------===//

#include "ONNX/ONNXGraph.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace mlir::tern::onnx_frontend;
using T = onnx::TensorProto;

namespace {

onnx::NodeProto node(const std::string &op,
                     std::vector<std::pair<std::string, int64_t>> attrs = {}) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(op + "_0");
  for (auto &[name, value] : attrs) {
    onnx::AttributeProto *a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  return n;
}

Tensor run(const onnx::NodeProto &n, std::vector<const Tensor *> in) {
  auto out = evaluateNode(n, in, "");
  EXPECT_TRUE(bool(out)) << (out ? "" : llvm::toString(out.takeError()));
  return out ? std::move((*out)[0]) : Tensor();
}

TEST(ONNXInterpreter, GatherND) {
  Tensor data = Tensor::ints(T::INT64, {2, 2}, {0, 1, 2, 3});
  Tensor idx = Tensor::ints(T::INT64, {2, 2}, {0, 0, 1, 1});
  Tensor out = run(node("GatherND"), {&data, &idx});
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(out.i.vec(), (std::vector<int64_t>{0, 3}));
  // Rows by index: [[1], [0]] picks rows 1 and 0.
  Tensor rows = Tensor::ints(T::INT64, {2, 1}, {1, 0});
  out = run(node("GatherND"), {&data, &rows});
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out.i.vec(), (std::vector<int64_t>{2, 3, 0, 1}));
  // batch_dims = 1 on floats.
  Tensor data3 = Tensor::floats({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  out = run(node("GatherND", {{"batch_dims", 1}}), {&data3, &rows});
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out.f.vec(), (std::vector<float>{2, 3, 4, 5}));
  // Out of range is an error naming the node.
  Tensor far = Tensor::ints(T::INT64, {1, 1}, {2});
  auto bad = evaluateNode(node("GatherND"), {&data, &far}, "");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "node 'GatherND_0' (GatherND): index 2 is out of range for a "
            "dimension of 2");
}

TEST(ONNXInterpreter, CumSum) {
  Tensor x = Tensor::floats({5}, {1, 2, 3, 4, 5});
  Tensor axis = Tensor::ints(T::INT64, {}, {0});
  EXPECT_EQ(run(node("CumSum"), {&x, &axis}).f.vec(),
            (std::vector<float>{1, 3, 6, 10, 15}));
  EXPECT_EQ(run(node("CumSum", {{"exclusive", 1}}), {&x, &axis}).f.vec(),
            (std::vector<float>{0, 1, 3, 6, 10}));
  EXPECT_EQ(run(node("CumSum", {{"reverse", 1}}), {&x, &axis}).f.vec(),
            (std::vector<float>{15, 14, 12, 9, 5}));
  EXPECT_EQ(run(node("CumSum", {{"exclusive", 1}, {"reverse", 1}}), {&x, &axis})
                .f.vec(),
            (std::vector<float>{14, 12, 9, 5, 0}));
  // Along the last axis of a matrix, on integers.
  Tensor m = Tensor::ints(T::INT64, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor last = Tensor::ints(T::INT32, {1}, {-1});
  EXPECT_EQ(run(node("CumSum"), {&m, &last}).i.vec(),
            (std::vector<int64_t>{1, 3, 6, 4, 9, 15}));
}

TEST(ONNXInterpreter, IsNaNIsInfFlatten) {
  Tensor x = Tensor::floats({2, 2}, {1.0f, NAN, INFINITY, -INFINITY});
  Tensor nan = run(node("IsNaN"), {&x});
  EXPECT_EQ(nan.type, T::BOOL);
  EXPECT_EQ(nan.i.vec(), (std::vector<int64_t>{0, 1, 0, 0}));
  EXPECT_EQ(run(node("IsInf"), {&x}).i.vec(),
            (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(run(node("IsInf", {{"detect_negative", 0}}), {&x}).i.vec(),
            (std::vector<int64_t>{0, 0, 1, 0}));
  Tensor y = Tensor::floats({2, 3, 4}, std::vector<float>(24, 1.0f));
  EXPECT_EQ(run(node("Flatten"), {&y}).shape, (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(run(node("Flatten", {{"axis", 0}}), {&y}).shape,
            (std::vector<int64_t>{1, 24}));
  EXPECT_EQ(run(node("Flatten", {{"axis", -1}}), {&y}).shape,
            (std::vector<int64_t>{6, 4}));
}

TEST(ONNXInterpreter, BitwiseCastLikeScatterND) {
  // uint8 codes unpacked as transformers' BitNet unpacking does.
  Tensor a = Tensor::ints(T::UINT8, {3}, {0xF0, 0x0F, 0xAA});
  Tensor mask = Tensor::ints(T::UINT8, {}, {0x3C});
  EXPECT_EQ(run(node("BitwiseAnd"), {&a, &mask}).i.vec(),
            (std::vector<int64_t>{0x30, 0x0C, 0x28}));
  EXPECT_EQ(run(node("BitwiseOr"), {&a, &mask}).i.vec(),
            (std::vector<int64_t>{0xFC, 0x3F, 0xBE}));
  EXPECT_EQ(run(node("BitwiseXor"), {&a, &mask}).i.vec(),
            (std::vector<int64_t>{0xCC, 0x33, 0x96}));
  EXPECT_EQ(run(node("BitwiseNot"), {&a}).i.vec(),
            (std::vector<int64_t>{0x0F, 0xF0, 0x55}));
  Tensor f = Tensor::floats({}, {0.0f});
  Tensor cast = run(node("CastLike"), {&a, &f});
  EXPECT_TRUE(cast.isFloat());
  EXPECT_EQ(cast.f.vec(), (std::vector<float>{240, 15, 170}));
  // The specification's example: rows 0 and 2 of a [4, 2] replaced.
  Tensor data = Tensor::floats({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor idx = Tensor::ints(T::INT64, {2, 1}, {0, 2});
  Tensor upd = Tensor::floats({2, 2}, {9, 10, 11, 12});
  EXPECT_EQ(run(node("ScatterND"), {&data, &idx, &upd}).f.vec(),
            (std::vector<float>{9, 10, 3, 4, 11, 12, 7, 8}));
  Tensor elems = Tensor::ints(T::INT64, {2, 2}, {0, 1, 3, 0});
  Tensor two = Tensor::floats({2}, {100, 200});
  EXPECT_EQ(run(node("ScatterND"), {&data, &elems, &two}).f.vec(),
            (std::vector<float>{1, 100, 3, 4, 5, 6, 200, 8}));
}

} // namespace

namespace {
onnx::NodeProto einsum(const std::string &equation) {
  onnx::NodeProto n = node("Einsum");
  onnx::AttributeProto *a = n.add_attribute();
  a->set_name("equation");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(equation);
  return n;
}
} // namespace

TEST(ONNXInterpreter, Einsum) {
  // torch.outer as the legacy exporter writes it (RoPE's angle table).
  Tensor p = Tensor::floats({3}, {0, 1, 2});
  Tensor f = Tensor::floats({2}, {1, 0.5});
  Tensor out = run(einsum("i,j->ij"), {&p, &f});
  EXPECT_EQ(out.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(out.f.vec(), (std::vector<float>{0, 0, 1, 0.5, 2, 1}));
  // A batched product, a transpose, a trace and the implicit output form.
  Tensor a = Tensor::floats({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor b = Tensor::floats({2, 2, 1}, {1, 1, 2, 0});
  out = run(einsum("bij, bjk -> bik"), {&a, &b});
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(out.f.vec(), (std::vector<float>{3, 7, 10, 14}));
  Tensor m = Tensor::floats({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(run(einsum("ij->ji"), {&m}).f.vec(),
            (std::vector<float>{1, 3, 2, 4}));
  EXPECT_EQ(run(einsum("ii"), {&m}).f.vec(), (std::vector<float>{5}));
  EXPECT_EQ(run(einsum("ij,jk"), {&m, &m}).f.vec(),
            (std::vector<float>{7, 10, 15, 22}));
  // Unsupported or inconsistent equations are errors naming the node.
  auto bad = evaluateNode(einsum("...i,i->..."), {&m, &f}, "");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "node 'Einsum_0' (Einsum): has an ellipsis ('...') in its "
            "equation '...i,i->...', which Tern does not support");
  bad = evaluateNode(einsum("ij,j->i"), {&m, &p}, "");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "node 'Einsum_0' (Einsum): gives label 'j' sizes 2 and 3");
}

TEST(ONNXInterpreter, Opset23Transformer) {
  // RMSNormalization over the last axis (epsilon 0 for round numbers).
  onnx::NodeProto rms = node("RMSNormalization");
  onnx::AttributeProto *eps = rms.add_attribute();
  eps->set_name("epsilon");
  eps->set_type(onnx::AttributeProto::FLOAT);
  eps->set_f(0);
  Tensor x = Tensor::floats({2, 2}, {3, 4, 1, 1}),
         gain = Tensor::floats({2}, {1, 2});
  std::vector<float> y = run(rms, {&x, &gain}).f.vec();
  EXPECT_FLOAT_EQ(y[0], 3 / std::sqrt(12.5f));
  EXPECT_FLOAT_EQ(y[1], 8 / std::sqrt(12.5f));
  EXPECT_EQ(std::vector<float>(y.begin() + 2, y.end()),
            (std::vector<float>{1, 2}));

  // RotaryEmbedding on [batch 1, heads 1, seq 2, head 2]: position 1 turns
  // by 90 degrees; with position_ids the caches are read by id.
  Tensor q = Tensor::floats({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor cos = Tensor::floats({1, 2, 1}, {1, 0}),
         sin = Tensor::floats({1, 2, 1}, {0, 1});
  EXPECT_EQ(run(node("RotaryEmbedding"), {&q, &cos, &sin}).f.vec(),
            (std::vector<float>{1, 2, -4, 3}));
  Tensor cos2 = Tensor::floats({2, 1}, {1, 0}),
         sin2 = Tensor::floats({2, 1}, {0, 1});
  Tensor ids = Tensor::ints(T::INT64, {1, 2}, {1, 0});
  EXPECT_EQ(run(node("RotaryEmbedding"), {&q, &cos2, &sin2, &ids}).f.vec(),
            (std::vector<float>{-2, 1, 3, 4}));
  Tensor interleaved = Tensor::floats({1, 1, 2, 2}, {0, 0, 0, 0});
  EXPECT_EQ(run(node("RotaryEmbedding", {{"interleaved", 1}}),
                {&interleaved, &cos, &sin})
                .shape,
            (std::vector<int64_t>{1, 1, 2, 2}));

  // Attention: equal scores, so a query averages the values it may see.
  // Two query heads share one KV head (GQA).
  Tensor Q = Tensor::floats({1, 2, 2, 1}, {1, 1, 1, 1}),
         K = Tensor::floats({1, 1, 2, 1}, {0, 0}),
         V = Tensor::floats({1, 1, 2, 1}, {2, 4});
  onnx::NodeProto causal = node("Attention", {{"is_causal", 1}});
  causal.add_output("y");
  EXPECT_EQ(run(causal, {&Q, &K, &V}).f.vec(),
            (std::vector<float>{2, 3, 2, 3}));
  // The same with a boolean mask instead.
  Tensor mask = Tensor::ints(T::BOOL, {2, 2}, {1, 0, 1, 1});
  EXPECT_EQ(run(node("Attention"), {&Q, &K, &V, &mask}).f.vec(),
            (std::vector<float>{2, 3, 2, 3}));
  // A past of one position: causal from there; present = past + new.
  Tensor pastK = Tensor::floats({1, 1, 1, 1}, {0}),
         pastV = Tensor::floats({1, 1, 1, 1}, {6});
  causal.add_output("present_key");
  causal.add_output("present_value");
  auto out = evaluateNode(causal, {&Q, &K, &V, nullptr, &pastK, &pastV}, "");
  ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
  EXPECT_EQ((*out)[0].f.vec(), (std::vector<float>{4, 4, 4, 4}));
  EXPECT_EQ((*out)[2].f.vec(), (std::vector<float>{6, 2, 4}));
  // What Tern does not run is an error naming the node.
  auto bad = evaluateNode(node("Attention"),
                          {&Q, &K, &V, nullptr, nullptr, nullptr, &ids}, "");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "node 'Attention_0' (Attention): has nonpad_kv_seqlen, which "
            "Tern does not support");
}

namespace {
/// The error `op` gives on these inputs (the test fails if it runs).
std::string failure(const onnx::NodeProto &n, std::vector<const Tensor *> in) {
  auto out = evaluateNode(n, in, "");
  if (out)
    return "(ran)";
  return llvm::toString(out.takeError());
}
} // namespace

// What a hostile graph can hand each op: the wrong kind of tensor, empty
// settings, shapes that do not fit, sizes nothing could allocate. Each is
// an error naming the node; under the sanitizer suite, none reads or
// writes out of bounds.
TEST(ONNXInterpreter, HostileInputs) {
  Tensor f = Tensor::floats({2, 2}, {1, 2, 3, 4});
  Tensor i = Tensor::ints(T::INT64, {2, 2}, {1, 2, 3, 4});
  Tensor empty = Tensor::ints(T::INT64, {0}, {});
  Tensor zero = Tensor::ints(T::INT64, {}, {0});
  Tensor big = Tensor::ints(T::INT64, {2}, {int64_t(1) << 20, 1 << 20});
  Tensor wide = Tensor::floats({1, 1 << 16}, std::vector<float>(1 << 16));
  Tensor tall = Tensor::floats({1 << 16, 1}, std::vector<float>(1 << 16));
  struct Case {
    const char *op;
    std::vector<const Tensor *> in;
    const char *error;
  } cases[] = {
      {"MatMul", {&f, &i}, "inputs 0 and 1 must both hold floats"},
      {"MatMul", {&tall, &wide}, "[65536, 65536] is too large"},
      {"Gemm", {&f, &f, &i}, "input 2 must hold floats"},
      {"Gemm", {&f, &f, &tall}, "has a C [65536, 1] that does not broadcast"},
      {"MatMulInteger", {&i, &f}, "input 1 must hold integers"},
      {"MatMulInteger", {&i, &i, &empty}, "input 2 must have a value"},
      {"DequantizeLinear", {&f, &f}, "input 0 must hold integers"},
      {"SimplifiedLayerNormalization", {&f, &i}, "input 1 must hold floats"},
      {"SimplifiedLayerNormalization", {&zero, &f}, "input 0 must hold"},
      {"LayerNormalization", {&f, &empty}, "input 1 must hold floats"},
      {"Where", {&i, &f, &i}, "inputs 1 and 2 must both hold"},
      {"Clip", {&f, &empty}, "input 1 must have a value"},
      {"Range", {&zero, &empty, &zero}, "input 1 must have a value"},
      {"Trilu", {&f, &empty}, "input 1 must have a value"},
      {"CumSum", {&f, &empty}, "input 1 must have a value"},
      {"ConstantOfShape", {&big}, "[1048576, 1048576] is too large"},
      {"Expand", {&zero, &big}, "is too large to evaluate"},
      {"Gather", {&wide, &tall}, "is too large to evaluate"},
      {"Concat", {&f, &tall}, "differ off the axis"},
      {"Transpose", {&tall}, "(ran)"},
      {"ReduceSum", {&empty}, "(ran)"},
  };
  for (const Case &c : cases)
    EXPECT_NE(failure(node(c.op), c.in).find(c.error), std::string::npos)
        << c.op << ": " << failure(node(c.op), c.in);

  // A transpose whose perm repeats an axis; a GatherND whose batch
  // dimension differs from the data's; Split into no outputs.
  onnx::NodeProto t = node("Transpose");
  onnx::AttributeProto *perm = t.add_attribute();
  perm->set_name("perm");
  perm->set_type(onnx::AttributeProto::INTS);
  perm->add_ints(0);
  perm->add_ints(0);
  EXPECT_EQ(failure(t, {&f}), "node 'Transpose_0' (Transpose): perm [0, 0] "
                              "is not a permutation of 2 axes");
  Tensor idx = Tensor::ints(T::INT64, {3, 1}, {0, 0, 0});
  EXPECT_NE(failure(node("GatherND", {{"batch_dims", 1}}), {&f, &idx})
                .find("differ in the batch dimensions"),
            std::string::npos);
  EXPECT_EQ(failure(node("Split"), {&f}),
            "node 'Split_0' (Split): has no outputs");

  // Integer arithmetic wraps as two's complement instead of overflowing.
  Tensor lo = Tensor::ints(T::INT64, {}, {INT64_MIN}),
         minus1 = Tensor::ints(T::INT64, {}, {-1}),
         shift = Tensor::ints(T::INT64, {}, {64});
  EXPECT_EQ(run(node("Div"), {&lo, &minus1}).i.vec()[0], INT64_MIN);
  EXPECT_EQ(run(node("Sub"), {&lo, &minus1}).i.vec()[0], INT64_MIN + 1);
  EXPECT_EQ(run(node("Add"), {&lo, &minus1}).i.vec()[0], INT64_MAX);
  EXPECT_EQ(run(node("Mul"), {&lo, &minus1}).i.vec()[0], INT64_MIN);
  EXPECT_EQ(run(node("Neg"), {&lo}).i.vec()[0], INT64_MIN);
  EXPECT_EQ(run(node("Abs"), {&lo}).i.vec()[0], INT64_MIN);
  EXPECT_EQ(run(node("BitShift"), {&minus1, &shift}).i.vec()[0], 0);
  EXPECT_EQ(run(node("Pow"), {&minus1, &lo}).i.vec()[0], 1);
  Tensor lows = Tensor::ints(T::INT64, {2}, {INT64_MIN, -1});
  EXPECT_EQ(run(node("ReduceSum"), {&lows}).i.vec()[0], INT64_MAX);
}

// The remaining checks: norms without rows or scales, initializers no
// tensor can have, and values defined twice.
TEST(ONNXInterpreter, HostileShapesAndGraphs) {
  Tensor scalar = Tensor::floats({}, {1}), f = Tensor::floats({2}, {1, 2}),
         none = Tensor::floats({0}, {});
  EXPECT_NE(failure(node("SimplifiedLayerNormalization"), {&scalar, &f})
                .find("needs X of rank 1 or more and a scale"),
            std::string::npos);
  EXPECT_NE(failure(node("LayerNormalization"), {&f, &none})
                .find("needs a Scale and B with values"),
            std::string::npos);

  auto tensorError = [](std::vector<int64_t> dims, int32_t type) {
    onnx::TensorProto p;
    p.set_name("w");
    p.set_data_type(type);
    for (int64_t d : dims)
      p.add_dims(d);
    auto t = readTensor(p, "");
    return t ? std::string("(read)") : llvm::toString(t.takeError());
  };
  EXPECT_EQ(tensorError({-1, -1}, T::FLOAT),
            "tensor 'w' has shape [-1, -1], with a negative dimension");
  EXPECT_EQ(tensorError({int64_t(1) << 21, int64_t(1) << 21}, T::FLOAT),
            "tensor 'w' has shape [2097152, 2097152], more than 2^40 elements");
  EXPECT_EQ(tensorError({1}, T::STRING),
            "tensor 'w' has data type 8, which Tern does not read");

  onnx::GraphProto g;
  for (const char *name : {"a", "b"}) {
    onnx::NodeProto *n = g.add_node();
    n->set_op_type("Constant");
    n->set_name(name);
    n->add_output("x");
    onnx::AttributeProto *v = n->add_attribute();
    v->set_name("value_float");
    v->set_type(onnx::AttributeProto::FLOAT);
    v->set_f(1);
  }
  GraphValues values(g);
  llvm::Error e = values.run({}, "");
  EXPECT_EQ(llvm::toString(std::move(e)),
            "value 'x' is defined twice (again by node 'b')");
}
