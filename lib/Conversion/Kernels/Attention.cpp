//===- Attention.cpp - causal GQA attention over the KV cache -------------===//
//
// Per token and head: softmax(q . K[0..p] / sqrt(D)) . V[0..p] in f32, with
// the scores of one head in a row of a scratch buffer: pass 1 computes the
// scores and their max, pass 2 their exponentials and sum, pass 3 the
// weighted sum of V rows. (Token, kv head) pairs run in parallel, each for
// the query heads of its GQA group: a kv head's K and V rows are contiguous
// in the pool and read from memory once per group, not once per head.
//
// The SIMD path (head_dim a multiple of 16) takes positions 16 at a time:
// 16 head-wide products q * K[p] are summed across their lanes together, by
// pairwise shuffles and adds, into one vector of 16 scores; their
// exponentials are a vector polynomial. At long contexts these passes are
// most of a token's work besides the weights (bench/run.py --long).
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/KernelEmitter.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

Value KernelEmitter::transposeSum(ArrayRef<Value> vectors) {
  // Each lane holds a partial sum of one input ("owner"). Combining two
  // vectors halves every owner's lanes: one shuffle takes the first half of
  // each owner's lanes, another the second half, and they are added.
  int64_t n = vectors.size();
  auto type = cast<VectorType>(vectors[0].getType());
  assert(type.getNumElements() == n && "one lane per input vector");
  struct Partial {
    Value value;
    SmallVector<int64_t> owner; // per lane
  };
  SmallVector<Partial> level;
  for (int64_t i = 0; i < n; ++i)
    level.push_back({vectors[i], SmallVector<int64_t>(n, i)});
  while (level.size() > 1) {
    SmallVector<Partial> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2) {
      SmallVector<int64_t> first, second, owner;
      for (int side = 0; side < 2; ++side) {
        const Partial &part = level[i + side];
        // Lanes of each owner, in order of first appearance.
        llvm::MapVector<int64_t, SmallVector<int64_t>> lanes;
        for (int64_t l = 0; l < n; ++l)
          lanes[part.owner[l]].push_back(l + side * n);
        for (auto &[who, ls] : lanes) {
          size_t half = ls.size() / 2;
          for (size_t j = 0; j < half; ++j) {
            first.push_back(ls[j]);
            second.push_back(ls[j + half]);
            owner.push_back(who);
          }
        }
      }
      Value a = level[i].value, b2 = level[i + 1].value;
      Value lo = b.create<vector::ShuffleOp>(a, b2, first);
      Value hi = b.create<vector::ShuffleOp>(a, b2, second);
      Value sum = isa<FloatType>(type.getElementType())
                      ? Value(b.create<arith::AddFOp>(lo, hi))
                      : Value(b.create<arith::AddIOp>(lo, hi));
      next.push_back({sum, owner});
    }
    level = std::move(next);
  }
  // One lane per owner: put owner p in lane p.
  SmallVector<int64_t> order(n);
  for (int64_t l = 0; l < n; ++l)
    order[level[0].owner[l]] = l;
  if (llvm::equal(order, llvm::seq<int64_t>(0, n)))
    return level[0].value;
  return b.create<vector::ShuffleOp>(level[0].value, level[0].value, order);
}

