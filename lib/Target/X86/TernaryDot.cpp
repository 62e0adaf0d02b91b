//===- TernaryDot.cpp - x86 byte dot products for ternary matmuls ---------===//
//
// The codes (0, 1, 2) are unsigned bytes and the activations signed ones:
// u8 x i8 is what pmaddubsw and vpdpbusd take. The int8 LM head multiplies
// signed bytes (widened to words) by 16-bit activations: pmaddwd, vpdpwssd.
//
//===----------------------------------------------------------------------===//

#include "tern/Target/TernaryDot.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

using namespace mlir;
using namespace mlir::tern;

namespace {

/// 64 table bytes as 16-bit words, in `pieces` vectors of 64 / pieces.
SmallVector<Value> wordPieces(ImplicitLocOpBuilder &b, Value table,
                              int64_t pieces) {
  int64_t n = 64 / pieces;
  Value words =
      b.create<arith::ExtSIOp>(VectorType::get({64}, b.getI16Type()), table);
  SmallVector<Value> out;
  for (int64_t p = 0; p < pieces; ++p)
    out.push_back(sliceBytes(b, words, p * n, n));
  return out;
}

/// The int8 head's dot product with vpdpwssd over `width`-bit vectors
/// (512: AVX-512 VNNI, 256: AVX-VNNI) into a vector<32xi32> accumulator.
Value vpdpwssd64(ImplicitLocOpBuilder &b, Value acc, Value table, Value q,
                 int64_t width) {
  int64_t lanes = width / 32, pieces = 1024 / width;
  auto vi32 = VectorType::get({lanes}, b.getI32Type());
  std::string name = ("llvm.x86.avx512.vpdpwssd." + llvm::Twine(width)).str();
  SmallVector<Value> words = wordPieces(b, table, pieces);
  for (int64_t p = 0; p < pieces; ++p) {
    Value part = sliceBytes(b, acc, p * lanes, lanes);
    part =
        callIntrinsic(b, name, vi32,
                      {part, b.create<vector::BitCastOp>(vi32, words[p]),
                       b.create<vector::BitCastOp>(
                           vi32, sliceBytes(b, q, p * 2 * lanes, 2 * lanes))});
    acc = b.create<vector::InsertStridedSliceOp>(
        part, acc, ArrayRef<int64_t>{p * lanes}, ArrayRef<int64_t>{1});
  }
  return acc;
}

VectorType wordAccumulator32(MLIRContext *context) {
  return VectorType::get({32}, IntegerType::get(context, 32));
}

/// What AVX2 and AVX-VNNI share: 256-bit registers, pshufb, the head's
/// prefetch distance.
struct Registers256 : TernaryDot {
  int64_t headPrefetchBytes(StringRef) const override { return 3072; }
  int64_t registerBytes() const override { return 32; }
  Value lookup16(ImplicitLocOpBuilder &b, ArrayRef<int8_t> table,
                 Value indices) const override {
    return lookupPieces(b, "llvm.x86.avx2.pshuf.b", 32, table, indices);
  }
};

/// AVX-512 VNNI: one 512-bit vpdpbusd per block.
struct AVX512VNNIDot : TernaryDot {
  int64_t registerBytes() const override { return 64; }
  int64_t headPrefetchBytes(StringRef cpu) const override {
    return cpu.starts_with("znver") ? 0 : 2048;
  }
  Value lookup16(ImplicitLocOpBuilder &b, ArrayRef<int8_t> table,
                 Value indices) const override {
    return lookupPieces(b, "llvm.x86.avx512.pshuf.b.512", 64, table, indices);
  }
  VectorType accumulatorType(MLIRContext *context) const override {
    return VectorType::get({16}, IntegerType::get(context, 32));
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    auto v16i32 = VectorType::get({16}, b.getI32Type());
    return callIntrinsic(b, "llvm.x86.avx512.vpdpbusd.512", v16i32,
                         {acc, b.create<vector::BitCastOp>(v16i32, codes),
                          b.create<vector::BitCastOp>(v16i32, q)});
  }
  int64_t inPlaceLanes() const override { return 4; }
  VectorType wordAccumulatorType(MLIRContext *context) const override {
    return wordAccumulator32(context);
  }
  Value wordDot64(ImplicitLocOpBuilder &b, Value acc, Value table,
                  Value q) const override {
    return vpdpwssd64(b, acc, table, q, 512);
  }
};

/// AVX-VNNI (no AVX-512): two 256-bit VEX vpdpbusd per block.
struct AVXVNNIDot : Registers256 {
  VectorType accumulatorType(MLIRContext *context) const override {
    return VectorType::get({8}, IntegerType::get(context, 32));
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    for (int64_t half = 0; half < 2; ++half) {
      auto slice = [&](Value v) {
        return b.create<vector::BitCastOp>(v8i32,
                                           sliceBytes(b, v, 32 * half, 32));
      };
      acc = callIntrinsic(b, "llvm.x86.avx512.vpdpbusd.256", v8i32,
                          {acc, slice(codes), slice(q)});
    }
    return acc;
  }
  VectorType wordAccumulatorType(MLIRContext *context) const override {
    return wordAccumulator32(context);
  }
  Value wordDot64(ImplicitLocOpBuilder &b, Value acc, Value table,
                  Value q) const override {
    return vpdpwssd64(b, acc, table, q, 256);
  }
};

/// AVX2: per 256-bit half, pmaddubsw (pairs of u8 x i8 -> i16), then
/// pmaddwd with ones (-> i32). The codes of a half's two 128-bit lanes stay
/// in place (inPlaceLanes 2: scaled by 1 and 4), so unpacking a block is one
/// mask and one shift-and-mask. Prefill sums in the i16 lanes for 7 blocks
/// and widens once: a pair is at most 2 * 8 * 128 = 2048, a block adds two
/// to a lane (4096), and 7 blocks stay below 32768. Its tile is one row by
/// 12 tokens: 12 partial sums, the row's codes and the mask fill 15 of the
/// 16 registers, the activations are memory operands of pmaddubsw, and each
/// block's unpacking serves 24 pmaddubsw. Those activations are read once
/// per row, so they must come from L1: K goes in pieces of 21 blocks
/// (12 x 1344 bytes).
struct AVX2Dot : Registers256 {
  std::pair<int64_t, int64_t> prefillTile() const override { return {1, 12}; }
  int64_t activationBytes() const override { return 16 * 1024; }
  int64_t inPlaceLanes() const override { return 2; }
  int64_t partialBlocks() const override { return 7; }
  VectorType partialType(MLIRContext *context) const override {
    return VectorType::get({16}, IntegerType::get(context, 16));
  }
  Value dot64Partial(ImplicitLocOpBuilder &b, Value partial, Value codes,
                     Value q) const override {
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    for (int64_t half = 0; half < 2; ++half)
      partial = b.create<arith::AddIOp>(
          partial, callIntrinsic(b, "llvm.x86.avx2.pmadd.ub.sw", v16i16,
                                 {sliceBytes(b, codes, 32 * half, 32),
                                  sliceBytes(b, q, 32 * half, 32)}));
    return partial;
  }
  Value flushPartial(ImplicitLocOpBuilder &b, Value acc,
                     Value partial) const override {
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    Value ones = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(v16i16, b.getI16IntegerAttr(1).getValue()));
    return b.create<arith::AddIOp>(
        acc,
        callIntrinsic(b, "llvm.x86.avx2.pmadd.wd", v8i32, {partial, ones}));
  }

