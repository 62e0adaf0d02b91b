//===- TernaryMatmul.cpp - the ternary matmul kernels ---------------------===//
//
// acc[t, n] = sum_k q[t, k] * W[n, k] in i32, y = acc / s[t] * scale.
//
// Scalar: i2 (or unpacked) weights, one multiply-add per weight; the
// reference every other kernel is checked against.
//
// i2_k64 (SIMD): codes c = W + 1 in {0, 1, 2} are unsigned bytes, so
// sum_k c * q is a u8 x i8 byte dot product, and acc = sum_k c * q - sum_k q.
// One 16-byte load gives a block of 64 codes (Layouts/I2K64.cpp). This tile
// loop is shared by every CPU family; the dot product is the family's
// (TernaryDot: vpdpbusd or pmaddubsw + pmaddwd in lib/Target/X86, sdot,
// smmla or smull in lib/Target/AArch64, portable code here). Rows go in
// chunks, the outer loop; within a chunk, groups of tokens, then the chunk's
// row tiles: each row's bytes are read from memory once per call, however
// many tokens a prefill has, and a token group's activations stay in L1
// across the chunk. Register tiles of 4 rows x 4 tokens (one unpacked block
// of codes feeds 4 tokens, one block of activations 4 rows; 1 x 12 with K in
// pieces where AVX2 keeps 16-bit partial sums), and 8 rows x 1 token for
// decode. Families with matrix tiles (AMX) do prompts there
// (MatrixTiles.cpp).
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/KernelEmitter.h"
#include "tern/Conversion/Numerics.h"
#include "tern/Target/NVPTX/GpuW2.h"

#include "Tern/IR/PackedLayouts.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;
namespace i2_k64 = mlir::tern::layouts::i2_k64;

// Prefill row chunks: 64 KiB of weights (L2 holds them while every token
// group passes), or 16 rows where K goes in pieces (their accumulators wait
// on the stack: 16 x 12 x 32 bytes for AVX2).
static constexpr int64_t kChunkBytes = 64 * 1024;
static constexpr int64_t kPieceChunkRows = 16;

Value KernelEmitter::withResidual(TernaryMatmulOp op, Value y, Value t,
                                  Value n) {
  if (!op.getResidual())
    return y;
  auto vector = dyn_cast<VectorType>(y.getType());
  return b.create<arith::AddFOp>(y, load(in(op.getResidual()), {t, n},
                                         vector ? vector.getNumElements() : 1));
}

void KernelEmitter::lowerTernaryMatmul(TernaryMatmulOp op) {
  Value q = in(op.getInput()), s = in(op.getScale());
  Value k = dim(q, 1);
  for (auto [i, weight] : llvm::enumerate(op.getWeights())) {
    Value w = in(weight), out = output(op.getResult(i));
    PackedAttr packed = getPackedEncoding(weight.getType());
    int64_t kStatic = cast<RankedTensorType>(weight.getType()).getDimSize(1);
    Value wScale = extra(i);
    // The trit W[n, j] as i32: unpacked, or an i2 code minus 1.
    auto trit = [&](Value n, Value j) -> Value {
      if (!packed)
        return b.create<arith::ExtSIOp>(
            b.getI32Type(), b.create<memref::LoadOp>(w, ValueRange{n, j}));
      return b.create<arith::SubIOp>(layouts::i2::loadCode(b, w, n, j, kStatic),
                                     i32(1));
    };
    forEach(dim(q, 0), [&](Value t) {
      Value sx = b.create<memref::LoadOp>(s, ValueRange{t});
      forEach(dim(out, 1), [&](Value n) {
        Value acc = reduce(k, i32(0), [&](Value j, Value acc) {
          Value qv = b.create<arith::ExtSIOp>(
              b.getI32Type(), b.create<memref::LoadOp>(q, ValueRange{t, j}));
          return b.create<arith::AddIOp>(
              acc, b.create<arith::MulIOp>(qv, trit(n, j)));
        });
        Value y = dequantize(
            b, b.getLoc(), acc, [&] { return sx; }, wScale);
        b.create<memref::StoreOp>(withResidual(op, y, t, n), out,
                                  ValueRange{t, n});
      });
    });
  }
}

