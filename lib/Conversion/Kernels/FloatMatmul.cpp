//===- FloatMatmul.cpp - embedding, LM head and float linear kernels ------===//
//
// out = x . table^T in f32 over a float (f32, f16, bf16) table: the LM head,
// the float baseline's linears and ONNX products by constant weights; the
// int8 LM head's integer products; and the embedding's row gather.
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/KernelEmitter.h"

#include "Tern/IR/PackedLayouts.h"
#include "tern/Conversion/Numerics.h"

#include <optional>

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;
namespace packed_bf16 = mlir::tern::layouts::packed_bf16;

void KernelEmitter::lowerEmbedding(EmbeddingOp op) {
  Value table = in(op.getTable()), ids = in(op.getIds());
  Value out = output(op.getResult());
  Value d = dim(out, 1);
  auto type = cast<RankedTensorType>(op.getTable().getType());
  PackedBF16Attr packed = getPackedBF16Encoding(type);
  forEach(dim(ids, 0), [&](Value t) {
    Value row = b.create<arith::IndexCastOp>(
        b.getIndexType(), b.create<memref::LoadOp>(ids, ValueRange{t}));
    if (packed) { // a block of 64 values at a time
      forEach(idx(type.getDimSize(1) / packed_bf16::kBlock), [&](Value blk) {
        Value values = packed_bf16::loadBlock(
            b, table, row, blk, type.getDimSize(0), type.getDimSize(1), packed);
        b.create<vector::StoreOp>(
            elementToF32(values), out,
            ValueRange{t, b.create<arith::MulIOp>(blk, idx(64))});
      });
      return;
    }
    forEach(d, [&](Value j) {
      Value v = toF32(b.create<memref::LoadOp>(table, ValueRange{row, j}));
      b.create<memref::StoreOp>(v, out, ValueRange{t, j});
    });
  });
}

Value KernelEmitter::foldTo16(Value v) {
  // Chunks of 16 lanes added pairwise (a tree), whatever their count.
  int64_t n = cast<VectorType>(v.getType()).getNumElements();
  assert(n % 16 == 0 && "a whole number of 16-lane chunks");
  SmallVector<Value> chunks;
  for (int64_t offset = 0; offset < n; offset += 16)
    chunks.push_back(b.create<vector::ExtractStridedSliceOp>(
        v, ArrayRef<int64_t>{offset}, ArrayRef<int64_t>{16},
        ArrayRef<int64_t>{1}));
  while (chunks.size() > 1) {
    SmallVector<Value> next;
    for (size_t i = 0; i + 1 < chunks.size(); i += 2)
      next.push_back(b.create<arith::AddFOp>(chunks[i], chunks[i + 1]));
    if (chunks.size() % 2)
      next.push_back(chunks.back());
    chunks = std::move(next);
  }
  return chunks.front();
}

Value KernelEmitter::sumF32(Value v) {
  return b.create<vector::ReductionOp>(vector::CombiningKind::ADD, foldTo16(v),
                                       Value(), arith::FastMathFlags::reassoc);
}

Value KernelEmitter::elementToF32(Value v) {
  if (!getElementTypeOrSelf(v).isBF16())
    return toF32(v);
  // bf16 is the top half of an f32: widen the bits and shift.
  auto like = [&](Type element) -> Type {
    if (auto vector = dyn_cast<VectorType>(v.getType()))
      return vector.clone(element);
    return element;
  };
  int64_t width = isa<VectorType>(v.getType())
                      ? cast<VectorType>(v.getType()).getNumElements()
                      : 1;
  Value bits = b.create<arith::ExtUIOp>(
      like(b.getI32Type()),
      b.create<arith::BitcastOp>(like(b.getI16Type()), v));
  return b.create<arith::BitcastOp>(
      like(b.getF32Type()),
      b.create<arith::ShLIOp>(bits, splat(i32(16), width)));
}

