//===- TernaryDot.h - what a CPU ISA gives the ternary matmul ---*- C++ -*-===//
//
// The ternary matmul kernels on i2_k64 weights share one tile loop
// (lib/Conversion/Kernels/TernaryMatmul.cpp): it unpacks 64 codes per
// block, loads 64 activations per token and keeps one accumulator per (row,
// token) pair of a register tile. What differs between instruction sets is
// the byte dot product that feeds the accumulators (and the int8 LM head's
// dot product of bytes and 16-bit words, and the packed bf16 head's byte
// table lookup). Each target's
// implementations live with the target (lib/Target/X86/TernaryDot.cpp,
// lib/Target/AArch64/TernaryDot.cpp); the portable one with the tile loop.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_TARGET_TERNARYDOT_H
#define TERN_TARGET_TERNARYDOT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/ErrorHandling.h"

#include <utility>

namespace mlir::tern {

/// Tile registers that multiply matrices of bytes (x86 AMX): tile c (16 x
/// 16 i32) += a (16 rows x 64 signed bytes) times b (64 x 16 unsigned
/// bytes, stored as 16 rows of 64 bytes: row r holds k = 4r .. 4r + 3 of
/// each of the 16 columns in turn). Tiles are numbered 0-7, each 16 rows of
/// 64 bytes; addresses are i64.
class MatrixTiles {
public:
  virtual ~MatrixTiles() = default;
  /// i1: whether this process may use the tiles (the OS grants them on
  /// request, where the CPU has them).
  virtual Value request(ImplicitLocOpBuilder &b) const = 0;
  /// Sets the calling thread's tile shapes (`config`: 64 scratch bytes).
  virtual void configure(ImplicitLocOpBuilder &b, Value config) const = 0;
  /// Releases the calling thread's tiles.
  virtual void release(ImplicitLocOpBuilder &b) const = 0;
  virtual void zero(ImplicitLocOpBuilder &b, int tile) const = 0;
  virtual void load(ImplicitLocOpBuilder &b, int tile, Value address,
                    Value stride) const = 0;
  virtual void store(ImplicitLocOpBuilder &b, int tile, Value address,
                     Value stride) const = 0;
  /// c += a * b.
  virtual void multiply(ImplicitLocOpBuilder &b, int c, int a,
                        int bTile) const = 0;
  /// c (16 x 16 f32) += a (16 rows x 32 bf16) times b (32 x 16 bf16, row r
  /// holding k = 2r, 2r + 1 of each column in turn), in f32.
  virtual void multiplyBF16(ImplicitLocOpBuilder &b, int c, int a,
                            int bTile) const = 0;
};

class TernaryDot {
public:
  virtual ~TernaryDot() = default;

  /// The i32 accumulator of one (row, token) pair.
  virtual VectorType accumulatorType(MLIRContext *context) const = 0;

  /// acc + the byte dot products of 64 codes (u8, vector<64xi8>) and 64
  /// activations (i8, vector<64xi8>).
  virtual Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
                      Value q) const = 0;

  /// How many consecutive 128-bit lanes of a block's codes keep their bit
  /// position (i2_k64::unpackBlock's group: lane l holds code << 2(l % g)).
  /// Larger groups skip shifts when unpacking; the tile loop shifts each
  /// accumulator lane's exact sum back by 2(l % g) bits at the end. Only
  /// for dot products that keep 128-bit lanes apart in their sums (the
  /// accumulator's lane of 4 i32 holds products of one code lane).
  virtual int64_t inPlaceLanes() const { return 1; }

  /// Rows x tokens of the prefill register tile: as many (row, token)
  /// accumulators as the ISA's registers hold beside one row's codes and
  /// the tile's activations.
  virtual std::pair<int64_t, int64_t> prefillTile() const { return {4, 4}; }

  /// Bytes of one token group's activations to keep in L1 (0: all of K).
  /// Tiles that read every activation block once per row (one-row tiles)
  /// need their group's activations in L1: K then goes in pieces of this
  /// many bytes per token.
  virtual int64_t activationBytes() const { return 0; }

  /// Where a block's products fit 16-bit lanes (pmaddubsw's pairs), sums
  /// stay there for up to partialBlocks() blocks (0: never) before
  /// flushPartial widens them into the i32 accumulator: one widening per
  /// many blocks instead of one per block.
  virtual int64_t partialBlocks() const { return 0; }
  /// The 16-bit partial sum of one (row, token) pair.
  virtual VectorType partialType(MLIRContext *context) const {
    llvm_unreachable("no 16-bit partial sums in this ISA");
  }
  /// partial + the byte dot products of a block, in 16-bit lanes.
  virtual Value dot64Partial(ImplicitLocOpBuilder &b, Value partial,
                             Value codes, Value q) const {
    llvm_unreachable("no 16-bit partial sums in this ISA");
  }
  /// acc + partial, widened.
  virtual Value flushPartial(ImplicitLocOpBuilder &b, Value acc,
                             Value partial) const {
    llvm_unreachable("no 16-bit partial sums in this ISA");
  }

