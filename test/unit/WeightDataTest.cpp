//===- WeightDataTest.cpp - weight data helpers and packed sizes ----------===//

#include "Tern/IR/WeightData.h"
#include "tern/Pipeline/Pipeline.h"

#include "mlir/IR/MLIRContext.h"
#include <gtest/gtest.h>

#include <cstring>

namespace {

TEST(WeightData, ConvertsHalfAndBFloat) {
  mlir::MLIRContext context;
  mlir::Builder b(&context);
  // f16: 1.0, -2.0, 65504 (max), smallest subnormal, +inf.
  const uint16_t half[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00};
  float out[5];
  mlir::tern::convertToF32(b.getF16Type(), reinterpret_cast<const char *>(half),
                           5, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], 5.9604644775390625e-08f);
  EXPECT_TRUE(std::isinf(out[4]));
  // bf16: the top 16 bits of an f32.
  const uint16_t bf16[] = {0x3f80, 0xbe00};
  mlir::tern::convertToF32(b.getBF16Type(),
                           reinterpret_cast<const char *>(bf16), 2, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -0.125f);
}

TEST(WeightData, PackedSizes) {
  mlir::MLIRContext context;
  context.loadDialect<mlir::tern::TernDialect>();
  auto i2 = mlir::tern::PackedAttr::get(&context, mlir::tern::PackedLayout::I2);
  EXPECT_EQ(i2.getNumBytes(2560, 2560), 2560 * 640);
  EXPECT_EQ(i2.getNumBytes(3, 5), 3 * 2); // rows padded to whole bytes
  auto hf =
      mlir::tern::PackedAttr::get(&context, mlir::tern::PackedLayout::HFRows);
  EXPECT_EQ(hf.getNumBytes(6912, 2560), 1728 * 2560); // 4 rows per byte
}

TEST(Pipeline, PhaseNamesRoundTrip) {
  for (int p = 0; p <= static_cast<int>(mlir::tern::Phase::Lib); ++p) {
    auto phase = static_cast<mlir::tern::Phase>(p);
    EXPECT_EQ(mlir::tern::parsePhase(mlir::tern::phaseName(phase)), phase);
  }
  EXPECT_FALSE(mlir::tern::parsePhase("bogus"));
  EXPECT_TRUE(mlir::tern::isMLIRPhase(mlir::tern::Phase::LLVM));
  EXPECT_FALSE(mlir::tern::isMLIRPhase(mlir::tern::Phase::LLVMIR));
}

} // namespace
