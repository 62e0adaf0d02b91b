//===- GpuW2.cpp - the gpu_w2 layout of the NVIDIA kernels ----------------===//
//
// One thread per output row: each row is cut into blocks of 16 along K (the
// last one padded with trit 0); block b of row n is the 32-bit
// little-endian word b * N + n, holding the codes t + 1 of k = 16b + j at
// bits 2j+1:2j. The threads of a warp (consecutive rows) read consecutive
// words: every load is coalesced.
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/PackedLayouts.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::layouts::gpu_w2;

int64_t layouts::gpu_w2::numBytes(int64_t n, int64_t k) {
  return n * llvm::divideCeil(k, kBlock) * 4;
}

void layouts::gpu_w2::encode(ArrayRef<char> trits, int64_t n, int64_t k,
                             MutableArrayRef<char> out) {
  // Padding codes are 1, trit 0.
  std::fill(out.begin(), out.end(), char(0x55));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      uint8_t code = uint8_t(trits[r * k + c] + 1);
      char &byte = out[((c / kBlock) * n + r) * 4 + (c % kBlock) / 4];
      int shift = 2 * (c % 4);
      byte = char((uint8_t(byte) & ~(3u << shift)) | (code << shift));
    }
}

Value layouts::gpu_w2::wordIndex(OpBuilder &b, Location loc, Value block,
                                 Value row, int64_t n) {
  return b.create<arith::AddIOp>(
      loc,
      b.create<arith::MulIOp>(loc, block,
                              b.create<arith::ConstantIndexOp>(loc, n)),
      row);
}