  /// The int8 LM head's dot product (i8 table values times the row's i16
  /// activations, exact in i32): its accumulator, and acc + the products of
  /// 64 values, `table` vector<64xi8> and `q` vector<64xi16>. Any lane
  /// arrangement: the head sums the accumulator's lanes in integers. The
  /// portable one widens both to i32.
  virtual VectorType wordAccumulatorType(MLIRContext *context) const {
    return VectorType::get({64}, IntegerType::get(context, 32));
  }
  virtual Value wordDot64(ImplicitLocOpBuilder &b, Value acc, Value table,
                          Value q) const {
    auto i32x64 = VectorType::get({64}, b.getI32Type());
    return b.create<arith::AddIOp>(
        acc, b.create<arith::MulIOp>(b.create<arith::ExtSIOp>(i32x64, table),
                                     b.create<arith::ExtSIOp>(i32x64, q)));
  }

  /// Bytes of a vector register (the packed bf16 head pairs bytes within
  /// its 16-byte lanes: packed_bf16::BlockDecoding).
  virtual int64_t registerBytes() const { return 16; }
  /// table[indices] for a 16-byte table and byte indices below 16
  /// (vector<Nxi8>, N a multiple of registerBytes()): one pshufb or tbl
  /// per register. Null where the ISA has none (the portable one).
  virtual Value lookup16(ImplicitLocOpBuilder &b, ArrayRef<int8_t> table,
                         Value indices) const {
    return {};
  }

  /// How far ahead the packed bf16 head's decode loop prefetches the table
  /// on CPU `cpu` (LLVM's name; 0: not at all, the hardware prefetcher
  /// alone). Measured (docs/Rationale.md): on an Intel Xeon 3 KB helps AVX2
  /// and 2 KB AVX-512; on Zen 4 prefetching was neutral for AVX2 and hurt
  /// the AVX-512 loop.
  virtual int64_t headPrefetchBytes(StringRef cpu) const { return 0; }

  /// Matrix tiles for prefill (AMX), or null.
  virtual const MatrixTiles *matrixTiles() const { return nullptr; }

  /// True when the ISA multiplies 2 x 2 blocks of rows and tokens at once
  /// (mmla64): prefill tiles then keep one accumulator per block.
  virtual bool hasPairBlocks() const { return false; }

  /// acc + the 2 x 2 block [r0 t0, r0 t1, r1 t0, r1 t1] of rows codes0,
  /// codes1 times tokens q0, q1 over 64 bytes.
  virtual Value mmla64(ImplicitLocOpBuilder &b, Value acc, Value codes0,
                       Value codes1, Value q0, Value q1) const {
    llvm_unreachable("no 2 x 2 blocks in this ISA");
  }
};

/// Calls the LLVM intrinsic `name` (MLIR 19 has no op for most int8 dot
/// products: TOOLCHAIN.md).
inline Value callIntrinsic(ImplicitLocOpBuilder &b, StringRef name, Type result,
                           ValueRange args) {
  return b
      .create<LLVM::CallIntrinsicOp>(result, b.getStringAttr(name), args,
                                     LLVM::FastmathFlagsAttr())
      .getResult(0);
}

/// Bytes [offset, offset + size) of a byte vector.
inline Value sliceBytes(ImplicitLocOpBuilder &b, Value v, int64_t offset,
                        int64_t size) {
  return b.create<vector::ExtractStridedSliceOp>(v, ArrayRef<int64_t>{offset},
                                                 ArrayRef<int64_t>{size},
                                                 ArrayRef<int64_t>{1});
}

/// table[indices] with the `name` lookup intrinsic (pshufb, tbl) on pieces
/// of `bytes` bytes, the 16-byte table repeated over each.
inline Value lookupPieces(ImplicitLocOpBuilder &b, StringRef name,
                          int64_t bytes, ArrayRef<int8_t> table,
                          Value indices) {
  auto type = cast<VectorType>(indices.getType());
  auto piece = VectorType::get({bytes}, b.getI8Type());
  SmallVector<int8_t> repeated;
  for (int64_t i = 0; i < bytes; ++i)
    repeated.push_back(table[i % 16]);
  Value lut = b.create<arith::ConstantOp>(
      DenseElementsAttr::get(piece, ArrayRef<int8_t>(repeated)));
  Value out = b.create<arith::ConstantOp>(b.getZeroAttr(type));
  for (int64_t p = 0; p < type.getNumElements(); p += bytes) {
    Value part =
        callIntrinsic(b, name, piece, {lut, sliceBytes(b, indices, p, bytes)});
    out = b.create<vector::InsertStridedSliceOp>(
        part, out, ArrayRef<int64_t>{p}, ArrayRef<int64_t>{1});
  }
  return out;
}

namespace x86 {
/// The dot product of an x86 kernel family (avx2, avxvnni, avx512vnni), or
/// null for other families.
const TernaryDot *getTernaryDot(StringRef family);
} // namespace x86

namespace aarch64 {
/// The dot product of an AArch64 kernel family (neon, dotprod, i8mm), or
/// null for other families.
const TernaryDot *getTernaryDot(StringRef family);
} // namespace aarch64

} // namespace mlir::tern

#endif // TERN_TARGET_TERNARYDOT_H
