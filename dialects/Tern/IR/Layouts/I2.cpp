//===- I2.cpp - the i2 layout: 2-bit codes, four per byte along K ---------===//
//
// Row n occupies ceil(K / 4) bytes; W[n, j] is the code t + 1 at bits
// 2 * (j % 4) of byte n * ceil(K / 4) + j / 4. The portable layout every
// target reads (the scalar kernels).
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/PackedLayouts.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::tern;

int64_t layouts::i2::numBytes(int64_t n, int64_t k) {
  return n * llvm::divideCeil(k, 4);
}

void layouts::i2::encode(ArrayRef<char> trits, int64_t n, int64_t k,
                         MutableArrayRef<char> out) {
  int64_t rowBytes = llvm::divideCeil(k, 4);
  std::fill(out.begin(), out.end(), 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      uint8_t code = uint8_t(trits[r * k + c] + 1);
      out[r * rowBytes + c / 4] |= char(code << (2 * (c % 4)));
    }
}

Value layouts::i2::loadCode(ImplicitLocOpBuilder &b, Value w, Value n, Value j,
                            int64_t k) {
  auto idx = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(v); };
  Value byteIdx =
      b.create<arith::AddIOp>(b.create<arith::MulIOp>(n, idx(numBytes(1, k))),
                              b.create<arith::DivUIOp>(j, idx(4)));
  Value byte = b.create<arith::ExtUIOp>(
      b.getI32Type(), b.create<memref::LoadOp>(w, ValueRange{byteIdx}));
  Value shift = b.create<arith::IndexCastOp>(
      b.getI32Type(),
      b.create<arith::MulIOp>(b.create<arith::RemUIOp>(j, idx(4)), idx(2)));
  return b.create<arith::AndIOp>(b.create<arith::ShRUIOp>(byte, shift),
                                 b.create<arith::ConstantIntOp>(3, 32));
}
