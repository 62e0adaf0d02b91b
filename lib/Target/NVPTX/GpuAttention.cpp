//===- GpuAttention.cpp - NVIDIA kernels for causal GQA attention ---------===//
//
// Device mode's attention (see GpuLayer.cpp): the step's keys and values
// are appended to the device KV cache by one kernel, then a block per head
// and token computes the scores, their softmax and the weighted sum of V,
// or, for decode over a long cache, a block per head and part of the
// positions, merged by a second kernel (flash-decoding).
//
//===----------------------------------------------------------------------===//

#include "GpuKernelEmitter.h"
#include "GpuThreads.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

namespace {
constexpr int64_t kAttentionThreads = 128;
/// Positions per block of the split decode attention.
constexpr int64_t kAttentionPart = 256;
} // namespace

void GpuKernelEmitter::launchAttention(AttentionOp op) {
  Value q = map.lookup(op.getQuery()), k = map.lookup(op.getKey()),
        v = map.lookup(op.getValue()), pos = map.lookup(op.getPositions());
  Value out = map.lookup(op.getResult());
  int64_t headDim = op.getHeadDim(), width = kvWidth, layers = kvLayers;
  int64_t heads = op.getNumHeads(), group = heads / op.getNumKvHeads();
  // Kernels take the pool's slots, context and layer as their last
  // arguments. Where token t's sequence starts in the pool:
  auto slotStart = [&](ValueRange a, Value t) -> Value {
    Value slots = a[a.size() - 3], context = a[a.size() - 2];
    Value slot = b.create<arith::IndexCastOp>(
        b.getIndexType(), b.create<memref::LoadOp>(slots, ValueRange{t}));
    return b.create<arith::MulIOp>(
        slot, b.create<arith::MulIOp>(context, idx(2 * layers * width)));
  };
  // Pool index of position p's row of kv head kvh (kernel-side values; the
  // layout is the CPU kernels', KernelEmitter::kvRowIndex).
  int64_t kvHeads = op.getNumKvHeads();
  auto rowStart = [&](ValueRange a, Value base, int64_t kv, Value kvh,
                      Value p) {
    return kvRowIndex(base, a.back(), kv, kvh, p, a[a.size() - 2], kvHeads,
                      headDim);
  };
  auto position = [&](Value positions, Value t) -> Value {
    return b.create<arith::IndexCastOp>(
        b.getIndexType(), b.create<memref::LoadOp>(positions, ValueRange{t}));
  };
  Value layer = idx(op.getLayer());

  // This call's keys and values go into the cache first: prompt tokens
  // attend to each other.
  launchKernel(
      (Twine("kv_append_") + Twine(width)).str(),
      {k, v, pos, kvCache, kvSlots, kvContext, layer}, idx(1), tokens,
      kRowThreads, [&](BlockThreads &th, Value, Value t, ValueRange a) {
        Value p = position(a[2], t), base = slotStart(a, t);
        th.each([&](Value tid) {
          th.strided(tid, idx(width), [&](Value j) {
            Value kvh = b.create<arith::DivUIOp>(j, idx(headDim));
            Value d = b.create<arith::RemUIOp>(j, idx(headDim));
            Value kAt =
                b.create<arith::AddIOp>(rowStart(a, base, 0, kvh, p), d);
            Value vAt =
                b.create<arith::AddIOp>(rowStart(a, base, 1, kvh, p), d);
            b.create<memref::StoreOp>(
                b.create<memref::LoadOp>(a[0], ValueRange{t, j}), a[3],
                ValueRange{kAt});
            b.create<memref::StoreOp>(
                b.create<memref::LoadOp>(a[1], ValueRange{t, j}), a[3],
                ValueRange{vAt});
          });
        });
      });

  // Scores: a row of a slot's context per (token, head).
  Value context = kvContext;
  Value scores = deviceAlloc(
      MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                      b.getF32Type()),
      ValueRange{b.create<arith::MulIOp>(tokens, idx(heads)), context});
  float scaleValue = float(1.0 / std::sqrt(double(headDim)));
  std::string shape = (Twine("_h") + Twine(heads) + "_kv" +
                       Twine(op.getNumKvHeads()) + "_d" + Twine(headDim))
                          .str();
  // One block's attention over the positions [lo, hi) of token t, head h
  // (a = q, positions, cache, scores, ..., slots, context, layer): the
  // scores into the scratch row, their max and the sum of their
  // exponentials, then finish(d, acc_d, max, sum) for each output
  // dimension d, a thread each.
  auto attend = [&](BlockThreads &th, Value h, Value t, ValueRange a, Value lo,
                    Value hi,
                    function_ref<void(Value, Value, Value, Value)> finish) {
    Value qs = a[0], cache = a[2], sc = a[3], base = slotStart(a, t);
    Value row =
        b.create<arith::AddIOp>(b.create<arith::MulIOp>(t, idx(heads)), h);
    Value qOff = b.create<arith::MulIOp>(h, idx(headDim));
    Value kvh = b.create<arith::DivUIOp>(h, idx(group));
    Value scale = f32(scaleValue);
    // Pass 1: scores and their max. Thread tid takes positions lo + tid,
    // lo + tid + 128, ...: 128 positions at a time, whose key rows the
    // block first copies into shared memory kKeyChunk dimensions at a time
    // (consecutive threads, consecutive addresses); each thread then adds
    // its position's products in dimension order, as one loop would.
    constexpr int64_t kKeyChunk = 32, kStride = kKeyChunk + 1;
    int64_t positions = th.count;
    Value keys = th.shared(positions * kStride);
    Value dots = th.shared(positions), runMax = th.shared(positions);
    th.phase([&](Value tid) {
      b.create<memref::StoreOp>(f32(-INFINITY), runMax, ValueRange{tid});
    });
    forRange(lo, hi, positions, [&](Value c0) {
      th.phase([&](Value tid) {
        b.create<memref::StoreOp>(f32(0), dots, ValueRange{tid});
      });
      for (int64_t d0 = 0; d0 < headDim; d0 += kKeyChunk) {
        int64_t width = std::min(kKeyChunk, headDim - d0);
        th.phase([&](Value tid) {
          th.strided(tid, idx(positions * kKeyChunk), [&](Value l) {
            Value r = b.create<arith::DivUIOp>(l, idx(kKeyChunk));
            Value c = b.create<arith::RemUIOp>(l, idx(kKeyChunk));
            Value i = b.create<arith::AddIOp>(c0, r);
            Value inside = b.create<arith::AndIOp>(
                b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, i, hi),
                b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, c,
                                        idx(width)));
            auto load = b.create<scf::IfOp>(inside, /*else=*/false);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(&load.getThenRegion().front());
            Value at =
                b.create<arith::AddIOp>(rowStart(a, base, 0, kvh, i),
                                        b.create<arith::AddIOp>(c, idx(d0)));
            b.create<memref::StoreOp>(
                b.create<memref::LoadOp>(cache, ValueRange{at}), keys,
                ValueRange{b.create<arith::AddIOp>(
                    b.create<arith::MulIOp>(r, idx(kStride)), c)});
          });
        });
        th.phase([&](Value tid) {
          ifBelow(b.create<arith::AddIOp>(c0, tid), hi, [&] {
            Value base = b.create<arith::MulIOp>(tid, idx(kStride));
            Value acc = b.create<memref::LoadOp>(dots, ValueRange{tid});
            acc = reduce(idx(width), acc, [&](Value c, Value acc) {
              Value x = b.create<memref::LoadOp>(
                  qs, ValueRange{
                          t, b.create<arith::AddIOp>(
                                 qOff, b.create<arith::AddIOp>(c, idx(d0)))});
              Value y = b.create<memref::LoadOp>(
                  keys, ValueRange{b.create<arith::AddIOp>(base, c)});
              return b.create<arith::AddFOp>(acc,
                                             b.create<arith::MulFOp>(x, y));
            });
            b.create<memref::StoreOp>(acc, dots, ValueRange{tid});
          });
        });
      }
      th.phase([&](Value tid) {
        Value i = b.create<arith::AddIOp>(c0, tid);
        ifBelow(i, hi, [&] {
          Value sc0 = b.create<arith::MulFOp>(
              b.create<memref::LoadOp>(dots, ValueRange{tid}), scale);
          b.create<memref::StoreOp>(sc0, sc, ValueRange{row, i});
          b.create<memref::StoreOp>(
              b.create<arith::MaximumFOp>(
                  b.create<memref::LoadOp>(runMax, ValueRange{tid}), sc0),
              runMax, ValueRange{tid});
        });
      });
    });
    Value max = th.reduce(/*max=*/true, [&](Value tid) -> Value {
      return b.create<memref::LoadOp>(runMax, ValueRange{tid});
    });
    // Pass 2: exponentials (each thread its own positions) and their sum.
    Value sum = th.reduce(/*max=*/false, [&](Value tid) {
      return th.stridedFold(
          b.create<arith::AddIOp>(lo, tid), hi, f32(0),
          [&](Value i, Value acc) {
            Value e = expF32(b.create<arith::SubFOp>(
                b.create<memref::LoadOp>(sc, ValueRange{row, i}), max));
            b.create<memref::StoreOp>(e, sc, ValueRange{row, i});
            return b.create<arith::AddFOp>(acc, e);
          });
    });
    // Pass 3: sum_i e_i V_i[d], a thread per d.
    th.each([&](Value tid) {
      th.strided(tid, idx(headDim), [&](Value d) {
        Value acc = reduceRange(lo, hi, 1, f32(0), [&](Value i, Value acc) {
          Value vAt = b.create<arith::AddIOp>(rowStart(a, base, 1, kvh, i), d);
          Value e = b.create<memref::LoadOp>(sc, ValueRange{row, i});
          Value vv = b.create<memref::LoadOp>(cache, ValueRange{vAt});
          return b.create<arith::AddFOp>(acc, b.create<arith::MulFOp>(e, vv));
        });
        finish(d, acc, max, sum);
      });
    });
  };
  auto whole = [&]() {
    launchKernel(
        "attention" + shape,
        {q, pos, kvCache, scores, out, kvSlots, kvContext, layer}, idx(heads),
        tokens, kAttentionThreads,
        [&](BlockThreads &th, Value h, Value t, ValueRange a) {
          Value visible = b.create<arith::AddIOp>(position(a[1], t), idx(1));
          Value qOff = b.create<arith::MulIOp>(h, idx(headDim));
          attend(th, h, t, a, idx(0), visible,
                 [&](Value d, Value acc, Value, Value sum) {
                   b.create<memref::StoreOp>(
                       b.create<arith::DivFOp>(acc, sum), a[4],
                       ValueRange{t, b.create<arith::AddIOp>(qOff, d)});
                 });
        });
  };

  // Decode with a long context: a token's heads alone are too few blocks
  // to read the cache at the GPU's bandwidth, so each head's positions are
  // split in parts of kAttentionPart, a block each, which write their max,
  // sum and unnormalized output; a second kernel merges the parts
  // (flash-decoding). Short caches take the single kernel.
  Value parts = b.create<arith::DivUIOp>(
      b.create<arith::AddIOp>(context, idx(kAttentionPart - 1)),
      idx(kAttentionPart));
  auto split = b.create<scf::IfOp>(
      b.create<arith::AndIOp>(
          b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, tokens, idx(1)),
          b.create<arith::CmpIOp>(arith::CmpIPredicate::ugt, parts, idx(1))),
      /*else=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&split.getElseRegion().front());
  whole();
  b.setInsertionPointToStart(&split.getThenRegion().front());
  Value blocks = b.create<arith::MulIOp>(
      b.create<arith::MulIOp>(tokens, idx(heads)), parts);
  auto f32Type = b.getF32Type();
  Value partMax = deviceAlloc(MemRefType::get({ShapedType::kDynamic}, f32Type),
                              blocks, /*freeAtEnd=*/false);
  Value partSum = deviceAlloc(MemRefType::get({ShapedType::kDynamic}, f32Type),
                              blocks, /*freeAtEnd=*/false);
  Value partOut = deviceAlloc(
      MemRefType::get({ShapedType::kDynamic, headDim}, f32Type), blocks,
      /*freeAtEnd=*/false);
  // Part p of (t, h) is entry (t * heads + h) * parts + p.
  launchKernel(
      "attention_part" + shape,
      {q, pos, kvCache, scores, partMax, partSum, partOut, kvSlots, kvContext,
       layer},
      idx(heads), b.create<arith::MulIOp>(tokens, parts), kAttentionThreads,
      [&](BlockThreads &th, Value h, Value by, ValueRange a) {
        Value count = b.create<arith::DivUIOp>(
            dim(a[4], 0), b.create<arith::MulIOp>(dim(a[0], 0), idx(heads)));
        Value t = b.create<arith::DivUIOp>(by, count);
        Value part = b.create<arith::RemUIOp>(by, count);
        Value visible = b.create<arith::AddIOp>(position(a[1], t), idx(1));
        Value lo = b.create<arith::MinUIOp>(
            b.create<arith::MulIOp>(part, idx(kAttentionPart)), visible);
        Value hi = b.create<arith::MinUIOp>(
            b.create<arith::AddIOp>(lo, idx(kAttentionPart)), visible);
        Value entry = b.create<arith::AddIOp>(
            b.create<arith::MulIOp>(
                b.create<arith::AddIOp>(b.create<arith::MulIOp>(t, idx(heads)),
                                        h),
                count),
            part);
        attend(th, h, t, a, lo, hi,
               [&](Value d, Value acc, Value max, Value sum) {
                 b.create<memref::StoreOp>(acc, a[6], ValueRange{entry, d});
                 // Every thread stores the same values.
                 b.create<memref::StoreOp>(max, a[4], ValueRange{entry});
                 b.create<memref::StoreOp>(sum, a[5], ValueRange{entry});
               });
      });
  // out = sum_p w_p acc_p / sum_p w_p sum_p, w_p = exp(max_p - max).
  launchKernel(
      "attention_merge" + shape, {partMax, partSum, partOut, out}, idx(heads),
      tokens, kAttentionThreads,
      [&](BlockThreads &th, Value h, Value t, ValueRange a) {
        Value count = b.create<arith::DivUIOp>(
            dim(a[0], 0), b.create<arith::MulIOp>(dim(a[3], 0), idx(heads)));
        Value first = b.create<arith::MulIOp>(
            b.create<arith::AddIOp>(b.create<arith::MulIOp>(t, idx(heads)), h),
            count);
        auto at = [&](Value p) { return b.create<arith::AddIOp>(first, p); };
        Value max = reduce(count, f32(-INFINITY), [&](Value p, Value m) {
          return b.create<arith::MaximumFOp>(
              m, b.create<memref::LoadOp>(a[0], ValueRange{at(p)}));
        });
        auto weight = [&](Value p) {
          return expF32(b.create<arith::SubFOp>(
              b.create<memref::LoadOp>(a[0], ValueRange{at(p)}), max));
        };
        Value total = reduce(count, f32(0), [&](Value p, Value acc) {
          return b.create<arith::AddFOp>(
              acc,
              b.create<arith::MulFOp>(weight(p), b.create<memref::LoadOp>(
                                                     a[1], ValueRange{at(p)})));
        });
        Value qOff = b.create<arith::MulIOp>(h, idx(headDim));
        th.each([&](Value tid) {
          th.strided(tid, idx(headDim), [&](Value d) {
            Value acc = reduce(count, f32(0), [&](Value p, Value acc) {
              return b.create<arith::AddFOp>(
                  acc, b.create<arith::MulFOp>(
                           weight(p), b.create<memref::LoadOp>(
                                          a[2], ValueRange{at(p), d})));
            });
            b.create<memref::StoreOp>(
                b.create<arith::DivFOp>(acc, total), a[3],
                ValueRange{t, b.create<arith::AddIOp>(qOff, d)});
          });
        });
      });
  deviceFree(partMax);
  deviceFree(partSum);
  deviceFree(partOut);
}