  /// The int8 head: pmaddwd on 16 words at a time, four accumulators.
  VectorType wordAccumulatorType(MLIRContext *context) const override {
    return wordAccumulator32(context);
  }
  Value wordDot64(ImplicitLocOpBuilder &b, Value acc, Value table,
                  Value q) const override {
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    SmallVector<Value> words = wordPieces(b, table, 4);
    for (int64_t p = 0; p < 4; ++p) {
      Value pairs = callIntrinsic(b, "llvm.x86.avx2.pmadd.wd", v8i32,
                                  {words[p], sliceBytes(b, q, 16 * p, 16)});
      Value part = b.create<arith::AddIOp>(sliceBytes(b, acc, 8 * p, 8), pairs);
      acc = b.create<vector::InsertStridedSliceOp>(
          part, acc, ArrayRef<int64_t>{8 * p}, ArrayRef<int64_t>{1});
    }
    return acc;
  }

  VectorType accumulatorType(MLIRContext *context) const override {
    return VectorType::get({8}, IntegerType::get(context, 32));
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    Value ones = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(v16i16, b.getI16IntegerAttr(1).getValue()));
    for (int64_t half = 0; half < 2; ++half) {
      Value pairs = callIntrinsic(b, "llvm.x86.avx2.pmadd.ub.sw", v16i16,
                                  {sliceBytes(b, codes, 32 * half, 32),
                                   sliceBytes(b, q, 32 * half, 32)});
      Value quads =
          callIntrinsic(b, "llvm.x86.avx2.pmadd.wd", v8i32, {pairs, ones});
      acc = b.create<arith::AddIOp>(acc, quads);
    }
    return acc;
  }
};

