//===- I2K64.cpp - the i2_k64 layout of the SIMD CPU kernels --------------===//
//
// Each row is cut into blocks of 64 along K (the last one padded with trit
// 0), 16 bytes per block: byte j of a block holds the codes t + 1 of
// k = 64b + j + 16i at bits 2i+1:2i, i = 0..3. One 16-byte load, replicated
// to four 128-bit lanes and masked per lane, gives the 64 codes in K order,
// ready for a byte dot product with 64 int8 activations. Rows go in groups
// of 8 (padded with trit-0 rows) whose blocks are interleaved: block b of
// row n is at byte ((n / 8 * blocks + b) * 8 + n % 8) * 16, so a kernel
// reading 8 rows at once streams memory sequentially.
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/PackedLayouts.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::layouts::i2_k64;

int64_t layouts::i2_k64::numBytes(int64_t n, int64_t k) {
  return llvm::alignTo(n, kRowGroup) * llvm::divideCeil(k, kBlock) *
         kBlockBytes;
}

void layouts::i2_k64::encode(ArrayRef<char> trits, int64_t n, int64_t k,
                             MutableArrayRef<char> out) {
  // Padding codes (K and rows) are 1, trit 0.
  int64_t blocks = llvm::divideCeil(k, kBlock);
  std::fill(out.begin(), out.end(), char(0x55));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < blocks * kBlock; ++c) {
      uint8_t code = c < k ? uint8_t(trits[r * k + c] + 1) : 1;
      int64_t block = c / kBlock, j = c % kBlockBytes,
              i = (c % kBlock) / kBlockBytes;
      char &byte =
          out[((r / kRowGroup * blocks + block) * kRowGroup + r % kRowGroup) *
                  kBlockBytes +
              j];
      byte = char((uint8_t(byte) & ~(3u << (2 * i))) | (code << (2 * i)));
    }
}

Value layouts::i2_k64::rowOffset(ImplicitLocOpBuilder &b, Value n,
                                 int64_t blocks) {
  auto idx = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(v); };
  return b.create<arith::AddIOp>(
      b.create<arith::MulIOp>(b.create<arith::DivUIOp>(n, idx(kRowGroup)),
                              idx(blocks * kBlockStride)),
      b.create<arith::MulIOp>(b.create<arith::RemUIOp>(n, idx(kRowGroup)),
                              idx(kBlockBytes)));
}

Value layouts::i2_k64::unpackBlock(ImplicitLocOpBuilder &b, Value bytes,
                                   int64_t group) {
  auto v16i32 = VectorType::get({16}, b.getI32Type());
  SmallVector<int64_t> replicate;
  for (int64_t lane = 0; lane < 4; ++lane)
    for (int64_t j = 0; j < kBlockBytes; ++j)
      replicate.push_back(j);
  Value wide = b.create<vector::ShuffleOp>(bytes, bytes, replicate);
  Value words = b.create<vector::BitCastOp>(v16i32, wide);
  auto constant = [&](ArrayRef<int32_t> values) -> Value {
    return b.create<arith::ConstantOp>(DenseElementsAttr::get(v16i32, values));
  };
  // 32-bit shifts and masks of 4 bytes: bits shifted in from the next byte
  // are masked.
  SmallVector<int32_t> shifts, masks;
  for (int32_t lane = 0; lane < 4; ++lane) {
    int32_t kept = lane % group;
    shifts.append(4, 2 * (lane - kept));
    masks.append(4, int32_t(0x03030303u << (2 * kept)));
  }
  if (group < 4)
    words = b.create<arith::ShRUIOp>(words, constant(shifts));
  words = b.create<arith::AndIOp>(words, constant(masks));
  return b.create<vector::BitCastOp>(VectorType::get({kBlock}, b.getI8Type()),
                                     words);
}

Value layouts::i2_k64::loadCode(ImplicitLocOpBuilder &b, Value w, Value block,
                                Value j) {
  auto idx = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(v); };
  Value byteIdx = b.create<arith::AddIOp>(
      block, b.create<arith::RemUIOp>(j, idx(kBlockBytes)));
  Value byte = b.create<arith::ExtUIOp>(
      b.getI32Type(), b.create<memref::LoadOp>(w, ValueRange{byteIdx}));
  Value shift = b.create<arith::IndexCastOp>(
      b.getI32Type(),
      b.create<arith::MulIOp>(b.create<arith::DivUIOp>(j, idx(kBlockBytes)),
                              idx(2)));
  return b.create<arith::AndIOp>(b.create<arith::ShRUIOp>(byte, shift),
                                 b.create<arith::ConstantIntOp>(3, 32));
}
