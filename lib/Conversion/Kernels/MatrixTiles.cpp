//===- MatrixTiles.cpp - ternary matmuls in matrix tiles (AMX) -----------===//
//
// The `amx` family's prefill (lowerTernaryMatmulK64 calls it where the
// TernaryDot has MatrixTiles): C[tokens x rows] += A[tokens x 64 k]
// (activations, straight from q) times B[64 k x rows] (codes) per block of
// K, in 16 x 16 i32 tiles. B's layout interleaves 4 k of each row: B row r'
// holds k = 4r' .. 4r' + 3 of rows 0 .. 15 in turn. In i2_k64, those 4
// codes of a row are dword r' % 4 of its 16-byte block at bits 2(r' / 4): a
// 16-row B tile is the 16 blocks' dwords transposed (4 x 16), then each
// shifted and masked four ways. A thread decodes 32 rows' codes this way
// once, for all of K (on its stack, during its first pass over them), and
// multiplies them by every group of 16 tokens: tiles 4-5 hold two token
// groups' activations, 6-7 the two 16-row halves' codes, 0-3 the 2 x 2
// sums. Sums are stored token-major, so the epilogue is row vectors.
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/KernelEmitter.h"

#include "Tern/IR/PackedLayouts.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;
namespace i2_k64 = mlir::tern::layouts::i2_k64;

void KernelEmitter::padTileActivations(Value q, Value padded, Value tokens,
                                       int64_t k) {
  // The last group of 16 tokens' full blocks, zero-padded (tile loads read
  // 16 rows).
  auto v64i8 = VectorType::get({64}, b.getI8Type());
  Value zeros = b.create<arith::ConstantOp>(b.getZeroAttr(v64i8));
  Value last = b.create<arith::MulIOp>(
      b.create<arith::DivUIOp>(b.create<arith::SubIOp>(tokens, idx(1)),
                               idx(kTileTokens)),
      idx(kTileTokens));
  forEach(idx(kTileTokens), [&](Value t) {
    Value tk = b.create<arith::AddIOp>(last, t);
    auto inside = b.create<scf::IfOp>(
        b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, tk, tokens),
        /*withElse=*/true);
    auto copy = [&](bool fromQ) {
      forEach(idx(k / 64), [&](Value kb) {
        Value j = b.create<arith::MulIOp>(kb, idx(64));
        Value v = fromQ ? b.create<vector::LoadOp>(v64i8, q, ValueRange{tk, j})
                        : zeros;
        b.create<vector::StoreOp>(v, padded,
                                  ValueRange{b.create<arith::AddIOp>(
                                      b.create<arith::MulIOp>(t, idx(k)), j)});
      });
    };
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&inside.getThenRegion().front());
    copy(true);
    b.setInsertionPointToStart(&inside.getElseRegion().front());
    copy(false);
  });
}

