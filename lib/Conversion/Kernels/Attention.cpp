//===- Attention.cpp - causal GQA attention over the KV cache -------------===//
//
// Per token and head: softmax(q . K[0..p] / sqrt(D)) . V[0..p] in f32, with
// the scores of one head in a row of a scratch buffer: pass 1 computes the
// scores and their max, pass 2 their exponentials and sum, pass 3 the
// weighted sum of V rows. Heads run in parallel.
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

void KernelEmitter::lowerAttention(AttentionOp op) {
  Value q = in(op.getQuery()), k = in(op.getKey()), v = in(op.getValue()),
        pos = in(op.getPositions());
  Value out = output(op.getResult());
  // The pool, this layer, each token's slot in the pool and the positions
  // a slot holds.
  Value kvCache = extra(0), layer = extra(1), slots = extra(2),
        kvContext = extra(3);
  int64_t headDim = op.getHeadDim(), width = kvWidth;
  int64_t group = op.getNumHeads() / op.getNumKvHeads();
  Value tokens = dim(q, 0);
  // Where token t's sequence starts in the pool: slot * floats per slot.
  auto slotStart = [&](Value t) -> Value {
    Value slot = b.create<arith::IndexCastOp>(
        b.getIndexType(), b.create<memref::LoadOp>(slots, ValueRange{t}));
    return b.create<arith::MulIOp>(
        slot, b.create<arith::MulIOp>(kvContext, idx(2 * kvLayers * width)));
  };
  // Pool index of [slot][layer][kv][p].
  auto rowStart = [&](Value base, int64_t kv, Value p) {
    Value plane = b.create<arith::MulIOp>(
        b.create<arith::AddIOp>(b.create<arith::MulIOp>(layer, idx(2)),
                                idx(kv)),
        b.create<arith::MulIOp>(kvContext, idx(width)));
    return b.create<arith::AddIOp>(
        base,
        b.create<arith::AddIOp>(plane, b.create<arith::MulIOp>(p, idx(width))));
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
    Value kRow = rowStart(base, 0, p), vRow = rowStart(base, 1, p);
    forEach(idx(width), [&](Value j) {
      cacheStore(b.create<memref::LoadOp>(k, ValueRange{t, j}),
                 b.create<arith::AddIOp>(kRow, j));
      cacheStore(b.create<memref::LoadOp>(v, ValueRange{t, j}),
                 b.create<arith::AddIOp>(vRow, j));
    });
  });

  // [heads, kvContext], from the caller.
  Value scores = extra(4);
  Value scale = f32(float(1.0 / std::sqrt(double(headDim))));
  // SIMD kernels work on whole heads (head_dim a multiple of 16 lanes).
  bool vectorHead = simd() && headDim % 16 == 0;
  auto headVec = VectorType::get({headDim}, b.getF32Type());
  auto f32x16 = VectorType::get({16}, b.getF32Type());
  forEach(tokens, [&](Value t) {
    Value visible = b.create<arith::AddIOp>(position(t), idx(1));
    Value base = slotStart(t);
    // Positions [0, blocked) go 16 at a time on the SIMD path.
    Value blocked =
        vectorHead ? b.create<arith::MulIOp>(
                         b.create<arith::DivUIOp>(visible, idx(16)), idx(16))
                   : idx(0);
    parallelFor(idx(0), idx(op.getNumHeads()), idx(1), [&](Value h) {
      Value qOff = b.create<arith::MulIOp>(h, idx(headDim));
      Value kvOff = b.create<arith::MulIOp>(
          b.create<arith::DivUIOp>(h, idx(group)), idx(headDim));
      Value qVec =
          vectorHead ? b.create<vector::LoadOp>(headVec, q, ValueRange{t, qOff})
                     : Value();
      auto kRow = [&](Value i) -> Value {
        return b.create<arith::AddIOp>(rowStart(base, 0, i), kvOff);
      };
      auto scoreAt = [&](Value i) { // one position
        Value dot;
        if (vectorHead) {
          Value kv = cacheLoad(headVec, kRow(i));
          dot = sumF32(b.create<arith::MulFOp>(qVec, kv));
        } else {
          dot = reduce(idx(headDim), f32(0), [&](Value d, Value acc) {
            Value qv = b.create<memref::LoadOp>(
                q, ValueRange{t, b.create<arith::AddIOp>(qOff, d)});
            Value kv =
                cacheLoad(b.getF32Type(), b.create<arith::AddIOp>(kRow(i), d));
            return b.create<arith::AddFOp>(acc,
                                           b.create<arith::MulFOp>(qv, kv));
          });
        }
        return b.create<arith::MulFOp>(dot, scale);
      };

      // Pass 1: scores and their max.
      Value max = f32(-INFINITY);
      if (vectorHead) {
        Value lanes = splat(max, 16);
        lanes = reduceRange(idx(0), blocked, 16, lanes, [&](Value i0, Value m) {
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
          b.create<vector::StoreOp>(s, scores, ValueRange{h, i0});
          return b.create<arith::MaximumFOp>(m, s);
        });
        max = b.create<vector::ReductionOp>(vector::CombiningKind::MAXIMUMF,
                                            lanes);
      }
      max = reduceRange(blocked, visible, 1, max, [&](Value i, Value m) {
        Value score = scoreAt(i);
        b.create<memref::StoreOp>(score, scores, ValueRange{h, i});
        return b.create<arith::MaximumFOp>(m, score);
      });

      // Pass 2: exponentials and their sum.
      Value sum = f32(0);
      if (vectorHead) {
        Value lanes = splat(f32(0), 16);
        lanes =
            reduceRange(idx(0), blocked, 16, lanes, [&](Value i0, Value acc) {
              Value e = expF32(b.create<arith::SubFOp>(
                  b.create<vector::LoadOp>(f32x16, scores, ValueRange{h, i0}),
                  splat(max, 16)));
              b.create<vector::StoreOp>(e, scores, ValueRange{h, i0});
              return b.create<arith::AddFOp>(acc, e);
            });
        sum = sumF32(lanes);
      }
      sum = reduceRange(blocked, visible, 1, sum, [&](Value i, Value acc) {
        Value e = b.create<math::ExpOp>(b.create<arith::SubFOp>(
            b.create<memref::LoadOp>(scores, ValueRange{h, i}), max));
        b.create<memref::StoreOp>(e, scores, ValueRange{h, i});
        return b.create<arith::AddFOp>(acc, e);
      });

      // Pass 3: o = sum_i a_i V_i (head-wide FMAs), then / sum.
      if (vectorHead) {
        Value zero = b.create<arith::ConstantOp>(
            DenseElementsAttr::get(headVec, b.getF32FloatAttr(0).getValue()));
        Value acc = reduce(visible, zero, [&](Value i, Value acc) {
          Value vRow = b.create<arith::AddIOp>(rowStart(base, 1, i), kvOff);
          Value vv = cacheLoad(headVec, vRow);
          Value a = b.create<vector::BroadcastOp>(
              headVec, b.create<memref::LoadOp>(scores, ValueRange{h, i}));
          return b.create<vector::FMAOp>(a, vv, acc);
        });
        Value o = b.create<arith::DivFOp>(
            acc, b.create<vector::BroadcastOp>(headVec, sum));
        b.create<vector::StoreOp>(o, out, ValueRange{t, qOff});
      } else {
        forEach(idx(headDim), [&](Value d) {
          Value acc = reduce(visible, f32(0), [&](Value i, Value acc) {
            Value vRow = b.create<arith::AddIOp>(rowStart(base, 1, i), kvOff);
            Value vv =
                cacheLoad(b.getF32Type(), b.create<arith::AddIOp>(vRow, d));
            Value a = b.create<memref::LoadOp>(scores, ValueRange{h, i});
            return b.create<arith::AddFOp>(acc, b.create<arith::MulFOp>(a, vv));
          });
          b.create<memref::StoreOp>(
              b.create<arith::DivFOp>(acc, sum), out,
              ValueRange{t, b.create<arith::AddIOp>(qOff, d)});
        });
      }
    });
  });
}
