//===- MatrixTiles.cpp - ternary matmuls and the bf16 head in AMX tiles ---===//
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
// The family's bf16 LM head (bf16TileHead) multiplies 16 table rows by 16 x
// rows per tile with tdpbf16ps.
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/KernelEmitter.h"

#include "Tern/IR/PackedLayouts.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;
namespace i2_k64 = mlir::tern::layouts::i2_k64;
namespace packed_bf16 = mlir::tern::layouts::packed_bf16;

namespace {
/// The i64 address of byte `offset` of memref `m`'s (aligned) buffer.
Value byteAddress(ImplicitLocOpBuilder &b, Value m, Value offset) {
  Value base = b.create<memref::ExtractAlignedPointerAsIndexOp>(m);
  return b.create<arith::IndexCastOp>(b.getI64Type(),
                                      b.create<arith::AddIOp>(base, offset));
}

/// Palette 1, tiles 0-7 of 16 rows x 64 bytes, for the calling thread;
/// `narrow` tiles have `narrowBytes` (i8) of each row instead.
void configureTiles(ImplicitLocOpBuilder &b, const MatrixTiles &tiles,
                    ArrayRef<int> narrow = {}, Value narrowBytes = {}) {
  auto i8 = b.getI8Type();
  SmallVector<int8_t> bytes(64, 0);
  bytes[0] = 1;
  for (int tile = 0; tile < 8; ++tile) {
    bytes[16 + 2 * tile] = 64;
    bytes[48 + tile] = 16;
  }
  auto config = b.create<memref::AllocaOp>(MemRefType::get({64}, i8),
                                           b.getI64IntegerAttr(64));
  auto v64i8 = VectorType::get({64}, i8);
  b.create<vector::StoreOp>(b.create<arith::ConstantOp>(DenseElementsAttr::get(
                                v64i8, ArrayRef<int8_t>(bytes))),
                            config,
                            ValueRange{b.create<arith::ConstantIndexOp>(0)});
  for (int tile : narrow)
    b.create<memref::StoreOp>(
        narrowBytes, config,
        ValueRange{b.create<arith::ConstantIndexOp>(16 + 2 * tile)});
  tiles.configure(b,
                  byteAddress(b, config, b.create<arith::ConstantIndexOp>(0)));
}
} // namespace