void KernelEmitter::matrixTilePrefill(
    const MatrixTiles &tiles, Value w, Value q, Value padded, Value tokens,
    int64_t rows, int64_t k,
    function_ref<void(Value tk, Value n, Value totals)> store) {
  // Full blocks (the tiles' K), and blocks of a row in the layout.
  int64_t full = k / 64, blocks = llvm::divideCeil(k, 64);
  auto i8 = b.getI8Type(), i32t = b.getI32Type(), i64 = b.getI64Type();
  auto v64i8 = VectorType::get({64}, i8), v16i32 = VectorType::get({16}, i32t);
  auto address = [&](Value memref, Value byteOffset) -> Value {
    Value base = b.create<memref::ExtractAlignedPointerAsIndexOp>(memref);
    return b.create<arith::IndexCastOp>(
        i64, b.create<arith::AddIOp>(base, byteOffset));
  };
  auto i64c = [&](int64_t v) { return b.create<arith::ConstantIntOp>(v, 64); };
  Value groups = b.create<arith::DivUIOp>(
      b.create<arith::AddIOp>(tokens, idx(kTileTokens - 1)), idx(kTileTokens));
  parallelFor(idx(0), idx(rows), idx(kTileRows), [&](Value n0) {
    // Palette 1; tiles 0-7 of 16 rows x 64 bytes.
    SmallVector<int8_t> bytes(64, 0);
    bytes[0] = 1;
    for (int tile = 0; tile < 8; ++tile) {
      bytes[16 + 2 * tile] = 64;
      bytes[48 + tile] = 16;
    }
    auto config = b.create<memref::AllocaOp>(MemRefType::get({64}, i8),
                                             b.getI64IntegerAttr(64));
    b.create<vector::StoreOp>(
        b.create<arith::ConstantOp>(
            DenseElementsAttr::get(v64i8, ArrayRef<int8_t>(bytes))),
        config, ValueRange{idx(0)});
    tiles.configure(b, address(config, idx(0)));

    // The B tiles: block kb's half h (rows 16h ..) at (2kb + h) KB.
    auto codes = b.create<memref::AllocaOp>(
        MemRefType::get({full * 2 * 1024}, i8), b.getI64IntegerAttr(64));
    SmallVector<Value> groupStart; // rows 8i .. 8i + 7 of the tile
    for (int64_t i = 0; i < kTileRows / 8; ++i)
      groupStart.push_back(i2_k64::rowOffset(
          b, b.create<arith::AddIOp>(n0, idx(8 * i)), blocks));
    Value mask = b.create<arith::ConstantOp>(DenseElementsAttr::get(
        v16i32, b.getI32IntegerAttr(0x03030303).getValue()));
    auto decodeBlock = [&](Value kb) {
      Value bOff = b.create<arith::MulIOp>(kb, idx(i2_k64::kBlockStride));
      for (int64_t h = 0; h < 2; ++h) {
        // Four rows' blocks per load: z[i] = rows 4i .. 4i + 3, 4 dwords each.
        SmallVector<Value> z;
        for (int64_t i = 0; i < 4; ++i)
          z.push_back(b.create<vector::BitCastOp>(
              v16i32,
              b.create<vector::LoadOp>(
                  v64i8, w,
                  ValueRange{b.create<arith::AddIOp>(
                      groupStart[2 * h + i / 2],
                      b.create<arith::AddIOp>(bOff, idx(64 * (i % 2))))})));
        Value tile = b.create<arith::MulIOp>(
            b.create<arith::AddIOp>(b.create<arith::MulIOp>(kb, idx(2)),
                                    idx(h)),
            idx(1024));
        for (int64_t d = 0; d < 4; ++d) {
          // Dword d of rows 0 .. 15.
          SmallVector<int64_t> pick;
          for (int64_t j = 0; j < 8; ++j)
            pick.push_back(4 * j + d);
          Value lo = b.create<vector::ShuffleOp>(z[0], z[1], pick);
          Value hi = b.create<vector::ShuffleOp>(z[2], z[3], pick);
          SmallVector<int64_t> both;
          for (int64_t j = 0; j < 16; ++j)
            both.push_back(j);
          Value column = b.create<vector::ShuffleOp>(lo, hi, both);
          for (int64_t l = 0; l < 4; ++l) {
            Value shifted = column;
            if (l)
              shifted = b.create<arith::ShRUIOp>(
                  column, b.create<arith::ConstantOp>(DenseElementsAttr::get(
                              v16i32, b.getI32IntegerAttr(2 * l).getValue())));
            b.create<vector::StoreOp>(
                b.create<vector::BitCastOp>(
                    v64i8, b.create<arith::AndIOp>(shifted, mask)),
                codes,
                ValueRange{
                    b.create<arith::AddIOp>(tile, idx(64 * (4 * l + d)))});
          }
        }
      }
    };

    // Sums token-major: token u (of 32), rows 0 .. 31.
    auto sumsTile = b.create<memref::AllocaOp>(
        MemRefType::get({2 * kTileTokens * kTileRows}, i32t),
        b.getI64IntegerAttr(64));
    Value stride64 = i64c(64), strideK = i64c(k),
          stride128 = i64c(4 * kTileRows);
    Value lastGroup = b.create<arith::SubIOp>(groups, idx(1));
    // Token groups g, g + 1 (or g alone, the last of an odd count).
    // The first pass decodes each block just before its tiles load it
    // (from L1; the weights stream under the tile products); later passes
    // read the decoded blocks back.
    auto multiply = [&](Value g, int64_t toks, bool decode) {
      SmallVector<Value> aBase;
      for (int64_t j = 0; j < toks; ++j) {
        // The last group's activations come padded.
        Value gj = b.create<arith::AddIOp>(g, idx(j));
        Value fromQ =
            address(q, b.create<arith::MulIOp>(gj, idx(kTileTokens * k)));
        aBase.push_back(b.create<arith::SelectOp>(
            b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, gj, lastGroup),
            address(padded, idx(0)), fromQ));
      }
      for (int c = 0; c < 2 * toks; ++c)
        tiles.zero(b, c);
      forEach(idx(full), [&](Value kb) {
        if (decode)
          decodeBlock(kb);
        Value kOff = b.create<arith::IndexCastOp>(
            i64, b.create<arith::MulIOp>(kb, idx(64)));
        for (int64_t j = 0; j < toks; ++j)
          tiles.load(b, 4 + j, b.create<arith::AddIOp>(aBase[j], kOff),
                     strideK);
        Value tile = b.create<arith::MulIOp>(kb, idx(2 * 1024));
        tiles.load(b, 6, address(codes, tile), stride64);
        tiles.load(b, 7,
                   address(codes, b.create<arith::AddIOp>(tile, idx(1024))),
                   stride64);
        for (int64_t j = 0; j < toks; ++j)
          for (int h = 0; h < 2; ++h)
            tiles.multiply(b, 2 * j + h, 4 + j, 6 + h);
      });
      // Tile (j, h): tokens 16j .., rows 16h ..
      for (int64_t j = 0; j < toks; ++j)
        for (int h = 0; h < 2; ++h)
          tiles.store(b, 2 * j + h,
                      address(sumsTile,
                              idx(4 * (j * kTileTokens * kTileRows + h * 16))),
                      stride128);
    };
    auto pass = [&](Value g, bool decode) {
      Value pair =
          b.create<arith::CmpIOp>(arith::CmpIPredicate::ult,
                                  b.create<arith::AddIOp>(g, idx(1)), groups);
      auto both = b.create<scf::IfOp>(pair, /*withElse=*/true);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&both.getThenRegion().front());
        multiply(g, 2, decode);
        b.setInsertionPointToStart(&both.getElseRegion().front());
        multiply(g, 1, decode);
      }
      Value t0 = b.create<arith::MulIOp>(g, idx(kTileTokens));
      Value count = b.create<arith::MinUIOp>(
          b.create<arith::SubIOp>(tokens, t0), idx(2 * kTileTokens));
      forEach(count, [&](Value u) {
        Value tk = b.create<arith::AddIOp>(t0, u);
        for (int64_t h = 0; h < 2; ++h) {
          Value totals = b.create<vector::LoadOp>(
              v16i32, sumsTile,
              ValueRange{b.create<arith::AddIOp>(
                  b.create<arith::MulIOp>(u, idx(kTileRows)), idx(16 * h))});
          store(tk, b.create<arith::AddIOp>(n0, idx(16 * h)), totals);
        }
      });
    };
    pass(idx(0), /*decode=*/true);
    forRange(idx(2), groups, 2, [&](Value g) { pass(g, /*decode=*/false); });
    tiles.release(b);
  });
}
