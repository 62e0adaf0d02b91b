//===- PackedBF16.cpp - bf16 tables in about 12 bits per value ------------===//
//
// #tern.packed_bf16 (TernAttrs.td): each value's high byte (sign and the top
// 7 exponent bits) as a 4-bit code into a window of 8 exponent pairs, the
// low byte as is; blocks with a high byte outside the window keep all 64
// high bytes after the rows. Lossless: decoding gives the stored bits.
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/PackedLayouts.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cstring>

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::layouts::packed_bf16;

int64_t layouts::packed_bf16::rowBytes(int64_t d) {
  return kHeaderBytes + d / kBlock * kBlockBytes;
}

int64_t layouts::packed_bf16::numBytes(int64_t v, int64_t d, int64_t escapes) {
  return v * rowBytes(d) + escapes * kBlock;
}

bool layouts::packed_bf16::fits(int64_t d) {
  return d > 0 && d % kBlock == 0 && d / kBlock <= 64;
}

/// Whether a block of kBlock values has a high byte outside the window.
static bool escapes(const uint16_t *block, int64_t base) {
  for (int64_t j = 0; j < kBlock; ++j) {
    int64_t pair = (block[j] >> 8) & 0x7f;
    if (pair < base || pair >= base + 8)
      return true;
  }
  return false;
}

Window layouts::packed_bf16::chooseWindow(const uint16_t *values, int64_t v,
                                          int64_t d) {
  // The 8 consecutive exponent pairs that hold the most values, then the
  // blocks that still escape.
  std::array<int64_t, 128> count{};
  for (int64_t i = 0; i < v * d; ++i)
    ++count[(values[i] >> 8) & 0x7f];
  Window best;
  int64_t bestCount = -1;
  for (int64_t base = 0; base + 8 <= 128; ++base) {
    int64_t held = 0;
    for (int64_t p = base; p < base + 8; ++p)
      held += count[p];
    if (held > bestCount) {
      bestCount = held;
      best.base = base;
    }
  }
  for (int64_t block = 0; block < v * d / kBlock; ++block)
    best.escapes += escapes(values + block * kBlock, best.base);
  return best;
}

void layouts::packed_bf16::encode(const uint16_t *values, int64_t v, int64_t d,
                                  Window window, MutableArrayRef<char> out) {
  assert(fits(d) && int64_t(out.size()) == numBytes(v, d, window.escapes));
  std::fill(out.begin(), out.end(), 0);
  int64_t blocks = d / kBlock, stride = rowBytes(d);
  char *side = out.data() + v * stride;
  uint32_t escaped = 0;
  for (int64_t r = 0; r < v; ++r) {
    char *row = out.data() + r * stride;
    uint64_t mask = 0;
    uint32_t first = escaped;
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const uint16_t *in = values + r * d + blk * kBlock;
      char *block = row + kHeaderBytes + blk * kBlockBytes;
      bool outside = escapes(in, window.base);
      for (int64_t j = 0; j < kBlock; ++j) {
        block[j] = char(in[j] & 0xff);
        uint8_t high = in[j] >> 8;
        if (outside) {
          side[escaped * kBlock + j] = char(high);
          continue;
        }
        uint8_t code = (high >> 7) << 3 | ((high & 0x7f) - window.base);
        block[kBlock + j % 32] |= char(code << (j < 32 ? 0 : 4));
      }
      if (outside) {
        mask |= uint64_t(1) << blk;
        ++escaped;
      }
    }
    std::memcpy(row, &mask, 8);
    std::memcpy(row + 8, &first, 4);
  }
  assert(escaped == window.escapes && "the window's escape count");
}

void layouts::packed_bf16::decodeRow(ArrayRef<char> bytes, int64_t v, int64_t d,
                                     int64_t base, int64_t row, uint16_t *out) {
  int64_t stride = rowBytes(d);
  const char *data = bytes.data() + row * stride;
  uint64_t mask;
  uint32_t first;
  std::memcpy(&mask, data, 8);
  std::memcpy(&first, data + 8, 4);
  const char *side = bytes.data() + v * stride;
  for (int64_t blk = 0; blk < d / kBlock; ++blk) {
    const char *block = data + kHeaderBytes + blk * kBlockBytes;
    bool escaped = mask >> blk & 1;
    int64_t e = first + llvm::popcount(mask & ((uint64_t(1) << blk) - 1));
    for (int64_t j = 0; j < kBlock; ++j) {
      uint8_t code = uint8_t(block[kBlock + j % 32]) >> (j < 32 ? 0 : 4) & 15;
      uint8_t high = escaped ? uint8_t(side[e * kBlock + j])
                             : uint8_t(highByte(code, base));
      out[blk * kBlock + j] = uint16_t(high) << 8 | uint8_t(block[j]);
    }
  }
}

Value layouts::packed_bf16::blockOffset(ImplicitLocOpBuilder &b, Value row,
                                        Value blk, int64_t d) {
  auto idx = [&](int64_t x) { return b.create<arith::ConstantIndexOp>(x); };
  return b.create<arith::AddIOp>(
      b.create<arith::MulIOp>(row, idx(rowBytes(d))),
      b.create<arith::AddIOp>(idx(kHeaderBytes),
                              b.create<arith::MulIOp>(blk, idx(kBlockBytes))));
}

int8_t layouts::packed_bf16::highByte(int64_t c, int64_t base) {
  return int8_t((c & 8) << 4 | (base + (c & 7)));
}

