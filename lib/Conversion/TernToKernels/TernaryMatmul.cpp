//===- TernaryMatmul.cpp - the ternary matmul kernels ---------------------===//
//
// acc[t, n] = sum_k q[t, k] * W[n, k] in i32, y = acc / s[t] * scale.
//
// Scalar: i2 (or unpacked) weights, one multiply-add per weight; the
// reference every other kernel is checked against.
//
// i2_k64 (SIMD): codes c = W + 1 in {0, 1, 2} are unsigned bytes, so
// sum_k c * q is a u8 x i8 byte dot product (vpdpbusd in 512 or 256 bits, or
// pmaddubsw + pmaddwd), and acc = sum_k c * q - sum_k q. One 16-byte load gives
// a block of 64 codes (see #tern.packed). Rows are the outer loop and tokens
// the inner one, so each row's bytes are read from memory once per call,
// however many tokens a prefill has. Register tiles of 4 rows x 4 tokens (one
// unpacked block of codes feeds 4 tokens, one block of activations 4 rows),
// and 8 rows x 1 token for decode.
//
//===----------------------------------------------------------------------===//

#include "GpuW2.h"
#include "KernelEmitter.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

Value KernelEmitter::withResidual(TernaryMatmulOp op, Value y, Value t,
                                  Value n) {
  if (!op.getResidual())
    return y;
  return b.create<arith::AddFOp>(
      y, b.create<memref::LoadOp>(in(op.getResidual()), ValueRange{t, n}));
}