Value KernelEmitter::tilesFor(const MatrixTiles &tiles, Value rows,
                              int64_t above) {
  auto many = b.create<scf::IfOp>(
      TypeRange{b.getI1Type()},
      b.create<arith::CmpIOp>(arith::CmpIPredicate::ugt, rows, idx(above)),
      /*withElse=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&many.getThenRegion().front());
  b.create<scf::YieldOp>(tiles.request(b));
  b.setInsertionPointToStart(&many.getElseRegion().front());
  b.create<scf::YieldOp>(ValueRange{b.create<arith::ConstantIntOp>(0, 1)});
  return many.getResult(0);
}

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
    return byteAddress(b, memref, byteOffset);
  };
  auto i64c = [&](int64_t v) { return b.create<arith::ConstantIntOp>(v, 64); };
  Value groups = b.create<arith::DivUIOp>(
      b.create<arith::AddIOp>(tokens, idx(kTileTokens - 1)), idx(kTileTokens));
  parallelFor(idx(0), idx(rows), idx(kTileRows), [&](Value n0) {
    configureTiles(b, tiles);

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

void KernelEmitter::bf16TileHead(const MatrixTiles &tiles, Value x, Value table,
                                 Value out, Value rows, PackedBF16Attr packed) {
  // out[r, v] = x[t, :] . table[v, :] with the table's bf16 values as A
  // tiles (16 table rows x 32 k) and x as B tiles (32 k x 16 x rows). Each
  // f32 of x is the exact sum of three bf16 (hi = its top 16 bits, mid and
  // lo those of the remainders), hi's products summed in one tile, mid's
  // and then lo's (per k tile) in another: the products are exact, and the
  // sums' rounding is the tiles' (f32 accumulation, ~4e-9 of the sum of
  // |products| on average, as the FMA loop's). The logit is the two sums'
  // sum. Each (r, v) is the same tile sums whatever the row count (the
  // narrower tiles of fewer than 16 rows included); they differ from the
  // FMA loops' 64-lane sums by f32 rounding.
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  int64_t blocks = d / 64, kTiles = d / 32;
  int64_t vocabRows = cast<MemRefType>(out.getType()).getDimSize(1);
  Type i32t = b.getI32Type(), f32t = b.getF32Type();
  auto f32x64 = VectorType::get({64}, f32t);
  auto i32x64 = VectorType::get({64}, i32t);
  auto i32x16 = VectorType::get({16}, i32t);
  auto bf16x64 = VectorType::get({64}, b.getBF16Type());
  Value n = dim(out, 0), vocab = dim(out, 1);
  // A block's values in the order the decoded copy holds them, packed
  // loadBlock's blockOrder (a plain table's copy is shuffled to match, so
  // that both sum in the same order: --lm-head=plain gives the same bits);
  // x follows it.
  packed_bf16::BlockDecoding how = headDecoding();
  SmallVector<int64_t> order = packed_bf16::blockOrder(how.registerBytes);
  auto splatI32 = [&](VectorType type, uint32_t v) -> Value {
    return b.create<arith::ConstantOp>(
        DenseElementsAttr::get(type, APInt(32, v)));
  };

  forRange(idx(0), b.create<arith::MinUIOp>(n, idx(1)), 1, [&](Value) {
    // x's B tiles: [group of 16 rows][piece][k tile][pair row][column], a
    // pair of bf16 per i32; columns past the last row stay zero.
    Value groups =
        b.create<arith::DivUIOp>(b.create<arith::AddIOp>(n, idx(15)), idx(16));
    int64_t groupInts = 3 * kTiles * 256;
    Value xp = b.create<memref::AllocOp>(
        MemRefType::get({ShapedType::kDynamic}, i32t),
        ValueRange{b.create<arith::MulIOp>(groups, idx(groupInts))},
        b.getI64IntegerAttr(64));
    Value zeros16 = splatI32(i32x16, 0);
    forEach(b.create<arith::MulIOp>(groups, idx(groupInts / 16)), [&](Value i) {
      b.create<vector::StoreOp>(
          zeros16, xp, ValueRange{b.create<arith::MulIOp>(i, idx(16))});
    });
    Value high = splatI32(i32x64, 0xffff0000u);
    Value shift = splatI32(VectorType::get({32}, i32t), 16);
    Value oddHigh = splatI32(VectorType::get({32}, i32t), 0xffff0000u);
    SmallVector<int64_t> evens, odds;
    for (int64_t k = 0; k < 32; ++k) {
      evens.push_back(2 * k);
      odds.push_back(2 * k + 1);
    }
    forEach(n, [&](Value r) {
      Value t = inputRow(rows, r);
      Value base = b.create<arith::AddIOp>(
          b.create<arith::MulIOp>(b.create<arith::DivUIOp>(r, idx(16)),
                                  idx(groupInts)),
          b.create<arith::RemUIOp>(r, idx(16)));
      forEach(idx(blocks), [&](Value blk) {
        Value v = b.create<vector::LoadOp>(
            f32x64, x, ValueRange{t, b.create<arith::MulIOp>(blk, idx(64))});
        v = b.create<vector::ShuffleOp>(v, v, order);
        auto top = [&](Value f) -> Value { // the top 16 bits, as f32
          return b.create<vector::BitCastOp>(
              f32x64, b.create<arith::AndIOp>(
                          b.create<vector::BitCastOp>(i32x64, f), high));
        };
        Value hi = top(v);
        Value rest = b.create<arith::SubFOp>(v, hi);
        Value mid = top(rest);
        Value lo = b.create<arith::SubFOp>(rest, mid);
        Value pieces[] = {hi, mid, lo};
        for (auto [p, piece] : llvm::enumerate(pieces)) {
          Value bits = b.create<vector::BitCastOp>(i32x64, piece);
          Value pairs = b.create<arith::OrIOp>(
              b.create<arith::ShRUIOp>(
                  b.create<vector::ShuffleOp>(bits, bits, evens), shift),
              b.create<arith::AndIOp>(
                  b.create<vector::ShuffleOp>(bits, bits, odds), oddHigh));
          for (int64_t h = 0; h < 2; ++h) {
            Value tileStart = b.create<arith::MulIOp>(
                b.create<arith::AddIOp>(b.create<arith::MulIOp>(blk, idx(2)),
                                        idx(int64_t(p) * kTiles + h)),
                idx(256));
            for (int64_t i = 0; i < 16; ++i)
              b.create<memref::StoreOp>(
                  b.create<vector::ExtractOp>(pairs, 16 * h + i), xp,
                  ValueRange{b.create<arith::AddIOp>(
                      base, b.create<arith::AddIOp>(tileStart, idx(16 * i)))});
          }
        }
      });
    });

    // Chunks of 256 table rows per parallel iteration, a set of 32 rows
    // (two A tiles, which share each load of x's tiles) at a time: the next
    // set is decoded (or copied) into bf16 in L2, then the current one is
    // multiplied by every group of x rows while the set after next streams
    // into L2. The copy holds two sets in turn.
    constexpr int64_t chunk = 256, pairRows = 32;
    Value stride64 = b.create<arith::ConstantIntOp>(64, 64);
    Value zeroBf16 = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(bf16x64, b.getZeroAttr(b.getBF16Type())));
    // Fewer than 16 x rows: the sums and x tiles are as many columns wide
    // (a tile reads and multiplies only those; each sum is the same).
    Value colBytes = b.create<arith::IndexCastOp>(
        b.getI8Type(),
        b.create<arith::MulIOp>(b.create<arith::MinUIOp>(n, idx(16)), idx(4)));
    parallelFor(idx(0), vocab, idx(chunk), [&](Value c0) {
      Value end = b.create<arith::MinUIOp>(
          b.create<arith::AddIOp>(c0, idx(chunk)), vocab);
      Value count = b.create<arith::SubIOp>(end, c0);
      // Tiles 0-1: hi's sums of the two 16-row halves, 2-3: mid's and lo's;
      // 4-5 the halves' table rows; 6-7 x's parts in turn.
      configureTiles(b, tiles, {0, 1, 2, 3, 6, 7}, colBytes);
      // In A tiles' order: [16-row tile of the two sets][k tile][row][32].
      Value copy = b.create<memref::AllocOp>(
          MemRefType::get({2 * pairRows * d}, b.getBF16Type()),
          b.getI64IntegerAttr(64));
      Value sums = b.create<memref::AllocOp>(MemRefType::get({4 * 256}, f32t),
                                             b.getI64IntegerAttr(64));
      // Block f % blocks of the chunk's row s0 + f / blocks into the copy;
      // rows past the table's end are zeros (their sums are not stored).
      auto decode = [&](Value s0, Value f) {
        Value s = b.create<arith::AddIOp>(
            s0, b.create<arith::DivUIOp>(f, idx(blocks)));
        Value blk = b.create<arith::RemUIOp>(f, idx(blocks));
        Value v = b.create<arith::AddIOp>(c0, s);
        Value j = b.create<arith::MulIOp>(blk, idx(64));
        auto inside = b.create<scf::IfOp>(
            TypeRange{bf16x64},
            b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, v, end),
            /*withElse=*/true);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&inside.getThenRegion().front());
          Value values;
          if (packed) {
            for (int64_t line = 0; line < 2; ++line)
              prefetch(table, {b.create<arith::AddIOp>(
                                  packed_bf16::blockOffset(b, v, blk, d),
                                  idx(kPrefetchBytes + line * 64))});
            values = packed_bf16::loadBlock(b, table, v, blk, vocabRows, d,
                                            packed, how);
          } else {
            values = b.create<vector::LoadOp>(bf16x64, table, ValueRange{v, j});
            values = b.create<vector::ShuffleOp>(values, values, order);
          }
          b.create<scf::YieldOp>(values);
          b.setInsertionPointToStart(&inside.getElseRegion().front());
          b.create<scf::YieldOp>(zeroBf16);
        }
        Value slotRow = b.create<arith::RemUIOp>(s, idx(2 * pairRows));
        Value tileStart = b.create<arith::AddIOp>(
            b.create<arith::MulIOp>(b.create<arith::DivUIOp>(slotRow, idx(16)),
                                    idx(16 * d)),
            b.create<arith::MulIOp>(b.create<arith::RemUIOp>(slotRow, idx(16)),
                                    idx(32)));
        for (int64_t half = 0; half < 2; ++half) {
          SmallVector<int64_t> lanes =
              llvm::to_vector(llvm::seq<int64_t>(32 * half, 32 * half + 32));
          Value part = b.create<vector::ShuffleOp>(inside.getResult(0),
                                                   inside.getResult(0), lanes);
          // k tile 2 blk + half: 16 rows x 32 values further per k tile.
          b.create<vector::StoreOp>(
              part, copy,
              ValueRange{b.create<arith::AddIOp>(
                  tileStart,
                  b.create<arith::MulIOp>(
                      b.create<arith::AddIOp>(
                          b.create<arith::MulIOp>(blk, idx(2)), idx(half)),
                      idx(512)))});
        }
      };
      // The set after next streams into L2 under the tile products: its
      // rows' bytes, a share per k tile (prefetches, not stores: the tiles'
      // loads wait for the stores before them, so the decoding goes
      // between sets, not inside the k loop).
      int64_t setBytes = pairRows * (packed ? packed_bf16::rowBytes(d) : 2 * d);
      int64_t linesPerTile = llvm::divideCeil(setBytes / 64, kTiles);
      auto prefetchSet = [&](Value s0, Value kt) {
        Value v0 = b.create<arith::AddIOp>(c0, s0);
        for (int64_t i = 0; i < linesPerTile; ++i) {
          Value line = b.create<arith::AddIOp>(
              b.create<arith::MulIOp>(kt, idx(linesPerTile)), idx(i));
          if (packed) {
            prefetch(table,
                     {b.create<arith::AddIOp>(
                         packed_bf16::blockOffset(b, v0, idx(0), d),
                         b.create<arith::MulIOp>(line, idx(64)))},
                     /*locality=*/2);
            continue;
          }
          Value rowLines = idx(2 * d / 64);
          prefetch(table,
                   {b.create<arith::AddIOp>(
                        v0, b.create<arith::DivUIOp>(line, rowLines)),
                    b.create<arith::MulIOp>(
                        b.create<arith::RemUIOp>(line, rowLines), idx(32))},
                   /*locality=*/2);
        }
      };
      auto decodeSet = [&](Value s0) {
        forEach(idx(pairRows * blocks), [&](Value f) { decode(s0, f); });
      };
      decodeSet(idx(0));
      Value pairs = b.create<arith::DivUIOp>(
          b.create<arith::AddIOp>(count, idx(pairRows - 1)), idx(pairRows));
      forEach(pairs, [&](Value pair) {
        Value nextRows = b.create<arith::MulIOp>(
            b.create<arith::AddIOp>(pair, idx(1)), idx(pairRows));
        auto next = b.create<scf::IfOp>(
            b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, nextRows, count),
            /*withElse=*/false);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&next.getThenRegion().front());
          decodeSet(nextRows);
        }
        Value afterRows = b.create<arith::AddIOp>(nextRows, idx(pairRows));
        // Only where the set after next is in the table (its last row).
        Value prefetchAfter = b.create<arith::CmpIOp>(
            arith::CmpIPredicate::ult,
            b.create<arith::AddIOp>(c0, idx(pairRows - 1)),
            b.create<arith::SubIOp>(vocab, afterRows));
        // This set's two A tiles, [k tile][16 rows x 32 values] each.
        Value aStart = b.create<arith::MulIOp>(
            b.create<arith::RemUIOp>(pair, idx(2)), idx(pairRows * d * 2));
        forEach(groups, [&](Value g) {
          Value xGroup = b.create<arith::MulIOp>(g, idx(groupInts * 4));
          Value cols = b.create<arith::MinUIOp>(
              b.create<arith::SubIOp>(n, b.create<arith::MulIOp>(g, idx(16))),
              idx(16));
          for (int c = 0; c < 4; ++c)
            tiles.zero(b, c);
          Value streams = b.create<arith::AndIOp>(
              prefetchAfter,
              b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, g, idx(0)));
          forEach(idx(kTiles), [&](Value kt) {
            auto ahead = b.create<scf::IfOp>(streams, /*withElse=*/false);
            {
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPointToStart(&ahead.getThenRegion().front());
              prefetchSet(afterRows, kt);
            }
            Value kOff = b.create<arith::MulIOp>(kt, idx(1024));
            for (int h = 0; h < 2; ++h)
              tiles.load(
                  b, 4 + h,
                  byteAddress(b, copy,
                              b.create<arith::AddIOp>(
                                  aStart, b.create<arith::AddIOp>(
                                              kOff, idx(h * 16 * d * 2)))),
                  stride64);
            // hi into tiles 0-1; mid, then lo, into 2-3.
            for (int p = 0; p < 3; ++p) {
              int bTile = 6 + p % 2;
              tiles.load(
                  b, bTile,
                  byteAddress(b, xp,
                              b.create<arith::AddIOp>(
                                  xGroup, b.create<arith::MulIOp>(
                                              b.create<arith::AddIOp>(
                                                  kt, idx(int64_t(p) * kTiles)),
                                              idx(1024)))),
                  stride64);
              for (int h = 0; h < 2; ++h)
                tiles.multiplyBF16(b, (p ? 2 : 0) + h, 4 + h, bTile);
            }
          });
          for (int c = 0; c < 4; ++c)
            tiles.store(b, c, byteAddress(b, sums, idx(c * 1024)), stride64);
          for (int64_t h = 0; h < 2; ++h) {
            Value v0 = b.create<arith::AddIOp>(
                c0,
                b.create<arith::AddIOp>(
                    b.create<arith::MulIOp>(pair, idx(pairRows)), idx(16 * h)));
            Value valid = b.create<arith::MinUIOp>(
                b.create<arith::MaxSIOp>(b.create<arith::SubIOp>(end, v0),
                                         idx(0)),
                idx(16));
            forEach(cols, [&](Value c) {
              Value r = b.create<arith::AddIOp>(
                  b.create<arith::MulIOp>(g, idx(16)), c);
              forEach(valid, [&](Value m) {
                Value at = b.create<arith::AddIOp>(
                    b.create<arith::MulIOp>(m, idx(16)), c);
                auto sum = [&](int64_t tile) -> Value {
                  return b.create<memref::LoadOp>(
                      sums,
                      ValueRange{b.create<arith::AddIOp>(at, idx(tile * 256))});
                };
                b.create<memref::StoreOp>(
                    b.create<arith::AddFOp>(sum(h), sum(2 + h)), out,
                    ValueRange{r, b.create<arith::AddIOp>(v0, m)});
              });
            });
          }
        });
      });
      tiles.release(b);
      b.create<memref::DeallocOp>(copy);
      b.create<memref::DeallocOp>(sums);
    });
    b.create<memref::DeallocOp>(xp);
  });
}