SmallVector<int64_t> layouts::packed_bf16::blockOrder(int64_t registerBytes) {
  // Register by register: the unpack of the low halves of its 16-byte
  // lanes, then of the high halves (x86's punpcklbw / punpckhbw, NEON's
  // zip1 / zip2 for one lane).
  SmallVector<int64_t> order;
  for (int64_t reg = 0; reg < kBlock; reg += registerBytes)
    for (int64_t half = 0; half < 16; half += 8)
      for (int64_t lane = 0; lane < registerBytes; lane += 16)
        for (int64_t k = 0; k < 8; ++k)
          order.push_back(reg + lane + half + k);
  return order;
}

static Value scalarAt(ImplicitLocOpBuilder &b, Value bytes, Value at,
                      Type type) {
  int64_t n = type.getIntOrFloatBitWidth() / 8;
  Value raw = b.create<vector::LoadOp>(VectorType::get({n}, b.getI8Type()),
                                       bytes, ValueRange{at});
  Value word = b.create<vector::BitCastOp>(VectorType::get({1}, type), raw);
  return b.create<vector::ExtractOp>(word, ArrayRef<int64_t>{0});
}

Value layouts::packed_bf16::rowEscapes(ImplicitLocOpBuilder &b, Value bytes,
                                       Value row, int64_t d) {
  Value rowStart = b.create<arith::MulIOp>(
      row, b.create<arith::ConstantIndexOp>(rowBytes(d)));
  return b.create<arith::CmpIOp>(arith::CmpIPredicate::ne,
                                 scalarAt(b, bytes, rowStart, b.getI64Type()),
                                 b.create<arith::ConstantIntOp>(0, 64));
}

Value layouts::packed_bf16::loadBlock(ImplicitLocOpBuilder &b, Value bytes,
                                      Value row, Value blk, int64_t v,
                                      int64_t d, PackedBF16Attr packed,
                                      const BlockDecoding &how) {
  auto idx = [&](int64_t x) { return b.create<arith::ConstantIndexOp>(x); };
  auto i8s = [&](int64_t n) { return VectorType::get({n}, b.getI8Type()); };
  auto bytesSplat = [&](int64_t x) -> Value {
    return b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i8s(64), APInt(8, x)));
  };
  Value rowStart = b.create<arith::MulIOp>(row, idx(rowBytes(d)));
  Value start = blockOffset(b, row, blk, d);
  Value low = b.create<vector::LoadOp>(i8s(64), bytes, ValueRange{start});
  Value codes = b.create<vector::LoadOp>(
      i8s(32), bytes, ValueRange{b.create<arith::AddIOp>(start, idx(kBlock))});
  Value nibble = b.create<arith::ConstantOp>(
      DenseElementsAttr::get(i8s(32), APInt(8, 15)));
  Value four =
      b.create<arith::ConstantOp>(DenseElementsAttr::get(i8s(32), APInt(8, 4)));
  Value c =
      b.create<vector::ShuffleOp>(b.create<arith::AndIOp>(codes, nibble),
                                  b.create<arith::ShRUIOp>(codes, four),
                                  llvm::to_vector(llvm::seq<int64_t>(0, 64)));
  Value high;
  if (how.lookup) {
    SmallVector<int8_t> table;
    for (int64_t code = 0; code < 16; ++code)
      table.push_back(highByte(code, packed.getBase()));
    high = how.lookup(table, c);
  }
  if (!high) {
    Value sign = b.create<arith::ShLIOp>(
        b.create<arith::AndIOp>(c, bytesSplat(8)), bytesSplat(4));
    Value exponent =
        b.create<arith::AddIOp>(b.create<arith::AndIOp>(c, bytesSplat(7)),
                                bytesSplat(packed.getBase()));
    high = b.create<arith::OrIOp>(sign, exponent);
  }
  if (packed.getEscapes() && how.mayEscape) {
    // The row's escape mask and first escaped block, from its header.
    Value mask = scalarAt(b, bytes, rowStart, b.getI64Type());
    Value first = b.create<arith::ExtUIOp>(
        b.getI64Type(),
        scalarAt(b, bytes, b.create<arith::AddIOp>(rowStart, idx(8)),
                 b.getI32Type()));
    Value bit = b.create<arith::ShLIOp>(
        b.create<arith::ConstantIntOp>(1, 64),
        b.create<arith::IndexCastOp>(b.getI64Type(), blk));
    Value escaped = b.create<arith::CmpIOp>(
        arith::CmpIPredicate::ne, b.create<arith::AndIOp>(mask, bit),
        b.create<arith::ConstantIntOp>(0, 64));
    Value before = b.create<math::CtPopOp>(b.create<arith::AndIOp>(
        mask,
        b.create<arith::SubIOp>(bit, b.create<arith::ConstantIntOp>(1, 64))));
    // Every block loads a side block (the first when it does not escape:
    // in L1) and selects: no branch in the kernels' inner loops.
    Value e = b.create<arith::SelectOp>(escaped,
                                        b.create<arith::AddIOp>(first, before),
                                        b.create<arith::ConstantIntOp>(0, 64));
    Value sideStart = b.create<arith::AddIOp>(
        idx(v * rowBytes(d)),
        b.create<arith::MulIOp>(
            b.create<arith::IndexCastOp>(b.getIndexType(), e), idx(kBlock)));
    Value side =
        b.create<vector::LoadOp>(i8s(64), bytes, ValueRange{sideStart});
    high = b.create<arith::SelectOp>(escaped, side, high);
  }
  SmallVector<int64_t> interleave;
  for (int64_t j : blockOrder(how.registerBytes))
    interleave.append({j, kBlock + j});
  return b.create<vector::BitCastOp>(
      VectorType::get({kBlock}, b.getBF16Type()),
      b.create<vector::ShuffleOp>(low, high, interleave));
}
