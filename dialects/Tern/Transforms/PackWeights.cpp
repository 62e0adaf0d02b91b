//===- PackWeights.cpp - ternary weights -> packed byte layouts -----------===//

#include "Tern/IR/WeightData.h"
#include "Tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNPACKWEIGHTS
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

/// i2: code t+1 in bits 2*(k%4) of byte k/4 of row n (see #tern.packed).
void packI2(ArrayRef<char> trits, int64_t n, int64_t k,
            MutableArrayRef<char> out) {
  int64_t rowBytes = llvm::divideCeil(k, 4);
  std::fill(out.begin(), out.end(), 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      uint8_t code = uint8_t(trits[r * k + c] + 1);
      out[r * rowBytes + c / 4] |= char(code << (2 * (c % 4)));
    }
}

/// i2_k64: 16 bytes per 64-wide block of a row, byte j holding k = j + 16i
/// at bits 2i; the blocks of 8 consecutive rows interleaved (see
/// #tern.packed). Padding codes (K and rows) are 1, trit 0.
void packI2K64(ArrayRef<char> trits, int64_t n, int64_t k,
               MutableArrayRef<char> out) {
  int64_t blocks = llvm::divideCeil(k, 64);
  std::fill(out.begin(), out.end(), char(0x55));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < blocks * 64; ++c) {
      uint8_t code = c < k ? uint8_t(trits[r * k + c] + 1) : 1;
      int64_t block = c / 64, j = c % 16, i = (c % 64) / 16;
      char &byte = out[((r / 8 * blocks + block) * 8 + r % 8) * 16 + j];
      byte = char((uint8_t(byte) & ~(3u << (2 * i))) | (code << (2 * i)));
    }
}

/// gpu_w2: word b * N + n holds the codes of k = 16b + j of row n at bits
/// 2j (see #tern.packed); padding codes are 1, trit 0.
void packGpuW2(ArrayRef<char> trits, int64_t n, int64_t k,
               MutableArrayRef<char> out) {
  int64_t blocks = llvm::divideCeil(k, 16);
  std::fill(out.begin(), out.end(), char(0x55));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      uint8_t code = uint8_t(trits[r * k + c] + 1);
      char &byte = out[((c / 16) * n + r) * 4 + (c % 16) / 4];
      int shift = 2 * (c % 4);
      byte = char((uint8_t(byte) & ~(3u << shift)) | (code << shift));
    }
}

struct PackWeightsPass
    : mlir::tern::impl::TernPackWeightsBase<PackWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    std::optional<PackedLayout> kind = symbolizePackedLayout(layout);
    if (!kind || *kind == PackedLayout::HFRows) {
      getOperation().emitError()
          << "tern-pack-weights: '" << layout
          << "' is not a kernel layout (known: i2, i2_k64, gpu_w2)";
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    auto packedAttr = PackedAttr::get(ctx, *kind);
    SmallVector<WeightOp> todo;
    getOperation().walk([&](WeightOp op) {
      if (isTernaryTensor(op.getType()) &&
          getPackedEncoding(op.getType()) != packedAttr)
        todo.push_back(op);
    });
    SmallVector<Attribute> dropped;
    for (WeightOp op : todo) {
      auto type = cast<RankedTensorType>(op.getType());
      FailureOr<ArrayRef<char>> trits = getWeightBytes(op);
      if (failed(trits))
        return signalPassFailure();
      int64_t n = type.getDimSize(0), k = type.getDimSize(1);
      // Other packed layouts are decoded first; one matrix at a time.
      std::vector<char> decoded;
      if (PackedAttr from = getPackedEncoding(type)) {
        if (from.getLayout() != PackedLayout::HFRows) {
          op.emitOpError() << "weight '" << op.getName() << "' is already "
                           << "packed as " << from << "; cannot repack it";
          return signalPassFailure();
        }
        decoded.resize(n * k);
        unpackHFRows(*trits, n, k, decoded);
        trits = ArrayRef<char>(decoded);
      }
      for (size_t i = 0; i < trits->size(); ++i)
        if ((*trits)[i] < -1 || (*trits)[i] > 1) {
          op.emitOpError() << "weight '" << op.getName() << "' element " << i
                           << " is " << int((*trits)[i])
                           << ", not a ternary value (-1, 0 or +1)";
          return signalPassFailure();
        }
      int64_t bytes = packedAttr.getNumBytes(n, k);
      auto result = RankedTensorType::get(type.getShape(),
                                          type.getElementType(), packedAttr);
      auto storage = RankedTensorType::get({bytes}, IntegerType::get(ctx, 8));
      OpBuilder builder(op);
      WeightOp packed = createWeight(builder, op.getLoc(), op.getName(), result,
                                     storage, [&](MutableArrayRef<char> out) {
                                       if (*kind == PackedLayout::I2K64)
                                         packI2K64(*trits, n, k, out);
                                       else if (*kind == PackedLayout::GpuW2)
                                         packGpuW2(*trits, n, k, out);
                                       else
                                         packI2(*trits, n, k, out);
                                     });
      op.replaceAllUsesWith(packed.getResult());
      dropped.push_back(op.getValue());
      op.erase();
    }
    releaseUnusedWeightData(getOperation(), dropped);
  }
};

} // namespace