void KernelEmitter::lowerLMHead(LMHeadOp op) {
  Value x = in(op.getInput()), table = in(op.getTable());
  Value out = output(op.getResult());
  Value rows = extras.empty() ? Value() : extra(0);
  PackedBF16Attr packed = getPackedBF16Encoding(op.getTable().getType());
  // More rows than streamRows() on a bf16 table take the family's matrix
  // tiles where the OS lends them (bf16TileHead); fewer, and other
  // families, the FMA loops below. A few rows stream the table from memory
  // with FMAs at the speed of its bytes, which the tiles cannot match (the
  // decoded copy they load costs a write and a read per value); more rows
  // make the FMAs the bound, which the tiles are not. The two sum in
  // different orders: docs/Rationale.md, "The LM head in AMX tiles".
  std::optional<OpBuilder::InsertionGuard> inFallback;
  const MatrixTiles *tiles = dot.matrixTiles();
  auto tableType = cast<RankedTensorType>(op.getTable().getType());
  if (tiles && !op.getScales() && tableType.getElementType().isBF16() &&
      tableType.getDimSize(1) % 64 == 0) {
    auto amx = b.create<scf::IfOp>(tilesFor(*tiles, dim(out, 0), streamRows()),
                                   /*withElse=*/true);
    inFallback.emplace(b);
    b.setInsertionPointToStart(&amx.getThenRegion().front());
    bf16TileHead(*tiles, x, table, out, rows, packed);
    b.setInsertionPointToStart(&amx.getElseRegion().front());
  }
  lowerFloatMatmul(x, table, out, op.getScales() ? in(op.getScales()) : Value(),
                   rows, packed);
}

void KernelEmitter::lowerLinear(LinearOp op) {
  lowerFloatMatmul(in(op.getInput()), in(op.getWeight()),
                   output(op.getResult()));
}

Value KernelEmitter::inputRow(Value rows, Value r) {
  if (!rows)
    return r;
  return b.create<arith::IndexCastOp>(
      b.getIndexType(), b.create<memref::LoadOp>(rows, ValueRange{r}));
}

Value KernelEmitter::dotTail(Value x, Value t, Value table, Value v,
                             int64_t from, Value acc) {
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  if (from == d)
    return acc;
  return reduceRange(idx(from), idx(d), 1, acc, [&](Value j, Value acc) {
    Value e = toF32(b.create<memref::LoadOp>(table, ValueRange{v, j}));
    Value xv = b.create<memref::LoadOp>(x, ValueRange{t, j});
    return b.create<arith::AddFOp>(acc, b.create<arith::MulFOp>(xv, e));
  });
}