Value KernelEmitter::expF32(Value x) {
  // exp(x) = 2^n e^r, n = round(x log2 e), r = x - n ln 2 (ln 2 in two
  // parts, so r is exact enough), e^r by its degree-6 Taylor polynomial
  // (|r| <= ln 2 / 2: relative error ~1e-7). x below -88 gives 0. Only
  // IEEE operations (fma included): the GPU computes the same bits.
  auto type = dyn_cast<VectorType>(x.getType());
  auto c = [&](float v) -> Value {
    if (!type)
      return f32(v);
    return b.create<arith::ConstantOp>(
        DenseElementsAttr::get(type, b.getF32FloatAttr(v).getValue()));
  };
  auto fma = [&](Value a, Value m, Value add) -> Value {
    if (type)
      return b.create<vector::FMAOp>(a, m, add);
    return b.create<math::FmaOp>(a, m, add);
  };
  x = b.create<arith::MaximumFOp>(x, c(-88.0f));
  Value n = b.create<math::RoundEvenOp>(
      b.create<arith::MulFOp>(x, c(1.44269504088896341f)));
  Value r = fma(n, c(-0.693145751953125f), x);
  r = fma(n, c(-1.428606765330187e-6f), r);
  Value p = c(1.0f / 720);
  for (float coefficient : {1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
    p = fma(p, r, c(coefficient));
  Type ints = type ? Type(VectorType::get(type.getShape(), b.getI32Type()))
                   : Type(b.getI32Type());
  auto ci = [&](int32_t v) -> Value {
    if (!type)
      return i32(v);
    return b.create<arith::ConstantOp>(DenseElementsAttr::get(
        cast<ShapedType>(ints), b.getI32IntegerAttr(v).getValue()));
  };
  Value bits = b.create<arith::ShLIOp>(
      b.create<arith::AddIOp>(b.create<arith::FPToSIOp>(ints, n), ci(127)),
      ci(23));
  return b.create<arith::MulFOp>(p,
                                 b.create<arith::BitcastOp>(x.getType(), bits));
}

Value KernelEmitter::kvRowIndex(Value base, Value layer, int64_t kv, Value kvh,
                                Value p, Value context, int64_t kvHeads,
                                int64_t headDim) {
  // [slot][layer][k, v][kv head][position][head_dim]: a kv head's rows of
  // one layer are contiguous, so reading them streams.
  Value plane = b.create<arith::AddIOp>(
      b.create<arith::MulIOp>(
          b.create<arith::AddIOp>(b.create<arith::MulIOp>(layer, idx(2)),
                                  idx(kv)),
          idx(kvHeads)),
      kvh);
  Value row =
      b.create<arith::AddIOp>(b.create<arith::MulIOp>(plane, context), p);
  return b.create<arith::AddIOp>(base,
                                 b.create<arith::MulIOp>(row, idx(headDim)));
}

void KernelEmitter::lowerAttention(AttentionOp op) {
  Value q = in(op.getQuery()), k = in(op.getKey()), v = in(op.getValue()),
        pos = in(op.getPositions());
  Value out = output(op.getResult());
  // The pool, this layer, each token's slot in the pool and the positions
  // a slot holds.
  Value kvCache = extra(0), layer = extra(1), slots = extra(2),
        kvContext = extra(3);
  int64_t headDim = op.getHeadDim(), kvHeads = op.getNumKvHeads();
  int64_t group = op.getNumHeads() / kvHeads;
  Value tokens = dim(q, 0);
  // Where token t's sequence starts in the pool: slot * floats per slot.
  auto slotStart = [&](Value t) -> Value {
    Value slot = b.create<arith::IndexCastOp>(
        b.getIndexType(), b.create<memref::LoadOp>(slots, ValueRange{t}));
    return b.create<arith::MulIOp>(
        slot, b.create<arith::MulIOp>(kvContext, idx(2 * kvLayers * kvWidth)));
  };
  auto rowStart = [&](Value base, int64_t kv, Value kvh, Value p) {
    return kvRowIndex(base, layer, kv, kvh, p, kvContext, kvHeads, headDim);
  };
  auto position = [&](Value t) {
    return b.create<arith::IndexCastOp>(
        b.getIndexType(), b.create<memref::LoadOp>(pos, ValueRange{t}));
  };
  // The pool holds f32, or f16 (--kv-type f16): converted on the way in
  // and out, the math stays f32.
  Type cacheElement = cast<MemRefType>(kvCache.getType()).getElementType();
  auto cacheLoad = [&](Type f32Type, Value at) -> Value {
    Value v;
    if (auto vec = dyn_cast<VectorType>(f32Type))
      v = b.create<vector::LoadOp>(vec.clone(cacheElement), kvCache, at);
    else
      v = b.create<memref::LoadOp>(kvCache, ValueRange{at});
    return v.getType() == f32Type ? v : b.create<arith::ExtFOp>(f32Type, v);
  };
  auto cacheStore = [&](Value v, Value at) {
    if (!cacheElement.isF32())
      v = b.create<arith::TruncFOp>(cacheElement, v);
    b.create<memref::StoreOp>(v, kvCache, ValueRange{at});
  };

  // Append this call's keys and values first: prompt tokens attend to each
  // other (and only to their own sequence's positions, in its slot).
  forEach(tokens, [&](Value t) {
    Value p = position(t), base = slotStart(t);
    forEach(idx(kvHeads), [&](Value kvh) {
      Value kRow = rowStart(base, 0, kvh, p), vRow = rowStart(base, 1, kvh, p);
      Value col = b.create<arith::MulIOp>(kvh, idx(headDim));
      forEach(idx(headDim), [&](Value d) {
        Value j = b.create<arith::AddIOp>(col, d);
        cacheStore(b.create<memref::LoadOp>(k, ValueRange{t, j}),
                   b.create<arith::AddIOp>(kRow, d));
        cacheStore(b.create<memref::LoadOp>(v, ValueRange{t, j}),
                   b.create<arith::AddIOp>(vRow, d));
      });
    });
  });

  Value scale = f32(float(1.0 / std::sqrt(double(headDim))));
  // SIMD kernels work on whole heads (head_dim a multiple of 16 lanes).
  bool vectorHead = simd() && headDim % 16 == 0;
  auto headVec = VectorType::get({headDim}, b.getF32Type());
  auto f32x16 = VectorType::get({16}, b.getF32Type());
  // Pass 3 sums V rows for all heads of a group at once, in slices of the
  // head that keep their accumulators in about half the registers: each V
  // row is loaded once per group, not once per head.
  auto sliceFor = [&](int64_t count) {
    int64_t lanes = dot.registerBytes() / 4;
    int64_t registers = dot.registerBytes() == 32 ? 8 : 16;
    int64_t slice = headDim;
    while (slice > 16 && (slice / 2) % 16 == 0 && headDim % (slice / 2) == 0 &&
           count * slice > registers * lanes)
      slice /= 2;
    return slice;
  };

  // Token t's attention for heads [h0, h0 + count) of kv head kvh. Every
  // head's arithmetic is the one-head loop's, whatever `count`: grouping
  // changes which rows are loaded together, not a bit of the results.
  auto attend = [&](Value t, Value kvh, Value h0, int64_t count) {
    Value visible = b.create<arith::AddIOp>(position(t), idx(1));
    Value base = slotStart(t);
    // Position i's key and value rows: planes hoisted out of the loops.
    Value kPlane = rowStart(base, 0, kvh, idx(0));
    Value vPlane = rowStart(base, 1, kvh, idx(0));
    auto rowOf = [&](Value plane, Value i) -> Value {
      return b.create<arith::AddIOp>(plane,
                                     b.create<arith::MulIOp>(i, idx(headDim)));
    };
    auto kRow = [&](Value i) { return rowOf(kPlane, i); };
    auto vRow = [&](Value i) { return rowOf(vPlane, i); };
    // A row of scores per head, on the heap: an alloca would keep the
    // alloca_scope scf-to-openmp wraps this loop body in, which scf-to-cf
    // then cannot lower (Phases.cpp).
    Value scores = b.create<memref::AllocOp>(
        MemRefType::get({count, ShapedType::kDynamic}, b.getF32Type()),
        ValueRange{visible}, b.getI64IntegerAttr(64));
    SmallVector<Value> qOff, gIdx;
    for (int64_t g = 0; g < count; ++g) {
      qOff.push_back(b.create<arith::MulIOp>(
          b.create<arith::AddIOp>(h0, idx(g)), idx(headDim)));
      gIdx.push_back(idx(g));
    }
    // Positions [0, blocked) go 16 at a time on the SIMD path.
    Value blocked =
        vectorHead ? b.create<arith::MulIOp>(
                         b.create<arith::DivUIOp>(visible, idx(16)), idx(16))
                   : idx(0);
    auto scoreAt = [&](int64_t g, Value i) { // one position
      Value dot;
      if (vectorHead) {
        Value qVec =
            b.create<vector::LoadOp>(headVec, q, ValueRange{t, qOff[g]});
        Value kv = cacheLoad(headVec, kRow(i));
        dot = sumF32(b.create<arith::MulFOp>(qVec, kv));
      } else {
        dot = reduce(idx(headDim), f32(0), [&](Value d, Value acc) {
          Value qv = b.create<memref::LoadOp>(
              q, ValueRange{t, b.create<arith::AddIOp>(qOff[g], d)});
          Value kv =
              cacheLoad(b.getF32Type(), b.create<arith::AddIOp>(kRow(i), d));
          return b.create<arith::AddFOp>(acc, b.create<arith::MulFOp>(qv, kv));
        });
      }
      return b.create<arith::MulFOp>(dot, scale);
    };

    // Pass 1: scores and their max. A block of 16 key rows serves every
    // head of the group while it is in L1.
    SmallVector<Value> maxes(count, f32(-INFINITY));
    if (vectorHead) {
      SmallVector<Value> init(count, splat(f32(-INFINITY), 16));
      auto loop = b.create<scf::ForOp>(idx(0), blocked, idx(16), init);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value i0 = loop.getInductionVar();
        // The block's V rows, for pass 3: it reads them in position order
        // too, but its first loads found them in memory, not in cache.
        int64_t elementBytes = cacheElement.getIntOrFloatBitWidth() / 8;
        for (int64_t p = 0; p < 16; ++p) {
          Value row = vRow(b.create<arith::AddIOp>(i0, idx(p)));
          for (int64_t at = 0; at < headDim * elementBytes; at += 64)
            prefetch(kvCache,
                     {b.create<arith::AddIOp>(row, idx(at / elementBytes))});
        }
        SmallVector<Value> next;
        for (int64_t g = 0; g < count; ++g) {
          Value qVec =
              b.create<vector::LoadOp>(headVec, q, ValueRange{t, qOff[g]});
          SmallVector<Value> products;
          for (int64_t p = 0; p < 16; ++p) {
            Value i = b.create<arith::AddIOp>(i0, idx(p));
            products.push_back(
                b.create<arith::MulFOp>(qVec, cacheLoad(headVec, kRow(i))));
          }
          // Each product folded to 16 lanes, then the 16 summed together.
          for (Value &prod : products)
            prod = foldTo16(prod);
          Value s =
              b.create<arith::MulFOp>(transposeSum(products), splat(scale, 16));
          b.create<vector::StoreOp>(s, scores, ValueRange{gIdx[g], i0});
          next.push_back(
              b.create<arith::MaximumFOp>(loop.getRegionIterArg(g), s));
        }
        b.create<scf::YieldOp>(next);
      }
      for (int64_t g = 0; g < count; ++g)
        maxes[g] = b.create<vector::ReductionOp>(
            vector::CombiningKind::MAXIMUMF, loop.getResult(g));
    }
    SmallVector<Value> sums;
    for (int64_t g = 0; g < count; ++g) {
      Value max =
          reduceRange(blocked, visible, 1, maxes[g], [&](Value i, Value m) {
            Value score = scoreAt(g, i);
            b.create<memref::StoreOp>(score, scores, ValueRange{gIdx[g], i});
            return b.create<arith::MaximumFOp>(m, score);
          });

      // Pass 2: exponentials and their sum.
      Value sum = f32(0);
      if (vectorHead) {
        Value acc0 = splat(f32(0), 16);
        acc0 = reduceRange(idx(0), blocked, 16, acc0, [&](Value i0, Value acc) {
          Value e = expF32(b.create<arith::SubFOp>(
              b.create<vector::LoadOp>(f32x16, scores, ValueRange{gIdx[g], i0}),
              splat(max, 16)));
          b.create<vector::StoreOp>(e, scores, ValueRange{gIdx[g], i0});
          return b.create<arith::AddFOp>(acc, e);
        });
        sum = sumF32(acc0);
      }
      sums.push_back(
          reduceRange(blocked, visible, 1, sum, [&](Value i, Value acc) {
            Value e = b.create<math::ExpOp>(b.create<arith::SubFOp>(
                b.create<memref::LoadOp>(scores, ValueRange{gIdx[g], i}), max));
            b.create<memref::StoreOp>(e, scores, ValueRange{gIdx[g], i});
            return b.create<arith::AddFOp>(acc, e);
          }));
    }

    // Pass 3: o = sum_i a_i V_i (FMAs in position order), then / sum.
    if (vectorHead) {
      int64_t slice = sliceFor(count);
      auto sliceVec = VectorType::get({slice}, b.getF32Type());
      Value zero = b.create<arith::ConstantOp>(
          DenseElementsAttr::get(sliceVec, b.getF32FloatAttr(0).getValue()));
      forRange(idx(0), idx(headDim), slice, [&](Value d0) {
        SmallVector<Value> init(count, zero);
        auto loop = b.create<scf::ForOp>(idx(0), visible, idx(1), init);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(loop.getBody());
          Value i = loop.getInductionVar();
          Value vv = cacheLoad(sliceVec, b.create<arith::AddIOp>(vRow(i), d0));
          SmallVector<Value> next;
          for (int64_t g = 0; g < count; ++g) {
            Value a = b.create<vector::BroadcastOp>(
                sliceVec,
                b.create<memref::LoadOp>(scores, ValueRange{gIdx[g], i}));
            next.push_back(
                b.create<vector::FMAOp>(a, vv, loop.getRegionIterArg(g)));
          }
          b.create<scf::YieldOp>(next);
        }
        for (int64_t g = 0; g < count; ++g) {
          Value o = b.create<arith::DivFOp>(
              loop.getResult(g),
              b.create<vector::BroadcastOp>(sliceVec, sums[g]));
          b.create<vector::StoreOp>(
              o, out, ValueRange{t, b.create<arith::AddIOp>(qOff[g], d0)});
        }
      });
    } else {
      for (int64_t g = 0; g < count; ++g)
        forEach(idx(headDim), [&](Value d) {
          Value acc = reduce(visible, f32(0), [&](Value i, Value acc) {
            Value vv =
                cacheLoad(b.getF32Type(), b.create<arith::AddIOp>(vRow(i), d));
            Value a = b.create<memref::LoadOp>(scores, ValueRange{gIdx[g], i});
            return b.create<arith::AddFOp>(acc, b.create<arith::MulFOp>(a, vv));
          });
          b.create<memref::StoreOp>(
              b.create<arith::DivFOp>(acc, sums[g]), out,
              ValueRange{t, b.create<arith::AddIOp>(qOff[g], d)});
        });
    }
    b.create<memref::DeallocOp>(scores);
  };

  // One parallel loop over (kv head, token) items, tokens fastest: a static
  // share of it holds every token (prompt tokens late in a chunk attend to
  // more positions). A step of few tokens has few items to share out (one
  // token's 5 kv heads on 2 threads: one thread waits a third of the time),
  // so it takes one head per item.
  auto items = [&](int64_t count) {
    Value n = b.create<arith::MulIOp>(idx(op.getNumHeads() / count), tokens);
    parallelFor(idx(0), n, idx(1), [&](Value item) {
      Value t = b.create<arith::RemUIOp>(item, tokens);
      Value part = b.create<arith::DivUIOp>(item, tokens);
      Value h0 = b.create<arith::MulIOp>(part, idx(count));
      attend(t, b.create<arith::DivUIOp>(h0, idx(group)), h0, count);
    });
  };
  if (group == 1)
    return items(1);
  auto grouped =
      b.create<scf::IfOp>(b.create<arith::CmpIOp>(arith::CmpIPredicate::uge,
                                                  tokens, idx(kGroupedTokens)),
                          /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&grouped.getThenRegion().front());
  items(group);
  b.setInsertionPointToStart(&grouped.getElseRegion().front());
  items(1);
}
