//===- QuantizeLMHead.cpp - an int8 LM head with per-row scales ----------===//
//
// For the 2B4T shape the full-precision head (the tied embedding) is more
// bytes per generated token than all ternary weights together. As an opt-in
// (ternc --lm-head=int8) each table row v becomes int8 codes with one f32
// scale: s_v = max_d |t[v, d]| / 127, q[v, d] = round(t[v, d] / s_v), so
// that t ~= q * s_v. The embedding keeps the exact table. tern.lm_head over
// such a table multiplies it by x rows rounded to integers (|xq| <= 6605
// for 2B4T's 2560 columns; the op's description): exact integer dot
// products, a few instructions per 16 values.
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/WeightData.h"
#include "Tern/Transforms/Passes.h"

#include <cmath>
#include <cstring>

namespace mlir::tern {
#define GEN_PASS_DEF_TERNQUANTIZELMHEAD
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

struct QuantizeLMHeadPass
    : mlir::tern::impl::TernQuantizeLMHeadBase<QuantizeLMHeadPass> {
  void runOnOperation() override {
    SmallVector<LMHeadOp> heads;
    getOperation().walk([&](LMHeadOp op) { heads.push_back(op); });
    for (LMHeadOp head : heads) {
      if (head.getScales())
        continue; // already int8
      auto table = head.getTable().getDefiningOp<WeightOp>();
      if (!table) {
        head.emitOpError() << "table must come from tern.weight";
        return signalPassFailure();
      }
      auto type = cast<RankedTensorType>(table.getType());
      int64_t rows = type.getDimSize(0), d = type.getDimSize(1);
      FailureOr<ArrayRef<char>> bytes = getWeightBytes(table);
      if (failed(bytes))
        return signalPassFailure();
      // Row by row: the table may be gigabytes of bf16.
      int64_t rowBytes = d * type.getElementTypeBitWidth() / 8;
      std::vector<float> row(d), scales(rows);
      auto readRow = [&](int64_t v) {
        convertToF32(type.getElementType(), bytes->data() + v * rowBytes, d,
                     row.data());
      };
      for (int64_t v = 0; v < rows; ++v) {
        readRow(v);
        float amax = 0;
        for (float x : row)
          amax = std::max(amax, std::fabs(x));
        scales[v] = amax > 0 ? amax / 127.0f : 1.0f;
      }
      OpBuilder builder(table);
      builder.setInsertionPointAfter(table);
      auto i8 = RankedTensorType::get({rows, d}, builder.getI8Type());
      WeightOp codes = createWeight(
          builder, table.getLoc(), (table.getName() + ".int8").str(), i8, i8,
          [&](MutableArrayRef<char> out) {
            for (int64_t v = 0; v < rows; ++v) {
              readRow(v);
              for (int64_t j = 0; j < d; ++j)
                out[v * d + j] = char(int8_t(std::clamp(
                    std::nearbyint(row[j] / scales[v]), -127.0f, 127.0f)));
            }
          });
      auto f32 = RankedTensorType::get({rows}, builder.getF32Type());
      WeightOp rowScales = createWeight(
          builder, table.getLoc(), (table.getName() + ".int8_scale").str(), f32,
          f32, [&](MutableArrayRef<char> out) {
            std::memcpy(out.data(), scales.data(), rows * sizeof(float));
          });
      head.getTableMutable().assign(codes.getResult());
      head.getScalesMutable().assign(rowScales.getResult());
      if (table->use_empty())
        table.erase();
    }
  }
};

} // namespace