void KernelEmitter::lowerFloatMatmul(Value x, Value table, Value out,
                                     Value scales, Value rows,
                                     PackedBF16Attr packed) {
  // out[r, v] = x[t, :] . table[v, :] in f32, t = rows[r] (the LM head
  // computes only the logits the caller asked for), else t = r.
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  // bf16 tables take lowerBF16Matmul's loop (the same sums) for several rows.
  // One row (decode) streams the table from memory, and this loop, a row
  // per parallel iteration, measured faster there (2B4T shape, 1 thread,
  // tg64: 16.3-20.5 against 14.3-15.1 tokens/s in one interleaved run).
  // A packed table takes it for any row count (it decodes the table).
  if (packed)
    return lowerBF16Matmul(x, table, out, rows, packed);
  if (scales)
    return lowerInt8Matmul(x, table, out, scales, rows);
  std::optional<OpBuilder::InsertionGuard> inOneRow;
  Type element = cast<MemRefType>(table.getType()).getElementType();
  if (simd() && d >= 64 && element.isBF16()) {
    auto one = b.create<scf::IfOp>(
        b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, dim(out, 0), idx(1)),
        /*withElseRegion=*/true);
    inOneRow.emplace(b);
    b.setInsertionPointToStart(&one.getElseRegion().front());
    lowerBF16Matmul(x, table, out, rows, {});
    b.setInsertionPointToStart(&one.getThenRegion().front());
  }
  // SIMD kernels stream the table 64 elements at a time into a 64-lane f32
  // accumulator (several independent FMA chains); the rest is scalar.
  int64_t blocks = simd() ? d / 64 : 0;
  auto f32x64 = VectorType::get({64}, b.getF32Type());
  auto row64 = [&](Value v, Value j) -> Value {
    return elementToF32(b.create<vector::LoadOp>(VectorType::get({64}, element),
                                                 table, ValueRange{v, j}));
  };
  // Table rows outside, output rows inside: the table (the largest matrix,
  // read from memory) is streamed once for all rows, each of its rows
  // staying in L1 while every x row uses it. Each (r, v) is the same dot
  // product whatever the row count.
  parallelFor(idx(0), dim(out, 1), idx(1), [&](Value v) {
    forEach(dim(out, 0), [&](Value r) {
      Value t = inputRow(rows, r);
      Value acc = f32(0);
      if (blocks) {
        Value zero = b.create<arith::ConstantOp>(
            DenseElementsAttr::get(f32x64, b.getF32FloatAttr(0).getValue()));
        Value lanes = reduce(idx(blocks), zero, [&](Value blk, Value lanes) {
          Value j = b.create<arith::MulIOp>(blk, idx(64));
          Value xv = b.create<vector::LoadOp>(f32x64, x, ValueRange{t, j});
          // Each 64-byte line of this block, kPrefetchBytes ahead.
          int64_t bits = element.getIntOrFloatBitWidth();
          for (int64_t line = 0; blocks > 1 && line < bits; line += 8)
            prefetch(table,
                     {v, b.create<arith::AddIOp>(
                             j, idx((kPrefetchBytes + line * 8) * 8 / bits))});
          return b.create<vector::FMAOp>(xv, row64(v, j), lanes);
        });
        acc = sumF32(lanes);
      }
      acc = dotTail(x, t, table, v, blocks * 64, acc);
      b.create<memref::StoreOp>(acc, out, ValueRange{r, v});
    });
  });
}

