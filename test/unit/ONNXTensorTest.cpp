//===- ONNXTensorTest.cpp - the ONNX frontend's tensor storage ------------===//
//
// Initializers are read in place at their stored type, computed constants
// with few values become palettes, and every storage reads the same values.
//
//===----------------------------------------------------------------------===//

#include "ONNX/ONNXGraph.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace mlir::tern::onnx_frontend;
using T = onnx::TensorProto;

namespace {

template <typename V>
T proto(int32_t type, std::vector<int64_t> dims, const std::vector<V> &data) {
  T t;
  t.set_name("w");
  t.set_data_type(type);
  for (int64_t d : dims)
    t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char *>(data.data()),
                             data.size() * sizeof(V)));
  return t;
}

TEST(ONNXTensor, ReadsIntegersInPlaceAtTheirWidth) {
  std::vector<uint8_t> u8 = {0, 1, 255, 0x1b};
  T p = proto(T::UINT8, {2, 2}, u8);
  auto t = readTensor(p, "");
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_FALSE(t->isFloat());
  EXPECT_EQ(t->type, T::UINT8);
  EXPECT_EQ(t->i.size(), 4);
  EXPECT_EQ(t->i[2], 255);
  EXPECT_EQ(t->i[3], 0x1b);
  // A view: the elements are the model's bytes, not a widened copy.
  EXPECT_EQ(t->i.vec(), (std::vector<int64_t>{0, 1, 255, 0x1b}));

  std::vector<int8_t> s8 = {-1, 1, -128, 127};
  T q = proto(T::INT8, {4}, s8);
  auto t8 = readTensor(q, "");
  ASSERT_TRUE(bool(t8));
  EXPECT_EQ(t8->i.vec(), (std::vector<int64_t>{-1, 1, -128, 127}));

  // Views of the protos' bytes: the protos must outlive them.
  std::vector<int16_t> s16 = {-2, 300};
  T p16 = proto(T::INT16, {2}, s16);
  auto t16 = readTensor(p16, "");
  ASSERT_TRUE(bool(t16));
  EXPECT_EQ(t16->i.vec(), (std::vector<int64_t>{-2, 300}));

  std::vector<uint32_t> u32 = {4000000000u};
  T p32 = proto(T::UINT32, {1}, u32);
  auto tu = readTensor(p32, "");
  ASSERT_TRUE(bool(tu));
  EXPECT_EQ(tu->i[0], 4000000000ll);
}

TEST(ONNXTensor, ReadsFloatsInPlace) {
  std::vector<float> f = {1.5f, -0.0f, 3.0f};
  T p = proto(T::FLOAT, {3}, f);
  auto t = readTensor(p, "");
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->f.vec(), f);
  // f16 and bf16 are widened when read, not when loaded.
  std::vector<uint16_t> half = {0x3c00, 0xc000};
  T ph = proto(T::FLOAT16, {2}, half);
  auto th = readTensor(ph, "");
  ASSERT_TRUE(bool(th));
  EXPECT_EQ(th->f.vec(), (std::vector<float>{1.0f, -2.0f}));
  std::vector<uint16_t> bf = {0x3f80, 0xbe00};
  T pb = proto(T::BFLOAT16, {2}, bf);
  auto tb = readTensor(pb, "");
  ASSERT_TRUE(bool(tb));
  EXPECT_EQ(tb->f.vec(), (std::vector<float>{1.0f, -0.125f}));
}

TEST(ONNXTensor, RejectsRawDataOfTheWrongSize) {
  std::vector<float> f = {1, 2, 3};
  auto t = readTensor(proto(T::FLOAT, {4}, f), "");
  ASSERT_FALSE(bool(t));
  EXPECT_NE(llvm::toString(t.takeError()).find("wrong number of bytes"),
            std::string::npos);
}

TEST(ONNXTensor, WritingAViewCopiesIt) {
  std::vector<float> f = {1, 2};
  T p = proto(T::FLOAT, {2}, f);
  auto t = readTensor(p, "");
  ASSERT_TRUE(bool(t));
  Tensor copy = *t;
  copy.f.values()[0] = 7;
  EXPECT_EQ(copy.f[0], 7);
  EXPECT_EQ(t->f[0], 1); // the model's bytes are untouched
  float stored;
  std::memcpy(&stored, p.raw_data().data(), 4);
  EXPECT_EQ(stored, 1);
}

TEST(ONNXTensor, KeepsFewValuesAsAPalette) {
  // A folded ternary weight: three values (and -0, a fourth bit pattern).
  std::vector<float> w;
  for (int k = 0; k < 1000; ++k)
    w.push_back(k % 4 == 0   ? 0.25f
                : k % 4 == 1 ? -0.25f
                : k % 4 == 2 ? 0
                             : -0.0f);
  Elements<float> e(w);
  ASSERT_TRUE(e.compact());
  EXPECT_EQ(e.size(), 1000);
  EXPECT_EQ(e.vec(), w);
  EXPECT_TRUE(std::signbit(e[3]));
  std::vector<float> span(3);
  e.read(997, 3, span.data());
  EXPECT_EQ(span, (std::vector<float>{-0.25f, 0, -0.0f}));
  // Writing turns it back into values.
  e.values()[1] = 5;
  EXPECT_EQ(e[1], 5);
  EXPECT_EQ(e[0], 0.25f);

  // More than 256 values stay as they are.
  std::vector<float> many;
  for (int k = 0; k < 300; ++k)
    many.push_back(float(k));
  Elements<float> m(many);
  EXPECT_FALSE(m.compact());
  EXPECT_EQ(m.vec(), many);
}

} // namespace