void KernelEmitter::lowerTernaryMatmul(TernaryMatmulOp op) {
  Value q = in(op.getInput()), s = in(op.getScale());
  Value k = dim(q, 1);
  for (auto [i, weight] : llvm::enumerate(op.getWeights())) {
    Value w = in(weight), out = output(op.getResult(i));
    PackedAttr packed = getPackedEncoding(weight.getType());
    int64_t kStatic = cast<RankedTensorType>(weight.getType()).getDimSize(1);
    Value rowBytes = idx(llvm::divideCeil(kStatic, 4));
    Value wScale = extra(i);
    // The trit W[n, j] as i32.
    auto trit = [&](Value n, Value j) -> Value {
      if (!packed)
        return b.create<arith::ExtSIOp>(
            b.getI32Type(), b.create<memref::LoadOp>(w, ValueRange{n, j}));
      // i2: code = (byte >> 2*(j%4)) & 3, trit = code - 1.
      Value byteIdx =
          b.create<arith::AddIOp>(b.create<arith::MulIOp>(n, rowBytes),
                                  b.create<arith::DivUIOp>(j, idx(4)));
      Value byte = b.create<arith::ExtUIOp>(
          b.getI32Type(), b.create<memref::LoadOp>(w, ValueRange{byteIdx}));
      Value shift = b.create<arith::IndexCastOp>(
          b.getI32Type(),
          b.create<arith::MulIOp>(b.create<arith::RemUIOp>(j, idx(4)), idx(2)));
      Value code = b.create<arith::AndIOp>(
          b.create<arith::ShRUIOp>(byte, shift), i32(3));
      return b.create<arith::SubIOp>(code, i32(1));
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
        Value y = b.create<arith::SIToFPOp>(b.getF32Type(), acc);
        y = b.create<arith::MulFOp>(b.create<arith::DivFOp>(y, sx), wScale);
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

Type KernelEmitter::accumulatorType() {
  auto i32 = b.getI32Type();
  switch (variant) {
  case Variant::AVX512VNNI:
    return VectorType::get({16}, i32);
  case Variant::AVX2:
  case Variant::AVXVNNI:
    return VectorType::get({8}, i32);
  case Variant::Scalar:
  case Variant::Vector:
    return VectorType::get({64}, i32);
  case Variant::NEON:
  case Variant::DotProd:
  case Variant::I8MM:
    return VectorType::get({4}, i32);
  }
  llvm_unreachable("unknown variant");
}

Value KernelEmitter::unscaleLanes(Value acc) {
  // Lane l summed codes scaled by 4^l (see lowerTernaryMatmulK64); every
  // partial sum is an exact multiple, so an arithmetic shift undoes it.
  SmallVector<int32_t> shifts;
  for (int32_t lane = 0; lane < 4; ++lane)
    shifts.append(4, 2 * lane);
  auto type = cast<VectorType>(acc.getType());
  return b.create<arith::ShRSIOp>(
      acc, b.create<arith::ConstantOp>(
               DenseElementsAttr::get(type, ArrayRef<int32_t>(shifts))));
}

Value KernelEmitter::sumAccumulator(Value acc) {
  if (variant == Variant::AVX512VNNI)
    acc = unscaleLanes(acc);
  return b.create<vector::ReductionOp>(vector::CombiningKind::ADD, acc);
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
    shifted.push_back(variant == Variant::AVX512VNNI ? unscaleLanes(acc) : acc);
  Value all = transposeSum(shifted);
  for (int64_t i = 0; i < type.getNumElements(); ++i)
    totals.push_back(b.create<vector::ExtractOp>(all, i));
  return totals;
}

Value KernelEmitter::intrinsic(StringRef name, Type result, ValueRange args) {
  return b
      .create<LLVM::CallIntrinsicOp>(result, b.getStringAttr(name), args,
                                     LLVM::FastmathFlagsAttr())
      .getResult(0);
}

Value KernelEmitter::slice16(Value v, int64_t part) {
  return b.create<vector::ExtractStridedSliceOp>(
      v, ArrayRef<int64_t>{16 * part}, ArrayRef<int64_t>{16},
      ArrayRef<int64_t>{1});
}

Value KernelEmitter::mmla64(Value acc, Value codes0, Value codes1, Value q0,
                            Value q1) {
  // smmla multiplies a 2 x 8 block of rows by a 2 x 8 block of tokens
  // (both row-major in 16 bytes) into [r0 t0, r0 t1, r1 t0, r1 t1]: here
  // bytes 8m .. 8m+7 of two rows and of two tokens, for m = 0 .. 7.
  auto v4i32 = VectorType::get({4}, b.getI32Type());
  auto pair = [&](Value x, Value y, int64_t m) {
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < 8; ++i)
      mask.push_back(8 * m + i);
    for (int64_t i = 0; i < 8; ++i)
      mask.push_back(64 + 8 * m + i);
    return b.create<vector::ShuffleOp>(x, y, mask);
  };
  for (int64_t m = 0; m < 8; ++m)
    acc = intrinsic("llvm.aarch64.neon.smmla.v4i32.v16i8", v4i32,
                    {acc, pair(codes0, codes1, m), pair(q0, q1, m)});
  return acc;
}

Value KernelEmitter::dot64(Value acc, Value codes, Value q) {
  auto i16 = b.getI16Type(), i32 = b.getI32Type();
  switch (variant) {
  case Variant::AVX512VNNI: {
    auto v16i32 = VectorType::get({16}, i32);
    return intrinsic("llvm.x86.avx512.vpdpbusd.512", v16i32,
                     {acc, b.create<vector::BitCastOp>(v16i32, codes),
                      b.create<vector::BitCastOp>(v16i32, q)});
  }
  case Variant::AVXVNNI: {
    // Two 256-bit halves, each a VEX vpdpbusd (AVX-VNNI, no AVX-512).
    auto v8i32 = VectorType::get({8}, i32);
    for (int64_t half = 0; half < 2; ++half) {
      auto slice = [&](Value v) {
        return b.create<vector::BitCastOp>(
            v8i32, b.create<vector::ExtractStridedSliceOp>(
                       v, ArrayRef<int64_t>{32 * half}, ArrayRef<int64_t>{32},
                       ArrayRef<int64_t>{1}));
      };
      acc = intrinsic("llvm.x86.avx512.vpdpbusd.256", v8i32,
                      {acc, slice(codes), slice(q)});
    }
    return acc;
  }
  case Variant::AVX2: {
    // Two 256-bit halves: pmaddubsw (pairs of u8 x i8 -> i16, at most
    // 2 * 2 * 127: no saturation), then pmaddwd with ones (-> i32).
    auto v16i16 = VectorType::get({16}, i16);
    auto v8i32 = VectorType::get({8}, i32);
    Value ones = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(v16i16, b.getI16IntegerAttr(1).getValue()));
    for (int64_t half = 0; half < 2; ++half) {
      auto slice = [&](Value v) {
        return b.create<vector::ExtractStridedSliceOp>(
            v, ArrayRef<int64_t>{32 * half}, ArrayRef<int64_t>{32},
            ArrayRef<int64_t>{1});
      };
      Value pairs = intrinsic("llvm.x86.avx2.pmadd.ub.sw", v16i16,
                              {slice(codes), slice(q)});
      Value quads = intrinsic("llvm.x86.avx2.pmadd.wd", v8i32, {pairs, ones});
      acc = b.create<arith::AddIOp>(acc, quads);
    }
    return acc;
  }
  case Variant::DotProd:
  case Variant::I8MM: {
    // Four sdot: lane i of a 16-byte slice pair adds the products of bytes
    // 4i .. 4i+3 (codes 0..2 are valid signed bytes too).
    auto v4i32 = VectorType::get({4}, i32);
    for (int64_t part = 0; part < 4; ++part)
      acc = intrinsic("llvm.aarch64.neon.sdot.v4i32.v16i8", v4i32,
                      {acc, slice16(codes, part), slice16(q, part)});
    return acc;
  }
  case Variant::NEON: {
    // smull of 8-byte halves (i16 products, at most 2 * 128), then sadalp
    // (pairwise add into the i32 lanes).
    auto v8i16 = VectorType::get({8}, i16);
    auto v4i32 = VectorType::get({4}, i32);
    for (int64_t half = 0; half < 8; ++half) {
      auto slice8 = [&](Value v) {
        return b.create<vector::ExtractStridedSliceOp>(
            v, ArrayRef<int64_t>{8 * half}, ArrayRef<int64_t>{8},
            ArrayRef<int64_t>{1});
      };
      Value products = intrinsic("llvm.aarch64.neon.smull.v8i16", v8i16,
                                 {slice8(codes), slice8(q)});
      acc = b.create<arith::AddIOp>(
          acc,
          intrinsic("llvm.aarch64.neon.saddlp.v4i32.v8i16", v4i32, {products}));
    }
    return acc;
  }
  case Variant::Scalar:
  case Variant::Vector: {
    // Portable: widen and multiply; LLVM picks the instructions.
    auto v64i32 = VectorType::get({64}, i32);
    Value c = b.create<arith::ExtUIOp>(v64i32, codes);
    Value x = b.create<arith::ExtSIOp>(v64i32, q);
    return b.create<arith::AddIOp>(acc, b.create<arith::MulIOp>(c, x));
  }
  }
  llvm_unreachable("unknown variant");
}

void KernelEmitter::lowerTernaryMatmulK64(TernaryMatmulOp op) {
  Value q = in(op.getInput()), s = in(op.getScale());
  int64_t k = cast<RankedTensorType>(op.getInput().getType()).getDimSize(1);
  int64_t full = k / 64, blocks = llvm::divideCeil(k, 64);
  auto i8 = b.getI8Type(), i32t = b.getI32Type();
  auto v16i8 = VectorType::get({16}, i8), v64i8 = VectorType::get({64}, i8);
  auto v16i32 = VectorType::get({16}, i32t);
  Value tokens = dim(q, 0);

  // sum_k q[t, k]: the codes are trits + 1.
  Value sums =
      b.create<memref::AllocOp>(MemRefType::get({ShapedType::kDynamic}, i32t),
                                ValueRange{tokens}, b.getI64IntegerAttr(64));
  forEach(tokens, [&](Value t) {
    Value sum = reduce(idx(k), i32(0), [&](Value j, Value acc) {
      return b.create<arith::AddIOp>(
          acc, b.create<arith::ExtSIOp>(
                   i32t, b.create<memref::LoadOp>(q, ValueRange{t, j})));
    });
    b.create<memref::StoreOp>(sum, sums, ValueRange{t});
  });

  // Codes of one block: the 16 bytes in each 128-bit lane, lane l shifted
  // right by 2l bits (32-bit shifts: bits from the next byte are masked).
  SmallVector<int32_t> shiftValues;
  for (int32_t lane = 0; lane < 4; ++lane)
    shiftValues.append(4, 2 * lane);
  Value shifts = b.create<arith::ConstantOp>(
      DenseElementsAttr::get(v16i32, ArrayRef<int32_t>(shiftValues)));
  Value mask = b.create<arith::ConstantOp>(DenseElementsAttr::get(
      v16i32, b.getI32IntegerAttr(0x03030303).getValue()));
  SmallVector<int64_t> replicate;
  for (int64_t lane = 0; lane < 4; ++lane)
    for (int64_t j = 0; j < 16; ++j)
      replicate.push_back(j);
  // VNNI skips the shift: lane l keeps its codes in place (code << 2l, at
  // most 128, still a u8), so its dot products come out 4^l times too
  // large, and sumAccumulator shifts each lane's exact sum back.
  SmallVector<int32_t> laneMaskValues;
  for (uint32_t lane = 0; lane < 4; ++lane)
    laneMaskValues.append(4, int32_t(0x03030303u << (2 * lane)));
  Value laneMasks = b.create<arith::ConstantOp>(
      DenseElementsAttr::get(v16i32, ArrayRef<int32_t>(laneMaskValues)));
  auto unpack = [&](Value bytes) -> Value {
    Value wide = b.create<vector::ShuffleOp>(bytes, bytes, replicate);
    Value words = b.create<vector::BitCastOp>(v16i32, wide);
    if (variant == Variant::AVX512VNNI)
      words = b.create<arith::AndIOp>(words, laneMasks);
    else
      words = b.create<arith::AndIOp>(b.create<arith::ShRUIOp>(words, shifts),
                                      mask);
    return b.create<vector::BitCastOp>(v64i8, words);
  };
  Type accType = accumulatorType();
  Value zero = b.create<arith::ConstantOp>(DenseElementsAttr::get(
      cast<ShapedType>(accType), b.getI32IntegerAttr(0).getValue()));

  // One tile: `rows` rows from n0 times `toks` tokens from t0, each pair
  // with its own accumulator, so one unpacked block of codes feeds `toks`
  // dot products and one activation block feeds `rows`.
  auto tile = [&](Value w, Value out, Value wScale, Value n0, Value t0,
                  int64_t rows, int64_t toks) {
    // Row n's block 0 is at (n / 8) * blocks * 128 + (n % 8) * 16; its
    // blocks follow every 128 bytes (see #tern.packed<i2_k64>).
    SmallVector<Value> rowStart, tok;
    for (int64_t r = 0; r < rows; ++r) {
      Value n = b.create<arith::AddIOp>(n0, idx(r));
      rowStart.push_back(b.create<arith::AddIOp>(
          b.create<arith::MulIOp>(b.create<arith::DivUIOp>(n, idx(8)),
                                  idx(blocks * 128)),
          b.create<arith::MulIOp>(b.create<arith::RemUIOp>(n, idx(8)),
                                  idx(16))));
    }
    for (int64_t u = 0; u < toks; ++u)
      tok.push_back(b.create<arith::AddIOp>(t0, idx(u)));
    // smmla: one accumulator per 2 x 2 block of rows and tokens.
    bool pairs = variant == Variant::I8MM && rows % 2 == 0 && toks % 2 == 0;
    SmallVector<Value> inits(pairs ? rows * toks / 4 : rows * toks, zero);
    auto loop = b.create<scf::ForOp>(idx(0), idx(full), idx(1), inits);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value block = loop.getInductionVar();
      std::string region =
          "tile" + std::to_string(rows) + "x" + std::to_string(toks);
      auto marker = [&](StringRef what) {
        if (mcaMarkers)
          b.create<LLVM::InlineAsmOp>(
              Type(), ValueRange{}, ("# LLVM-MCA-" + what + " " + region).str(),
              "", /*has_side_effects=*/true, /*is_align_stack=*/false,
              LLVM::AsmDialectAttr(), ArrayAttr());
      };
      marker("BEGIN");
      Value kOff = b.create<arith::MulIOp>(block, idx(64));
      Value bOff = b.create<arith::MulIOp>(block, idx(128));
      SmallVector<Value> codes, acts, next;
      // Decode streams the weights: the tile's two lines of this block,
      // kPrefetchBytes ahead (the next tile's rows follow this one's).
      if (toks == 1 && full > 1)
        for (int64_t line = 0; line < 2; ++line)
          prefetch(
              w, {b.create<arith::AddIOp>(
                     rowStart[0], b.create<arith::AddIOp>(
                                      bOff, idx(kPrefetchBytes + 64 * line)))});
      for (int64_t r = 0; r < rows; ++r)
        codes.push_back(unpack(b.create<vector::LoadOp>(
            v16i8, w, ValueRange{b.create<arith::AddIOp>(rowStart[r], bOff)})));
      for (int64_t u = 0; u < toks; ++u)
        acts.push_back(
            b.create<vector::LoadOp>(v64i8, q, ValueRange{tok[u], kOff}));
      if (pairs) {
        for (int64_t r = 0; r < rows; r += 2)
          for (int64_t u = 0; u < toks; u += 2)
            next.push_back(
                mmla64(loop.getRegionIterArg(r / 2 * (toks / 2) + u / 2),
                       codes[r], codes[r + 1], acts[u], acts[u + 1]));
      } else {
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t u = 0; u < toks; ++u)
            next.push_back(
                dot64(loop.getRegionIterArg(r * toks + u), codes[r], acts[u]));
      }
      marker("END");
      b.create<scf::YieldOp>(next);
    }
    SmallVector<Value> totals;
    if (pairs) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t u = 0; u < toks; ++u)
          totals.push_back(b.create<vector::ExtractOp>(
              loop.getResult(r / 2 * (toks / 2) + u / 2), 2 * (r % 2) + u % 2));
    } else {
      totals = sumAccumulators(loop.getResults());
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t u = 0; u < toks; ++u) {
        Value total = totals[r * toks + u];
        Value t = tok[u], row = rowStart[r];
        // K % 64 trailing elements, one at a time.
        if (k % 64)
          total = reduce(idx(k % 64), total, [&](Value j, Value acc) {
            Value byteIdx = b.create<arith::AddIOp>(
                row,
                b.create<arith::AddIOp>(idx(full * 128),
                                        b.create<arith::RemUIOp>(j, idx(16))));
            Value byte = b.create<arith::ExtUIOp>(
                i32t, b.create<memref::LoadOp>(w, ValueRange{byteIdx}));
            Value shift = b.create<arith::IndexCastOp>(
                i32t, b.create<arith::MulIOp>(
                          b.create<arith::DivUIOp>(j, idx(16)), idx(2)));
            Value code = b.create<arith::AndIOp>(
                b.create<arith::ShRUIOp>(byte, shift), i32(3));
            Value qv = b.create<arith::ExtSIOp>(
                i32t,
                b.create<memref::LoadOp>(
                    q,
                    ValueRange{t, b.create<arith::AddIOp>(idx(full * 64), j)}));
            return b.create<arith::AddIOp>(acc,
                                           b.create<arith::MulIOp>(code, qv));
          });
        total = b.create<arith::SubIOp>(
            total, b.create<memref::LoadOp>(sums, ValueRange{t}));
        Value y = b.create<arith::SIToFPOp>(b.getF32Type(), total);
        Value sx = b.create<memref::LoadOp>(s, ValueRange{t});
        y = b.create<arith::MulFOp>(b.create<arith::DivFOp>(y, sx), wScale);
        Value n = b.create<arith::AddIOp>(n0, idx(r));
        b.create<memref::StoreOp>(withResidual(op, y, t, n), out,
                                  ValueRange{t, n});
      }
  };

  // Tokens in groups of 4 use 4 x 4 tiles; the remaining tokens (all of a
  // decode step) use 8 x 1 tiles: eight independent dot-product chains per
  // activation block. Rows that do not fill a tile go one at a time.
  Value mainToks =
      b.create<arith::MulIOp>(b.create<arith::DivUIOp>(tokens, idx(4)), idx(4));
  for (auto [i, weight] : llvm::enumerate(op.getWeights())) {
    Value w = in(weight), out = output(op.getResult(i));
    Value wScale = extra(i);
    int64_t n = cast<MemRefType>(out.getType()).getDimSize(1);
    // Row tiles are independent: they run on the thread team.
    auto overRows = [&](int64_t rows, function_ref<void(Value, int64_t)> body) {
      int64_t main = n / rows * rows;
      parallelFor(idx(0), idx(main), idx(rows),
                  [&](Value n0) { body(n0, rows); });
      forRange(idx(main), idx(n), 1, [&](Value n0) { body(n0, 1); });
    };
    overRows(4, [&](Value n0, int64_t rows) {
      forRange(idx(0), mainToks, 4,
               [&](Value t0) { tile(w, out, wScale, n0, t0, rows, 4); });
    });
    overRows(8, [&](Value n0, int64_t rows) {
      forRange(mainToks, tokens, 1,
               [&](Value t0) { tile(w, out, wScale, n0, t0, rows, 1); });
    });
  }
  b.create<memref::DeallocOp>(sums);
}