void KernelEmitter::lowerInt8Matmul(Value x, Value table, Value out,
                                    Value scales, Value rows) {
  // The int8 head (tern.lm_head): each x row asked for becomes integers once
  // per call (headQuantize: i16, at most qmax), then every (r, v) is an
  // exact i32 dot product and the ternary matmul's epilogue, so that every
  // family computes the same bits. The dot products are the target's
  // (TernaryDot::wordDot64: pmaddwd, vpdpwssd), a few instructions per 16
  // products where widening each byte to f32 for an FMA took three per 8.
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  int64_t qmax = headQuantMax(d);
  Value n = dim(out, 0), vocab = dim(out, 1);
  Value q = b.create<memref::AllocOp>(
      MemRefType::get({ShapedType::kDynamic, d}, b.getI16Type()), ValueRange{n},
      b.getI64IntegerAttr(64));
  Value qs = b.create<memref::AllocOp>(
      MemRefType::get({ShapedType::kDynamic}, b.getF32Type()), ValueRange{n});
  forEach(n, [&](Value r) {
    Value t = inputRow(rows, r);
    Value amax =
        reduceLanes(d, vector::CombiningKind::MAXIMUMF, f32(0),
                    [&](Value j, int64_t w) -> Value {
                      return b.create<math::AbsFOp>(load(x, {t, j}, w));
                    });
    Value scale = headQuantScale(b, b.getLoc(), amax, qmax);
    b.create<memref::StoreOp>(scale, qs, ValueRange{r});
    forEachLane(d, [&](Value j, int64_t w) {
      store(headQuantize(b, b.getLoc(), load(x, {t, j}, w), splat(scale, w),
                         qmax),
            q, {r, j});
    });
  });
  // Table rows outside, x rows inside, as lowerFloatMatmul's loop.
  int64_t blocks = simd() ? d / 64 : 0;
  VectorType accType = dot.wordAccumulatorType(b.getContext());
  parallelFor(idx(0), vocab, idx(1), [&](Value v) {
    forEach(n, [&](Value r) {
      Value sum = i32(0);
      if (blocks) {
        Value zero = b.create<arith::ConstantOp>(
            DenseElementsAttr::get(accType, b.getI32IntegerAttr(0).getValue()));
        Value lanes = reduce(idx(blocks), zero, [&](Value blk, Value acc) {
          Value j = b.create<arith::MulIOp>(blk, idx(64));
          if (blocks > 1)
            prefetch(table,
                     {v, b.create<arith::AddIOp>(j, idx(kPrefetchBytes))});
          Value w = b.create<vector::LoadOp>(
              VectorType::get({64}, b.getI8Type()), table, ValueRange{v, j});
          Value qv = b.create<vector::LoadOp>(
              VectorType::get({64}, b.getI16Type()), q, ValueRange{r, j});
          return dot.wordDot64(b, acc, w, qv);
        });
        sum = b.create<vector::ReductionOp>(vector::CombiningKind::ADD, lanes);
      }
      sum =
          reduceRange(idx(blocks * 64), idx(d), 1, sum, [&](Value j, Value s) {
            auto wide = [&](Value m, Value i, Value k) -> Value {
              return b.create<arith::ExtSIOp>(
                  b.getI32Type(),
                  b.create<memref::LoadOp>(m, ValueRange{i, k}));
            };
            return b.create<arith::AddIOp>(
                s, b.create<arith::MulIOp>(wide(table, v, j), wide(q, r, j)));
          });
      Value y = dequantize(
          b, b.getLoc(), sum,
          [&] { return b.create<memref::LoadOp>(qs, ValueRange{r}); },
          b.create<memref::LoadOp>(scales, ValueRange{v}));
      b.create<memref::StoreOp>(y, out, ValueRange{r, v});
    });
  });
  b.create<memref::DeallocOp>(q);
  b.create<memref::DeallocOp>(qs);
}

int64_t KernelEmitter::streamRows() const {
  // A row streams the packed table with 4 AVX-512 registers of sums; on
  // AVX2 and NEON one row's 64 lanes already take half the registers.
  return headTileRows() > 1 ? 4 : 1;
}

packed_bf16::BlockDecoding KernelEmitter::headDecoding() {
  packed_bf16::BlockDecoding how;
  how.registerBytes = dot.registerBytes();
  how.lookup = byteLookup;
  return how;
}

int64_t KernelEmitter::headTileRows() const {
  // A 64-lane f32 accumulator is 4 AVX-512 registers of 32: four table rows
  // share each load of x. AVX2 (16 registers) and NEON (16 per accumulator)
  // have room for one.
  return family.features.contains("avx512f") ? 4 : 1;
}