void KernelEmitter::lowerTernaryMatmulGpuW2(TernaryMatmulOp op) {
  Value q = in(op.getInput()), s = in(op.getScale());
  Value tokens = dim(q, 0);
  for (auto [i, weight] : llvm::enumerate(op.getWeights())) {
    auto type = cast<RankedTensorType>(weight.getType());
    int64_t n = type.getDimSize(0), k = type.getDimSize(1);
    // The words of the layout: the byte blob viewed as i32.
    int64_t words = n * llvm::divideCeil(k, 16);
    Value w = b.create<memref::ViewOp>(MemRefType::get({words}, b.getI32Type()),
                                       in(weight), idx(0), ValueRange{});
    Value out = output(op.getResult(i)), wScale = extra(i);
    // The GPU's grid: a thread per row, a grid row per tile of tokens (one
    // token for decode, kPrefillTile for prefill), as the kernels run.
    auto grid = [&](int64_t tile) {
      Value tiles = b.create<arith::DivUIOp>(
          b.create<arith::AddIOp>(tokens, idx(tile - 1)), idx(tile));
      forEach(tiles, [&](Value ti) {
        Value t0 = b.create<arith::MulIOp>(ti, idx(tile));
        parallelFor(idx(0), idx(n), idx(1), [&](Value row) {
          SmallVector<Value> dots = gpuW2Dot(b, b.getLoc(), q, w, t0, tokens,
                                             tile, row, k, n, dp4aArith);
          gpuW2Store(b, b.getLoc(), dots, t0, tokens, row, s, wScale, out,
                     op.getResidual() ? in(op.getResidual()) : Value());
        });
      });
    };
    auto decode = b.create<scf::IfOp>(
        b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, tokens, idx(1)),
        /*else=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&decode.getThenRegion().front());
    grid(1);
    b.setInsertionPointToStart(&decode.getElseRegion().front());
    grid(kPrefillTile);
  }
}

Value KernelEmitter::unscaleLanes(Value acc) {
  // The accumulator's 128-bit lane l summed codes scaled by 4^(l % g)
  // (TernaryDot::inPlaceLanes); every partial sum is an exact multiple, so
  // an arithmetic shift undoes it.
  int64_t group = dot.inPlaceLanes();
  auto type = cast<VectorType>(acc.getType());
  if (group == 1)
    return acc;
  SmallVector<int32_t> shifts;
  for (int64_t i = 0; i < type.getNumElements(); ++i)
    shifts.push_back(int32_t(2 * (i / 4 % group)));
  return b.create<arith::ShRSIOp>(
      acc, b.create<arith::ConstantOp>(
               DenseElementsAttr::get(type, ArrayRef<int32_t>(shifts))));
}

Value KernelEmitter::sumAccumulator(Value acc) {
  return b.create<vector::ReductionOp>(vector::CombiningKind::ADD,
                                       unscaleLanes(acc));
}

SmallVector<Value> KernelEmitter::sumAccumulators(ValueRange accs) {
  SmallVector<Value> totals;
  auto type = cast<VectorType>(accs[0].getType());
  if (int64_t(accs.size()) != type.getNumElements()) {
    for (Value acc : accs)
      totals.push_back(sumAccumulator(acc));
    return totals;
  }
  // As many accumulators as lanes (the 4 x 4 tile's 16 in 16 lanes): one
  // shuffle-and-add tree sums them all at once.
  SmallVector<Value> shifted;
  for (Value acc : accs)
    shifted.push_back(unscaleLanes(acc));
  Value all = transposeSum(shifted);
  for (int64_t i = 0; i < type.getNumElements(); ++i)
    totals.push_back(b.create<vector::ExtractOp>(all, i));
  return totals;
}

namespace {

/// Portable code: widen and multiply; LLVM picks the instructions.
struct PortableDot : TernaryDot {
  VectorType accumulatorType(MLIRContext *context) const override {
    return VectorType::get({64}, IntegerType::get(context, 32));
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    auto v64i32 = VectorType::get({64}, b.getI32Type());
    Value c = b.create<arith::ExtUIOp>(v64i32, codes);
    Value x = b.create<arith::ExtSIOp>(v64i32, q);
    return b.create<arith::AddIOp>(acc, b.create<arith::MulIOp>(c, x));
  }
};

} // namespace

const TernaryDot &
mlir::tern::kernels::ternaryDotFor(const KernelFamily &family) {
  static const PortableDot portable;
  if (const TernaryDot *dot = x86::getTernaryDot(family.name))
    return *dot;
  if (const TernaryDot *dot = aarch64::getTernaryDot(family.name))
    return *dot;
  return portable;
}

void KernelEmitter::lowerTernaryMatmulK64(TernaryMatmulOp op) {
  Value q = in(op.getInput()), s = in(op.getScale());
  int64_t k = cast<RankedTensorType>(op.getInput().getType()).getDimSize(1);
  int64_t full = k / 64, blocks = llvm::divideCeil(k, 64);
  auto i8 = b.getI8Type(), i32t = b.getI32Type();
  auto v16i8 = VectorType::get({16}, i8), v64i8 = VectorType::get({64}, i8);
  Value tokens = dim(q, 0);

  // sum_k q[t, k]: the codes are trits + 1 (into the caller's scratch).
  Value sums = extra(op.getWeights().size());
  forEach(tokens, [&](Value t) {
    Value sum = reduce(idx(k), i32(0), [&](Value j, Value acc) {
      return b.create<arith::AddIOp>(
          acc, b.create<arith::ExtSIOp>(
                   i32t, b.create<memref::LoadOp>(q, ValueRange{t, j})));
    });
    b.create<memref::StoreOp>(sum, sums, ValueRange{t});
  });

  Type accType = dot.accumulatorType(b.getContext());
  Value zero = b.create<arith::ConstantOp>(DenseElementsAttr::get(
      cast<ShapedType>(accType), b.getI32IntegerAttr(0).getValue()));

  // A register tile: `rows` rows times `toks` tokens, each pair with its
  // own accumulator, so one unpacked block of codes feeds `toks` dot
  // products and one activation block feeds `rows`.
  struct Tile {
    SmallVector<Value> rowStart, tok;
    Value n0;
    Value ahead; // a row whose blocks to prefetch, or null
    int64_t rows, toks;
  };
  auto makeTile = [&](Value n0, Value t0, int64_t rows, int64_t toks) {
    Tile t{{}, {}, n0, Value(), rows, toks};
    // Each row's block 0; its blocks follow every kBlockStride bytes.
    for (int64_t r = 0; r < rows; ++r)
      t.rowStart.push_back(
          i2_k64::rowOffset(b, b.create<arith::AddIOp>(n0, idx(r)), blocks));
    for (int64_t u = 0; u < toks; ++u)
      t.tok.push_back(b.create<arith::AddIOp>(t0, idx(u)));
    return t;
  };
  // smmla: one accumulator per 2 x 2 block of rows and tokens.
  auto pairsOf = [&](const Tile &t) {
    return dot.hasPairBlocks() && t.rows % 2 == 0 && t.toks % 2 == 0;
  };
  auto numAccs = [&](const Tile &t) {
    return pairsOf(t) ? t.rows * t.toks / 4 : t.rows * t.toks;
  };

  // The tile's accumulators `inits` plus its products over blocks
  // [b0, b1).
  auto accumulate = [&](Value w, const Tile &t, Value b0, Value b1,
                        ValueRange inits) -> SmallVector<Value> {
    int64_t rows = t.rows, toks = t.toks;
    bool pairs = pairsOf(t);
    // pmaddubsw: 16-bit partial sums over up to `chunk` blocks.
    int64_t chunk = pairs ? 0 : dot.partialBlocks();
    std::string region =
        "tile" + std::to_string(rows) + "x" + std::to_string(toks);
    auto marker = [&](StringRef what) {
      if (mcaMarkers)
        b.create<LLVM::InlineAsmOp>(
            Type(), ValueRange{}, ("# LLVM-MCA-" + what + " " + region).str(),
            "", /*has_side_effects=*/true, /*is_align_stack=*/false,
            LLVM::AsmDialectAttr(), ArrayAttr());
    };
    // One block's products added to `accs`: a loop body.
    auto step = [&](Value block, ValueRange accs) {
      marker("BEGIN");
      Value kOff = b.create<arith::MulIOp>(block, idx(64));
      Value bOff = b.create<arith::MulIOp>(block, idx(i2_k64::kBlockStride));
      // Decode streams the weights: the tile's two lines of this block,
      // kDecodePrefetchBytes ahead (the next tile's rows follow this one's).
      // One-row prefill tiles: the block of the row 4 ahead (the next
      // 64-byte line of rows), whose first tile would otherwise wait for it.
      if (t.ahead)
        prefetch(w, {b.create<arith::AddIOp>(t.ahead, bOff)});
      if (toks == 1 && full > 1)
        for (int64_t line = 0; line < 2; ++line)
          prefetch(w, {b.create<arith::AddIOp>(
                          t.rowStart[0],
                          b.create<arith::AddIOp>(
                              bOff, idx(kDecodePrefetchBytes + 64 * line)))});
      auto codesOf = [&](int64_t r) {
        return i2_k64::unpackBlock(
            b,
            b.create<vector::LoadOp>(
                v16i8, w,
                ValueRange{b.create<arith::AddIOp>(t.rowStart[r], bOff)}),
            dot.inPlaceLanes());
      };
      SmallVector<Value> codes, acts, next;
      for (int64_t u = 0; u < toks; ++u)
        acts.push_back(
            b.create<vector::LoadOp>(v64i8, q, ValueRange{t.tok[u], kOff}));
      if (chunk) {
        // Row by row: one row's codes live at a time beside the sums.
        for (int64_t r = 0; r < rows; ++r) {
          Value c = codesOf(r);
          for (int64_t u = 0; u < toks; ++u)
            next.push_back(dot.dot64Partial(b, accs[r * toks + u], c, acts[u]));
        }
      } else {
        for (int64_t r = 0; r < rows; ++r)
          codes.push_back(codesOf(r));
        if (pairs) {
          for (int64_t r = 0; r < rows; r += 2)
            for (int64_t u = 0; u < toks; u += 2)
              next.push_back(dot.mmla64(b, accs[r / 2 * (toks / 2) + u / 2],
                                        codes[r], codes[r + 1], acts[u],
                                        acts[u + 1]));
        } else {
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t u = 0; u < toks; ++u)
              next.push_back(
                  dot.dot64(b, accs[r * toks + u], codes[r], acts[u]));
        }
      }
      marker("END");
      b.create<scf::YieldOp>(next);
    };
    scf::ForOp loop;
    if (chunk) {
      // Chunks of `chunk` blocks, each summed in 16-bit lanes from zero,
      // then widened into the accumulators.
      Value partialZero = b.create<arith::ConstantOp>(DenseElementsAttr::get(
          dot.partialType(b.getContext()), b.getI16IntegerAttr(0).getValue()));
      loop = b.create<scf::ForOp>(b0, b1, idx(chunk), inits);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value first = loop.getInductionVar();
      Value end = b.create<arith::MinUIOp>(
          b.create<arith::AddIOp>(first, idx(chunk)), b1);
      auto inner = b.create<scf::ForOp>(
          first, end, idx(1), SmallVector<Value>(inits.size(), partialZero));
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(inner.getBody());
        step(inner.getInductionVar(), inner.getRegionIterArgs());
      }
      SmallVector<Value> flushed;
      for (auto [acc, partial] :
           llvm::zip(loop.getRegionIterArgs(), inner.getResults()))
        flushed.push_back(dot.flushPartial(b, acc, partial));
      b.create<scf::YieldOp>(flushed);
    } else {
      loop = b.create<scf::ForOp>(b0, b1, idx(1), inits);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      step(loop.getInductionVar(), loop.getRegionIterArgs());
    }
    return SmallVector<Value>(loop.getResults());
  };

  // out[tk, n] from `total`, the sum of codes times activations over the
  // full blocks of row n (at byte offset `row`).
  auto storeOutput = [&](Value w, Value out, Value wScale, Value row, Value tk,
                         Value n, Value total) {
    // K % 64 trailing elements, one at a time.
    if (k % 64) {
      Value last =
          b.create<arith::AddIOp>(row, idx(full * i2_k64::kBlockStride));
      total = reduce(idx(k % 64), total, [&](Value j, Value acc) {
        Value code = i2_k64::loadCode(b, w, last, j);
        Value qv = b.create<arith::ExtSIOp>(
            i32t,
            b.create<memref::LoadOp>(
                q, ValueRange{tk, b.create<arith::AddIOp>(idx(full * 64), j)}));
        return b.create<arith::AddIOp>(acc, b.create<arith::MulIOp>(code, qv));
      });
    }
    total = b.create<arith::SubIOp>(
        total, b.create<memref::LoadOp>(sums, ValueRange{tk}));
    Value y = dequantize(
        b, b.getLoc(), total,
        [&]() -> Value { return b.create<memref::LoadOp>(s, ValueRange{tk}); },
        wScale);
    b.create<memref::StoreOp>(withResidual(op, y, tk, n), out,
                              ValueRange{tk, n});
  };

  // out[tk, n .. n + 15] from the sums over all of K (K % 64 = 0): the
  // same epilogue in 16 lanes.
  auto storeOutputs = [&](Value out, Value wScale, Value tk, Value n,
                          Value totals) {
    totals = b.create<arith::SubIOp>(
        totals, splat(b.create<memref::LoadOp>(sums, ValueRange{tk}), 16));
    Value y = dequantize(
        b, b.getLoc(), totals,
        [&]() {
          return splat(b.create<memref::LoadOp>(s, ValueRange{tk}), 16);
        },
        splat(wScale, 16));
    store(withResidual(op, y, tk, n), out, {tk, n});
  };

  // The tile's outputs from its accumulators over all blocks.
  auto finish = [&](Value w, Value out, Value wScale, const Tile &t,
                    ValueRange accs) {
    int64_t rows = t.rows, toks = t.toks;
    SmallVector<Value> totals;
    if (pairsOf(t)) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t u = 0; u < toks; ++u)
          totals.push_back(b.create<vector::ExtractOp>(
              accs[r / 2 * (toks / 2) + u / 2], 2 * (r % 2) + u % 2));
    } else {
      totals = sumAccumulators(accs);
    }
    for (int64_t u = 0; u < toks; ++u)
      for (int64_t r = 0; r < rows; ++r)
        storeOutput(w, out, wScale, t.rowStart[r], t.tok[u],
                    b.create<arith::AddIOp>(t.n0, idx(r)),
                    totals[r * toks + u]);
  };
  auto tile = [&](Value w, Value out, Value wScale, Value n0, Value t0,
                  int64_t rows, int64_t toks) {
    Tile t = makeTile(n0, t0, rows, toks);
    finish(w, out, wScale, t,
           accumulate(w, t, idx(0), idx(full),
                      SmallVector<Value>(numAccs(t), zero)));
  };

  // Prefill: groups of the tile's tokens, each token once, then the
  // remaining tokens in groups of 8, 4, 2 and 1 (the binary digits of their
  // count), so that a batch of any size computes each token once, in one
  // pass over each chunk of weights. (A server's decode step is a batch of
  // a few tokens.) One token alone takes the decode tiles, 8 rows x 1
  // token: eight independent dot-product chains per activation block, all
  // rows on the thread team.
  auto [tileRows, tileToks] = dot.prefillTile();
  Value single =
      b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, tokens, idx(1));
  Value decodeStart = b.create<arith::SelectOp>(single, idx(0), tokens);
  Value mainToks = b.create<arith::MulIOp>(
      b.create<arith::DivUIOp>(decodeStart, idx(tileToks)), idx(tileToks));
  Value rest = b.create<arith::SubIOp>(decodeStart, mainToks);
  SmallVector<int64_t> restSizes;
  for (int64_t size = int64_t(llvm::PowerOf2Ceil(uint64_t(tileToks))) / 2;
       size >= 1; size /= 2)
    restSizes.push_back(size);
  auto forGroups = [&, tileToks = tileToks](
                       function_ref<void(Value t0, int64_t toks)> body) {
    forRange(idx(0), mainToks, tileToks, [&](Value t0) { body(t0, tileToks); });
    for (int64_t size : restSizes) {
      // The group of `size` starts after the larger groups of the rest.
      Value bit = b.create<arith::AndIOp>(rest, idx(size));
      auto group = b.create<scf::IfOp>(
          b.create<arith::CmpIOp>(arith::CmpIPredicate::ne, bit, idx(0)),
          /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&group.getThenRegion().front());
      Value before = b.create<arith::AndIOp>(rest, idx(~(2 * size - 1)));
      body(b.create<arith::AddIOp>(mainToks, before), size);
    }
  };

  // Rows go in chunks whose weights stay in L2 while every token group
  // passes over them, so a group's activations stay in L1 across the
  // chunk's row tiles (weights are a quarter of the bytes per product that
  // activations are). Where a group's activations over all of K would not
  // fit L1 (TernaryDot::activationBytes), K goes in pieces: the chunk's
  // accumulators wait in a stack buffer between pieces.
  int64_t tileBytes = tileRows * blocks * i2_k64::kBlockBytes;
  int64_t pieceBlocks = full;
  if (int64_t budget = dot.activationBytes()) {
    int64_t step = std::max<int64_t>(1, dot.partialBlocks());
    pieceBlocks = std::max<int64_t>(1, budget / (tileToks * 64) / step) * step;
  }
  bool pieces = pieceBlocks < full;
  int64_t chunk =
      pieces ? tileRows * llvm::divideCeil(kPieceChunkRows, tileRows)
             : std::max<int64_t>(1, kChunkBytes / tileBytes) * tileRows;
  // Blocks [p0, p1) of a one-row-chunk tile: its accumulators wait in
  // `waiting` between pieces; the last piece stores the outputs.
  auto pieceTile = [&, tileRows = tileRows](Value w, Value out, Value wScale,
                                            Value waiting, Value c0, Value n0,
                                            Value t0, int64_t toks, Value p0,
                                            Value p1, int64_t n) {
    Tile t = makeTile(n0, t0, tileRows, toks);
    int64_t perTile = numAccs(t);
    if (tileRows == 1)
      t.ahead = i2_k64::rowOffset(
          b,
          b.create<arith::MinUIOp>(b.create<arith::AddIOp>(n0, idx(4)),
                                   idx(n - 1)),
          blocks);
    Value slot = b.create<arith::MulIOp>(
        b.create<arith::DivUIOp>(b.create<arith::SubIOp>(n0, c0),
                                 idx(tileRows)),
        idx(perTile));
    auto at = [&](int64_t j) -> Value {
      return b.create<arith::AddIOp>(slot, idx(j));
    };
    // The first piece starts from zero, the others from the
    // accumulators the previous piece left.
    auto first = b.create<scf::IfOp>(
        SmallVector<Type>(perTile, accType),
        b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, p0, idx(0)),
        /*withElse=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&first.getThenRegion().front());
      b.create<scf::YieldOp>(SmallVector<Value>(perTile, zero));
      b.setInsertionPointToStart(&first.getElseRegion().front());
      SmallVector<Value> loaded;
      for (int64_t j = 0; j < perTile; ++j)
        loaded.push_back(b.create<memref::LoadOp>(waiting, ValueRange{at(j)}));
      b.create<scf::YieldOp>(loaded);
    }
    SmallVector<Value> accs = accumulate(w, t, p0, p1, first.getResults());
    auto last = b.create<scf::IfOp>(
        b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, p1, idx(full)),
        /*withElse=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&last.getThenRegion().front());
    finish(w, out, wScale, t, accs);
    b.setInsertionPointToStart(&last.getElseRegion().front());
    for (int64_t j = 0; j < perTile; ++j)
      b.create<memref::StoreOp>(accs[j], waiting, ValueRange{at(j)});
  };
  // Matrix tiles (AMX), where the family has them and the OS lends them:
  // every prefill token on the rows that fill 32-row tiles.
  const MatrixTiles *tiles = full ? dot.matrixTiles() : nullptr;
  Value useTiles, padded;
  if (tiles) {
    useTiles = tilesFor(*tiles, tokens, 1);
    padded = extra(op.getWeights().size() + 1);
    auto pad = b.create<scf::IfOp>(useTiles, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&pad.getThenRegion().front());
    padTileActivations(q, padded, tokens, k);
  }

  for (auto [i, weight] : llvm::enumerate(op.getWeights())) {
    Value w = in(weight), out = output(op.getResult(i));
    Value wScale = extra(i);
    int64_t n = cast<MemRefType>(out.getType()).getDimSize(1);
    int64_t mainRows = n / tileRows * tileRows;
    Value firstRow = idx(0);
    if (tiles && n >= kTileRows) {
      int64_t tileRowsEnd = n / kTileRows * kTileRows;
      auto amx = b.create<scf::IfOp>(useTiles, /*withElse=*/false);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&amx.getThenRegion().front());
        matrixTilePrefill(
            *tiles, w, q, padded, tokens, tileRowsEnd, k,
            [&](Value tk, Value n, Value totals) {
              if (k % 64) {
                for (int64_t r = 0; r < 16; ++r) {
                  Value nr = b.create<arith::AddIOp>(n, idx(r));
                  storeOutput(w, out, wScale, i2_k64::rowOffset(b, nr, blocks),
                              tk, nr, b.create<vector::ExtractOp>(totals, r));
                }
                return;
              }
              storeOutputs(out, wScale, tk, n, totals);
            });
      }
      firstRow = b.create<arith::SelectOp>(useTiles, idx(tileRowsEnd), idx(0));
    }
    parallelFor(
        firstRow, idx(mainRows), idx(chunk),
        [&, tileRows = tileRows, tileToks = tileToks](Value c0) {
          Value end = b.create<arith::MinUIOp>(
              b.create<arith::AddIOp>(c0, idx(chunk)), idx(mainRows));
          if (!pieces) {
            forGroups([&](Value t0, int64_t toks) {
              forRange(c0, end, tileRows, [&](Value n0) {
                tile(w, out, wScale, n0, t0, tileRows, toks);
              });
            });
            return;
          }
          // Room for every row tile's accumulators (at most one per pair).
          auto waiting = b.create<memref::AllocaOp>(
              MemRefType::get({chunk * tileToks}, accType),
              b.getI64IntegerAttr(64));
          forGroups([&](Value t0, int64_t toks) {
            forRange(idx(0), idx(full), pieceBlocks, [&](Value p0) {
              Value p1 = b.create<arith::MinUIOp>(
                  b.create<arith::AddIOp>(p0, idx(pieceBlocks)), idx(full));
              forRange(c0, end, tileRows, [&](Value n0) {
                pieceTile(w, out, wScale, waiting, c0, n0, t0, toks, p0, p1, n);
              });
            });
          });
        });
    // Rows that do not fill a row tile, one at a time over all of K.
    forRange(idx(mainRows), idx(n), 1, [&](Value n0) {
      forGroups([&](Value t0, int64_t toks) {
        tile(w, out, wScale, n0, t0, 1, toks);
      });
    });
    // Decode tiles.
    int64_t decodeRows = n / 8 * 8;
    parallelFor(idx(0), idx(decodeRows), idx(8), [&](Value n0) {
      forRange(decodeStart, tokens, 1,
               [&](Value t0) { tile(w, out, wScale, n0, t0, 8, 1); });
    });
    forRange(idx(decodeRows), idx(n), 1, [&](Value n0) {
      forRange(decodeStart, tokens, 1,
               [&](Value t0) { tile(w, out, wScale, n0, t0, 1, 1); });
    });
  }
}