/// AMX as inline assembly on fixed tile registers: MLIR 19's amx dialect
/// has no loop-carried tiles (its tiles are vectors, LLVM's are x86_amx), and
/// a prefill tile keeps its sums in tiles across the whole K loop. Every
/// statement clobbers memory, so the stores that fill a tile's bytes stay
/// before its load.
struct AMXTiles : MatrixTiles {
  static void statement(ImplicitLocOpBuilder &b, StringRef text,
                        StringRef constraints, ValueRange operands) {
    std::string all = constraints.str();
    all += all.empty() ? "~{memory}" : ",~{memory}";
    b.create<LLVM::InlineAsmOp>(Type(), operands, text, all,
                                /*has_side_effects=*/true,
                                /*is_align_stack=*/false,
                                LLVM::AsmDialectAttr(), ArrayAttr());
  }
  static std::string tmm(int tile) { return "%tmm" + std::to_string(tile); }

  Value request(ImplicitLocOpBuilder &b) const override {
    // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): Linux lends the
    // tiles' state to processes that ask (5.16+); it fails where the CPU or
    // the kernel lacks AMX. Cheap once granted.
    auto i64 = b.getI64Type();
    auto c = [&](int64_t v) { return b.create<arith::ConstantIntOp>(v, 64); };
    Value result = b.create<LLVM::InlineAsmOp>(
                        i64, ValueRange{c(158), c(0x1023), c(18)}, "syscall",
                        "={rax},{rax},{rdi},{rsi},~{rcx},~{r11},~{memory}",
                        /*has_side_effects=*/true, /*is_align_stack=*/false,
                        LLVM::AsmDialectAttr(), ArrayAttr())
                       .getResult(0);
    return b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, result, c(0));
  }
  void configure(ImplicitLocOpBuilder &b, Value config) const override {
    statement(b, "ldtilecfg ($0)", "r", {config});
  }
  void release(ImplicitLocOpBuilder &b) const override {
    statement(b, "tilerelease", "", {});
  }
  void zero(ImplicitLocOpBuilder &b, int tile) const override {
    statement(b, "tilezero " + tmm(tile), "", {});
  }
  void load(ImplicitLocOpBuilder &b, int tile, Value address,
            Value stride) const override {
    statement(b, "tileloadd ($0,$1,1), " + tmm(tile), "r,r", {address, stride});
  }
  void store(ImplicitLocOpBuilder &b, int tile, Value address,
             Value stride) const override {
    statement(b, "tilestored " + tmm(tile) + ", ($0,$1,1)", "r,r",
              {address, stride});
  }
  void multiply(ImplicitLocOpBuilder &b, int c, int a,
                int bTile) const override {
    // AT&T order: b, a, c (Intel: tdpbsud c, a, b; a signed, b unsigned).
    statement(b, "tdpbsud " + tmm(bTile) + ", " + tmm(a) + ", " + tmm(c), "",
              {});
  }
  void multiplyBF16(ImplicitLocOpBuilder &b, int c, int a,
                    int bTile) const override {
    statement(b, "tdpbf16ps " + tmm(bTile) + ", " + tmm(a) + ", " + tmm(c), "",
              {});
  }
};

/// AMX: prefill in tiles of 32 rows x 32 tokens (MatrixTiles.cpp); one
/// token and the rows that fill no tile take AVX-512 VNNI.
struct AMXDot : AVX512VNNIDot {
  const MatrixTiles *matrixTiles() const override {
    static const AMXTiles tiles;
    return &tiles;
  }
};

} // namespace

const TernaryDot *mlir::tern::x86::getTernaryDot(StringRef family) {
  static const AMXDot amx;
  static const AVX512VNNIDot avx512vnni;
  static const AVXVNNIDot avxvnni;
  static const AVX2Dot avx2;
  if (family == "amx")
    return &amx;
  if (family == "avx512vnni")
    return &avx512vnni;
  if (family == "avxvnni")
    return &avxvnni;
  if (family == "avx2")
    return &avx2;
  return nullptr;
}