void KernelEmitter::lowerBF16Matmul(Value x, Value table, Value out, Value rows,
                                    PackedBF16Attr packed) {
  // lowerFloatMatmul's sums, bit for bit, with fewer instructions per
  // product. Each 64-element block of a table row is loaded as 32 i32 pairs
  // of bf16: pair << 16 is the even element's f32, pair & 0xffff0000 the
  // odd one's (two ALU operations per 32 elements instead of a widening
  // shuffle and a shift per 16). The x rows are copied once per call with
  // each block's even elements first, to match. Lane l of an accumulator
  // still sums element l of every block in block order, and the lanes are
  // put back in order before the same tree sum. Tiles of headTileRows()
  // table rows share each load of x. A packed table's chunk of rows is
  // decoded once per call into a bf16 copy, which the tiles (of table rows
  // x x rows) read as they would the table.
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  int64_t blocks = d / 64;
  Type f32 = b.getF32Type();
  auto f32x64 = VectorType::get({64}, f32);
  auto i32x32 = VectorType::get({32}, b.getI32Type());
  Value n = dim(out, 0), vocab = dim(out, 1);
  // A packed table's blocks come in the order its decoding gives (pairs of
  // low and high bytes within each register's 16-byte lanes): lane k of a
  // block's f32 holds element order[2k] (k < 32) or order[2(k - 32) + 1].
  // x is copied in the same order; merge puts the lanes back.
  packed_bf16::BlockDecoding how = headDecoding();
  SmallVector<int64_t> order = packed
                                   ? packed_bf16::blockOrder(how.registerBytes)
                                   : llvm::to_vector(llvm::seq<int64_t>(0, 64));
  SmallVector<int64_t> split(64), merge(64);
  for (int64_t k = 0; k < 64; ++k) {
    split[k] = order[k < 32 ? 2 * k : 2 * (k - 32) + 1];
    merge[split[k]] = k;
  }
  Value xs = b.create<memref::AllocOp>(
      MemRefType::get({ShapedType::kDynamic, blocks * 64}, f32), ValueRange{n},
      b.getI64IntegerAttr(64));
  forEach(n, [&](Value r) {
    Value t = inputRow(rows, r);
    forEach(idx(blocks), [&](Value blk) {
      Value j = b.create<arith::MulIOp>(blk, idx(64));
      Value v = b.create<vector::LoadOp>(f32x64, x, ValueRange{t, j});
      b.create<vector::StoreOp>(b.create<vector::ShuffleOp>(v, v, split), xs,
                                ValueRange{r, j});
    });
  });

  Value pairShift = b.create<arith::ConstantOp>(
      DenseElementsAttr::get(i32x32, APInt(32, 16)));
  Value oddMask = b.create<arith::ConstantOp>(
      DenseElementsAttr::get(i32x32, APInt(32, 0xffff0000u)));
  Value zero = b.create<arith::ConstantOp>(
      DenseElementsAttr::get(f32x64, b.getF32FloatAttr(0).getValue()));
  auto pairsToF32 = [&](Value bf16x64) -> Value {
    Value pairs = b.create<vector::BitCastOp>(i32x32, bf16x64);
    Value even = b.create<arith::ShLIOp>(pairs, pairShift);
    Value odd = b.create<arith::AndIOp>(pairs, oddMask);
    SmallVector<int64_t> concat = llvm::to_vector(llvm::seq<int64_t>(0, 64));
    return b.create<vector::BitCastOp>(
        f32x64, b.create<vector::ShuffleOp>(even, odd, concat));
  };
  auto tableBlock = [&](Value source, Value v, Value j) -> Value {
    return pairsToF32(b.create<vector::LoadOp>(
        VectorType::get({64}, b.getBF16Type()), source, ValueRange{v, j}));
  };
  // out[r, v0 .. v0 + count) from rows s0 .. s0 + count of `source` (the
  // table, s0 = v0, or a chunk's decoded copy): the first pass over a chunk
  // of the table also prefetches its rows ahead (it reads them from memory
  // unless the passes over the chunk before brought them).
  auto tile = [&](Value source, Value s0, Value v0, int64_t count,
                  ArrayRef<Value> rs, bool withPrefetch) {
    // Accumulator (i, u) sums table row v0 + i times x row rs[u]: a block
    // of each table row is converted once for every x row of the tile.
    int64_t xRows = rs.size();
    SmallVector<Value> vs;
    for (int64_t i = 0; i < count; ++i)
      vs.push_back(b.create<arith::AddIOp>(v0, idx(i)));
    auto loop = b.create<scf::ForOp>(idx(0), idx(blocks), idx(1),
                                     SmallVector<Value>(count * xRows, zero));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value j = b.create<arith::MulIOp>(loop.getInductionVar(), idx(64));
      SmallVector<Value> xv;
      for (Value r : rs)
        xv.push_back(b.create<vector::LoadOp>(f32x64, xs, ValueRange{r, j}));
      SmallVector<Value> next;
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t line = 0; withPrefetch && blocks > 1 && line < 2; ++line)
          prefetch(table, {vs[i], b.create<arith::AddIOp>(
                                      j, idx(kPrefetchBytes / 2 + line * 32))});
        Value tv = tableBlock(source, b.create<arith::AddIOp>(s0, idx(i)), j);
        for (int64_t u = 0; u < xRows; ++u)
          next.push_back(b.create<vector::FMAOp>(
              xv[u], tv, loop.getRegionIterArg(i * xRows + u)));
      }
      b.create<scf::YieldOp>(next);
    }
    for (int64_t u = 0; u < xRows; ++u) {
      Value t = inputRow(rows, rs[u]);
      for (int64_t i = 0; i < count; ++i) {
        Value lanes = loop.getResult(i * xRows + u);
        Value acc = sumF32(b.create<vector::ShuffleOp>(lanes, lanes, merge));
        acc = dotTail(x, t, table, vs[i], blocks * 64, acc);
        b.create<memref::StoreOp>(acc, out, ValueRange{rs[u], vs[i]});
      }
    }
  };
  // Each thread takes chunks of table rows that stay in its L2 (~256 KB)
  // while every x row passes over them: one x row and a tile's table rows
  // stay in L1 per pass.
  int64_t count = headTileRows();
  // A packed table's tiles are 2 table rows x 2 x rows on AVX-512: each
  // block of its decoded copy is converted to f32 once for two x rows (16
  // rows, 2B4T shape, Intel Xeon, 2 threads: a 16-token prompt with every
  // row's logits ~0.135 -> ~0.124 s; 1 x 4 measured ~0.128).
  int64_t xRows = 1;
  if (packed && count > 1) {
    xRows = 2;
    count /= xRows;
  }
  int64_t chunk = std::max<int64_t>(1, (256 << 10) / (2 * d) / count) * count;
  Value first = b.create<arith::MinUIOp>(n, idx(1)); // none for no rows
  // A packed table's chunk is decoded once into a bf16 copy (not at all
  // when no rows are asked for), which every pass reads; each pass also
  // brings a share of the next chunk's packed bytes into L2.
  int64_t vocabRows = cast<MemRefType>(out.getType()).getDimSize(1);
  auto packedTiles = [&](Value c0, Value end, int64_t count) {
    forRange(idx(0), first, 1, [&](Value) {
      // On the heap: an alloca in a loop keeps its stack space (MLIR drops
      // the alloca_scope around it), and malloc reuses a freed block of the
      // same size without asking the system.
      Value copy = b.create<memref::AllocOp>(
          MemRefType::get({chunk, blocks * 64}, b.getBF16Type()),
          b.getI64IntegerAttr(64));
      forRange(c0, end, 1, [&](Value v) {
        Value s = b.create<arith::SubIOp>(v, c0);
        forEach(idx(blocks), [&](Value blk) {
          for (int64_t line = 0; line < 2; ++line)
            prefetch(table, {b.create<arith::AddIOp>(
                                packed_bf16::blockOffset(b, v, blk, d),
                                idx(kPrefetchBytes + line * 64))});
          b.create<vector::StoreOp>(
              packed_bf16::loadBlock(b, table, v, blk, vocabRows, d, packed,
                                     how),
              copy, ValueRange{s, b.create<arith::MulIOp>(blk, idx(64))});
        });
      });
      int64_t lines = chunk * packed_bf16::rowBytes(d) / 64;
      int64_t tilesPerChunk = chunk / count;
      Value next =
          b.create<arith::MulIOp>(b.create<arith::AddIOp>(c0, idx(chunk)),
                                  idx(packed_bf16::rowBytes(d)));
      auto share = [&](Value k, Value parts, Value total) {
        return b.create<arith::DivUIOp>(b.create<arith::MulIOp>(k, total),
                                        parts);
      };
      // Passes of xRows x rows (the last may have fewer, one at a time).
      Value passes = b.create<arith::DivUIOp>(
          b.create<arith::AddIOp>(n, idx(xRows - 1)), idx(xRows));
      forEach(passes, [&](Value p) {
        Value lo = share(p, passes, idx(lines));
        Value hi =
            share(b.create<arith::AddIOp>(p, idx(1)), passes, idx(lines));
        Value span = b.create<arith::SubIOp>(hi, lo);
        Value r0 = b.create<arith::MulIOp>(p, idx(xRows));
        auto pass = [&](ArrayRef<Value> rs) {
          forRange(c0, end, count, [&](Value v0) {
            Value s0 = b.create<arith::SubIOp>(v0, c0);
            Value k = b.create<arith::DivUIOp>(s0, idx(count));
            Value from =
                b.create<arith::AddIOp>(lo, share(k, idx(tilesPerChunk), span));
            Value to = b.create<arith::AddIOp>(
                lo, share(b.create<arith::AddIOp>(k, idx(1)),
                          idx(tilesPerChunk), span));
            forRange(from, to, 1, [&](Value line) {
              prefetch(table,
                       {b.create<arith::AddIOp>(
                           next, b.create<arith::MulIOp>(line, idx(64)))},
                       /*locality=*/2);
            });
            tile(copy, s0, v0, count, rs, false);
          });
        };
        if (xRows == 1) {
          pass({r0});
          return;
        }
        auto whole = b.create<scf::IfOp>(
            b.create<arith::CmpIOp>(arith::CmpIPredicate::ule,
                                    b.create<arith::AddIOp>(r0, idx(xRows)), n),
            /*withElseRegion=*/true);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&whole.getThenRegion().front());
        SmallVector<Value> rs;
        for (int64_t u = 0; u < xRows; ++u)
          rs.push_back(b.create<arith::AddIOp>(r0, idx(u)));
        pass(rs);
        b.setInsertionPointToStart(&whole.getElseRegion().front());
        forRange(r0, n, 1, [&](Value r) { pass({r}); });
      });
      b.create<memref::DeallocOp>(copy);
    });
  };
  auto tiles = [&](Value lb, Value ub, int64_t count) {
    parallelFor(lb, ub, idx(chunk), [&](Value c0) {
      Value end =
          b.create<arith::MinUIOp>(b.create<arith::AddIOp>(c0, idx(chunk)), ub);
      if (packed) {
        packedTiles(c0, end, count);
        return;
      }
      forRange(idx(0), first, 1, [&](Value r) {
        forRange(c0, end, count, [&](Value v0) {
          tile(table, v0, v0, count, {r}, /*withPrefetch=*/true);
        });
      });
      // The passes after the first also bring the thread's next chunk into
      // L2 (prefetcht1), a share of its blocks each: memory streams the
      // table while the FMAs work, instead of only in first passes.
      forRange(first, n, 1, [&](Value r) {
        Value passes = b.create<arith::SubIOp>(n, idx(1));
        auto share = [&](Value k) {
          return b.create<arith::DivUIOp>(
              b.create<arith::MulIOp>(k, idx(blocks)), passes);
        };
        Value lo = share(b.create<arith::SubIOp>(r, idx(1))), hi = share(r);
        forRange(c0, end, count, [&](Value v0) {
          forRange(lo, hi, 1, [&](Value blk) {
            Value j = b.create<arith::MulIOp>(blk, idx(64));
            for (int64_t i = 0; i < count; ++i)
              for (int64_t line = 0; line < 2; ++line)
                prefetch(table,
                         {b.create<arith::AddIOp>(v0, idx(chunk + i)),
                          b.create<arith::AddIOp>(j, idx(line * 32))},
                         /*locality=*/2);
          });
          tile(table, v0, v0, count, {r}, false);
        });
      });
    });
  };
  std::optional<OpBuilder::InsertionGuard> inRows;
  if (packed) {
    // Up to streamRows() rows stream the packed table from memory: a table
    // row per parallel iteration, each block decoded once for the FMAs of
    // every x row (the tiles' decoded copy would cost a pass over the table
    // for what a few rows save); software prefetch only where the family
    // measured better with it (TernaryDot::headPrefetchBytes).
    // kPrefetchBytes: only inside loops of more than one block.
    int64_t ahead = blocks > 1 ? dot.headPrefetchBytes(targetCpu()) : 0;
    auto stream = [&](int64_t xRows) {
      parallelFor(idx(0), vocab, idx(1), [&](Value v) {
        auto rowSums = [&](bool mayEscape) -> SmallVector<Value> {
          packed_bf16::BlockDecoding rowHow = how;
          rowHow.mayEscape = mayEscape;
          auto loop = b.create<scf::ForOp>(idx(0), idx(blocks), idx(1),
                                           SmallVector<Value>(xRows, zero));
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(loop.getBody());
          Value blk = loop.getInductionVar();
          // Two lines per 96-byte block cover every line. Before x's load:
          // a load after a prefetch folds into its FMA; one before it stays
          // a register, and 8 of them beside 8 accumulators spill on AVX2.
          for (int64_t line = 0; ahead && line < 2; ++line)
            prefetch(table, {b.create<arith::AddIOp>(
                                packed_bf16::blockOffset(b, v, blk, d),
                                idx(ahead + line * 64))});
          SmallVector<Value> xv;
          for (int64_t u = 0; u < xRows; ++u)
            xv.push_back(b.create<vector::LoadOp>(
                f32x64, xs,
                ValueRange{idx(u), b.create<arith::MulIOp>(blk, idx(64))}));
          Value values = pairsToF32(packed_bf16::loadBlock(
              b, table, v, blk, vocabRows, d, packed, rowHow));
          SmallVector<Value> next;
          for (int64_t u = 0; u < xRows; ++u)
            next.push_back(b.create<vector::FMAOp>(xv[u], values,
                                                   loop.getRegionIterArg(u)));
          b.create<scf::YieldOp>(next);
          return llvm::to_vector(ValueRange(loop.getResults()));
        };
        // Most rows escape nowhere: their loop skips the header's
        // bookkeeping. (Not for one block: its loop folds away, and an
        // intrinsic directly in the scf.if keeps SCFToOpenMP's alloca_scope
        // from being inlined.)
        SmallVector<Value> sums;
        if (packed.getEscapes() && blocks > 1) {
          auto escapes =
              b.create<scf::IfOp>(SmallVector<Type>(xRows, f32x64),
                                  packed_bf16::rowEscapes(b, table, v, d),
                                  /*withElseRegion=*/true);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&escapes.getThenRegion().front());
          b.create<scf::YieldOp>(rowSums(true));
          b.setInsertionPointToStart(&escapes.getElseRegion().front());
          b.create<scf::YieldOp>(rowSums(false));
          sums = llvm::to_vector(ValueRange(escapes.getResults()));
        } else {
          sums = rowSums(true);
        }
        for (int64_t u = 0; u < xRows; ++u)
          b.create<memref::StoreOp>(
              sumF32(b.create<vector::ShuffleOp>(sums[u], sums[u], merge)), out,
              ValueRange{idx(u), v});
      });
    };
    for (int64_t xRows = 1; xRows <= streamRows(); ++xRows) {
      auto these = b.create<scf::IfOp>(
          b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, n, idx(xRows)),
          /*withElseRegion=*/true);
      if (!inRows)
        inRows.emplace(b);
      b.setInsertionPointToStart(&these.getThenRegion().front());
      stream(xRows);
      b.setInsertionPointToStart(&these.getElseRegion().front());
    }
  }
  Value mainRows = b.create<arith::MulIOp>(
      b.create<arith::DivUIOp>(vocab, idx(count)), idx(count));
  tiles(idx(0), mainRows, count);
  if (count > 1)
    tiles(mainRows, vocab, 1);
  inRows.reset();
  b.create<memref::DeallocOp>(xs);
}
