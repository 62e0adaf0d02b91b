//===- Elementwise.cpp - row-wise kernels: norm, quantize, RoPE, GLU, add -===//
//
// Every token's row is independent. The rows of a prefill run on the thread
// team; the single row of a decode step runs inline, as a team region costs
// more than the row. Within a row the code works on 16 f32 lanes at a time
// and on the remaining elements one by one, for every kernel family.
//
// Reductions: max is exact in any order, so act_quant's scale and codes are
// the same as a sequential loop's. RMSNorm's sum of squares is a 16-lane
// sum, a different rounding order from a sequential one (as PyTorch's is).
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/KernelEmitter.h"
#include "tern/Conversion/Numerics.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

namespace {
constexpr int64_t kLanes = 16;
} // namespace

void KernelEmitter::forEachToken(Value count, function_ref<void(Value)> body) {
  auto branch = b.create<scf::IfOp>(
      b.create<arith::CmpIOp>(arith::CmpIPredicate::ugt, count, idx(1)),
      /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(branch.thenBlock()->getTerminator());
  parallelFor(idx(0), count, idx(1), body);
  b.setInsertionPoint(branch.elseBlock()->getTerminator());
  forEach(count, body);
}

void KernelEmitter::forEachLane(int64_t n,
                                function_ref<void(Value, int64_t)> body) {
  int64_t full = n / kLanes * kLanes;
  if (full)
    forRange(idx(0), idx(full), kLanes, [&](Value j) { body(j, kLanes); });
  if (n > full)
    forRange(idx(full), idx(n), 1, [&](Value j) { body(j, 1); });
}

Value KernelEmitter::reduceLanes(int64_t n, vector::CombiningKind kind,
                                 Value init,
                                 function_ref<Value(Value, int64_t)> body) {
  bool add = kind == vector::CombiningKind::ADD;
  auto combine = [&](Value a, Value v) -> Value {
    if (add)
      return b.create<arith::AddFOp>(a, v);
    return b.create<arith::MaximumFOp>(a, v);
  };
  int64_t full = n / kLanes * kLanes;
  Value acc = init;
  if (full) {
    Value lanes = reduceRange(
        idx(0), idx(full), kLanes, splat(add ? f32(0) : init, kLanes),
        [&](Value j, Value acc) { return combine(acc, body(j, kLanes)); });
    acc = add ? combine(init, sumF32(lanes))
              : b.create<vector::ReductionOp>(kind, lanes);
  }
  if (n == full)
    return acc;
  return reduceRange(idx(full), idx(n), 1, acc, [&](Value j, Value acc) {
    return combine(acc, body(j, 1));
  });
}

Value KernelEmitter::splat(Value scalar, int64_t width) {
  if (width == 1)
    return scalar;
  return b.create<vector::BroadcastOp>(
      VectorType::get({width}, scalar.getType()), scalar);
}

Value KernelEmitter::load(Value memref, ValueRange indices, int64_t width) {
  if (width == 1)
    return b.create<memref::LoadOp>(memref, indices);
  Type element = cast<MemRefType>(memref.getType()).getElementType();
  return b.create<vector::LoadOp>(VectorType::get({width}, element), memref,
                                  indices);
}

void KernelEmitter::store(Value value, Value memref, ValueRange indices) {
  if (isa<VectorType>(value.getType()))
    b.create<vector::StoreOp>(value, memref, indices);
  else
    b.create<memref::StoreOp>(value, memref, indices);
}

Value KernelEmitter::rmsInverse(int64_t d, float epsilon, RowFn element) {
  Value ss = reduceLanes(d, vector::CombiningKind::ADD, f32(0),
                         [&](Value j, int64_t w) {
                           Value v = element(j, w);
                           return b.create<arith::MulFOp>(v, v);
                         });
  return b.create<math::RsqrtOp>(b.create<arith::AddFOp>(
      b.create<arith::DivFOp>(ss, f32(float(d))), f32(epsilon)));
}

void KernelEmitter::quantizeRow(int64_t k, Value t, Value q, Value s,
                                RowFn element) {
  Value amax = reduceLanes(k, vector::CombiningKind::MAXIMUMF, f32(0),
                           [&](Value j, int64_t w) -> Value {
                             return b.create<math::AbsFOp>(element(j, w));
                           });
  Value scale = actQuantScale(b, b.getLoc(), amax);
  b.create<memref::StoreOp>(scale, s, ValueRange{t});
  forEachLane(k, [&](Value j, int64_t w) {
    store(actQuantize(b, b.getLoc(), element(j, w), splat(scale, w)), q,
          {t, j});
  });
}

Value KernelEmitter::gluValue(Value gate, Value up, GluActivation activation,
                              int64_t width) {
  Value act;
  if (activation == GluActivation::Relu2) {
    Value r = b.create<arith::MaximumFOp>(gate, splat(f32(0), width));
    act = b.create<arith::MulFOp>(r, r);
  } else { // silu(g) = g / (1 + exp(-g))
    Value e = expValue(b.create<arith::NegFOp>(gate));
    act = b.create<arith::DivFOp>(
        gate, b.create<arith::AddFOp>(splat(f32(1), width), e));
  }
  return b.create<arith::MulFOp>(act, up);
}

void KernelEmitter::lowerRMSNorm(RMSNormOp op) {
  Value x = in(op.getInput()), g = in(op.getGamma());
  Value out = output(op.getResult());
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  forEachToken(dim(x, 0), [&](Value t) {
    Value inv = rmsInverse(d, op.getEpsilon().convertToFloat(),
                           [&](Value j, int64_t w) {
                             return load(x, {t, j}, w);
                           });
    forEachLane(d, [&](Value j, int64_t w) {
      Value y = b.create<arith::MulFOp>(load(x, {t, j}, w), splat(inv, w));
      store(b.create<arith::MulFOp>(y, load(g, {j}, w)), out, {t, j});
    });
  });
}

void KernelEmitter::lowerActQuant(ActQuantOp op) {
  Value x = in(op.getInput());
  int64_t k = cast<MemRefType>(x.getType()).getDimSize(1);
  forEachToken(dim(x, 0), [&](Value t) {
    quantizeRow(k, t, output(op.getQuantized()), output(op.getScale()),
                [&](Value j, int64_t w) {
                  return load(x, {t, j}, w);
                });
  });
}

void KernelEmitter::lowerNormQuant(NormQuantOp op) {
  Value x = in(op.getInputs()[0]), g = in(op.getGamma());
  Value up = op.getInputs().size() == 2 ? in(op.getInputs()[1]) : Value();
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  // Each pass recomputes the row's elements (the glu too) rather than
  // storing them: the same operations in the same order as the separate
  // kernels, so the same values.
  forEachToken(dim(x, 0), [&](Value t) {
    auto row = [&](Value j, int64_t w) {
      Value v = load(x, {t, j}, w);
      return up ? gluValue(v, load(up, {t, j}, w), *op.getActivation(), w) : v;
    };
    Value inv = rmsInverse(d, op.getEpsilon().convertToFloat(), row);
    quantizeRow(d, t, output(op.getQuantized()), output(op.getScale()),
                [&](Value j, int64_t w) -> Value {
                  Value y = b.create<arith::MulFOp>(row(j, w), splat(inv, w));
                  return b.create<arith::MulFOp>(y, load(g, {j}, w));
                });
  });
}

SmallVector<float> mlir::tern::kernels::ropeInverseFrequencies(RopeOp op) {
  // inv_freq[i] = 1 / theta^(2i / head_dim) in f32, as in HF: constants.
  float theta = op.getTheta().convertToFloat();
  int64_t headDim = op.getHeadDim();
  SmallVector<float> invFreq;
  for (int64_t i = 0; i < headDim / 2; ++i)
    invFreq.push_back(1.0f / std::pow(theta, float(2 * i) / float(headDim)));
  // Llama 3.1's rescaling, in f32 as transformers' _compute_llama3_parameters
  // computes it on f32 tensors.
  if (RopeScalingAttr s = op.getScalingAttr()) {
    float factor = s.getFactor().getValueAsDouble(),
          low = s.getLowFreqFactor().getValueAsDouble(),
          high = s.getHighFreqFactor().getValueAsDouble(),
          context = float(s.getOriginalContext());
    float lowWavelen = context / low, highWavelen = context / high;
    for (float &f : invFreq) {
      float wavelen = 2.0f * float(M_PI) / f;
      if (wavelen > lowWavelen) {
        f = f / factor;
      } else if (!(wavelen < highWavelen)) {
        float smooth = (context / wavelen - low) / (high - low);
        f = (1.0f - smooth) * f / factor + smooth * f;
      }
    }
  }
  // ggml's freq_factors divide the frequencies (a GGUF's rope_freqs).
  if (std::optional<ArrayRef<float>> factors = op.getFreqFactors())
    for (auto [f, d] : llvm::zip(invFreq, *factors))
      f = f / d;
  return invFreq;
}

void KernelEmitter::lowerRope(RopeOp op) {
  Value x = in(op.getInput()), pos = in(op.getPositions());
  Value out = output(op.getResult());
  int64_t headDim = op.getHeadDim(), half = headDim / 2;
  bool halfSplit = op.getStyle() == RopeStyle::HalfSplit;
  int64_t heads = cast<MemRefType>(x.getType()).getDimSize(1) / headDim;
  SmallVector<float> invFreq = ropeInverseFrequencies(op);
  // Pairs (i, i + half) are contiguous in i for half-split: 16 at a time.
  // Interleaved pairs (2i, 2i + 1) go one at a time.
  struct Piece {
    int64_t first, width;
  };
  SmallVector<Piece> pieces;
  for (int64_t i = 0; i < half;) {
    int64_t w = halfSplit && half - i >= kLanes ? kLanes : 1;
    pieces.push_back({i, w});
    i += w;
  }
  forEachToken(dim(x, 0), [&](Value t) {
    Value p = b.create<arith::SIToFPOp>(
        b.getF32Type(), b.create<memref::LoadOp>(pos, ValueRange{t}));
    // cos and sin of p * inv_freq, once per token for every head.
    SmallVector<Value> cos, sin;
    for (Piece piece : pieces) {
      ArrayRef<float> freqs(invFreq.data() + piece.first, piece.width);
      Value f =
          piece.width == 1
              ? f32(freqs[0])
              : b.create<arith::ConstantOp>(DenseElementsAttr::get(
                    VectorType::get({piece.width}, b.getF32Type()), freqs));
      Value angle = b.create<arith::MulFOp>(splat(p, piece.width), f);
      cos.push_back(b.create<math::CosOp>(angle));
      sin.push_back(b.create<math::SinOp>(angle));
    }
    forEach(idx(heads), [&](Value h) {
      Value base = b.create<arith::MulIOp>(h, idx(headDim));
      for (auto [piece, c, s] : llvm::zip(pieces, cos, sin)) {
        int64_t ia = halfSplit ? piece.first : 2 * piece.first;
        int64_t ib = ia + (halfSplit ? half : 1);
        Value at = b.create<arith::AddIOp>(base, idx(ia));
        Value bt = b.create<arith::AddIOp>(base, idx(ib));
        Value va = load(x, {t, at}, piece.width);
        Value vb = load(x, {t, bt}, piece.width);
        Value ra = b.create<arith::SubFOp>(b.create<arith::MulFOp>(va, c),
                                           b.create<arith::MulFOp>(vb, s));
        Value rb = b.create<arith::AddFOp>(b.create<arith::MulFOp>(vb, c),
                                           b.create<arith::MulFOp>(va, s));
        store(ra, out, {t, at});
        store(rb, out, {t, bt});
      }
    });
  });
}

void KernelEmitter::lowerGlu(GluOp op) {
  Value g = in(op.getGate()), u = in(op.getUp());
  Value out = output(op.getResult());
  int64_t n = cast<MemRefType>(g.getType()).getDimSize(1);
  forEachToken(dim(g, 0), [&](Value t) {
    forEachLane(n, [&](Value j, int64_t w) {
      store(gluValue(load(g, {t, j}, w), load(u, {t, j}, w), op.getActivation(),
                     w),
            out, {t, j});
    });
  });
}

void KernelEmitter::lowerAdd(AddOp op) {
  Value l = in(op.getLhs()), r = in(op.getRhs());
  Value out = output(op.getResult());
  int64_t n = cast<MemRefType>(l.getType()).getDimSize(1);
  forEachToken(dim(l, 0), [&](Value t) {
    forEachLane(n, [&](Value j, int64_t w) {
      store(b.create<arith::AddFOp>(load(l, {t, j}, w), load(r, {t, j}, w)),
            out, {t, j});
    });
  });
}

Value KernelEmitter::intrinsicF32(StringRef name, Value x) {
  // gpu-to-nvvm would send math.sqrt and math.absf (and the llvm.intr ops
  // they lower to) to libdevice, which needs the CUDA toolkit; NVPTX has
  // instructions for both (sqrt.rn.f32, abs.f32), as the CPU has.
  if (onGpu())
    return intrinsic(name, b.getF32Type(), x);
  if (name == "llvm.sqrt.f32")
    return b.create<math::SqrtOp>(x);
  return b.create<math::AbsFOp>(x);
}

Value KernelEmitter::expValue(Value x) {
  // Device kernels use the polynomial (no libdevice on the GPU).
  if (deviceCode())
    return expF32(x);
  return b.create<math::ExpOp>(x);
}

Value KernelEmitter::logF32(Value x) {
  // x = m 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s),
  // s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s^11 (relative
  // error ~1e-9); log 2 in two parts. For x > 0 (normal numbers).
  Type i32Type = b.getI32Type();
  Value bits = b.create<arith::BitcastOp>(i32Type, x);
  Value e = b.create<arith::SubIOp>(
      b.create<arith::AndIOp>(b.create<arith::ShRUIOp>(bits, i32(23)),
                              i32(0xff)),
      i32(127));
  Value m = b.create<arith::BitcastOp>(
      b.getF32Type(),
      b.create<arith::OrIOp>(b.create<arith::AndIOp>(bits, i32(0x7fffff)),
                             i32(0x3f800000)));
  Value big =
      b.create<arith::CmpFOp>(arith::CmpFPredicate::OGT, m, f32(1.41421356f));
  m = b.create<arith::SelectOp>(big, b.create<arith::MulFOp>(m, f32(0.5f)), m);
  e = b.create<arith::SelectOp>(big, b.create<arith::AddIOp>(e, i32(1)), e);
  Value s = b.create<arith::DivFOp>(b.create<arith::SubFOp>(m, f32(1)),
                                    b.create<arith::AddFOp>(m, f32(1)));
  Value s2 = b.create<arith::MulFOp>(s, s);
  Value p = f32(2.0f / 11);
  for (float c : {2.0f / 9, 2.0f / 7, 2.0f / 5, 2.0f / 3, 2.0f})
    p = b.create<math::FmaOp>(p, s2, f32(c));
  Value ef = b.create<arith::SIToFPOp>(b.getF32Type(), e);
  Value low = b.create<math::FmaOp>(ef, f32(-2.12194440e-4f),
                                    b.create<arith::MulFOp>(p, s));
  return b.create<math::FmaOp>(ef, f32(0.693359375f), low);
}

Value KernelEmitter::powF32(Value x, Value y) {
  // exp(y log |x|), with ONNX's (C's) signs and edges: a negative base
  // takes an integer exponent (odd: negative result), else NaN; 0^y is 0,
  // 1 or inf; x^0 is 1.
  Value ax = unaryValue(UnaryFn::Abs, x, 1);
  Value r = expF32(b.create<arith::MinimumFOp>(
      b.create<arith::MulFOp>(y, logF32(ax)), f32(88.0f)));
  Value yInt = b.create<arith::CmpFOp>(arith::CmpFPredicate::OEQ,
                                       b.create<math::RoundEvenOp>(y), y);
  Value odd = b.create<arith::AndIOp>(
      yInt, b.create<arith::CmpIOp>(
                arith::CmpIPredicate::ne,
                b.create<arith::AndIOp>(
                    b.create<arith::FPToSIOp>(b.getI32Type(),
                                              b.create<math::RoundEvenOp>(y)),
                    i32(1)),
                i32(0)));
  Value negative =
      b.create<arith::CmpFOp>(arith::CmpFPredicate::OLT, x, f32(0));
  Value signedR = b.create<arith::SelectOp>(odd, b.create<arith::NegFOp>(r), r);
  r = b.create<arith::SelectOp>(
      negative, b.create<arith::SelectOp>(yInt, signedR, f32(NAN)), r);
  Value zero = b.create<arith::CmpFOp>(arith::CmpFPredicate::OEQ, x, f32(0));
  Value atZero = b.create<arith::SelectOp>(
      b.create<arith::CmpFOp>(arith::CmpFPredicate::OGT, y, f32(0)), f32(0),
      f32(INFINITY));
  r = b.create<arith::SelectOp>(zero, atZero, r);
  return b.create<arith::SelectOp>(
      b.create<arith::CmpFOp>(arith::CmpFPredicate::OEQ, y, f32(0)), f32(1), r);
}

Value KernelEmitter::unaryValue(UnaryFn fn, Value v, int64_t w) {
  Value one = splat(f32(1), w);
  switch (fn) {
  case UnaryFn::Relu:
    return b.create<arith::MaximumFOp>(v, splat(f32(0), w));
  case UnaryFn::Sigmoid: // 1 / (1 + exp(-x))
    return b.create<arith::DivFOp>(
        one,
        b.create<arith::AddFOp>(one, expValue(b.create<arith::NegFOp>(v))));
  case UnaryFn::Tanh: // 1 - 2 / (exp(2x) + 1): exact at both ends
    return b.create<arith::SubFOp>(
        one, b.create<arith::DivFOp>(
                 splat(f32(2), w),
                 b.create<arith::AddFOp>(
                     expValue(b.create<arith::AddFOp>(v, v)), one)));
  case UnaryFn::Neg:
    return b.create<arith::NegFOp>(v);
  case UnaryFn::Abs:
    if (onGpu())
      return intrinsicF32("llvm.fabs.f32", v);
    return b.create<math::AbsFOp>(v);
  case UnaryFn::Sqrt:
    if (onGpu())
      return intrinsicF32("llvm.sqrt.f32", v);
    return b.create<math::SqrtOp>(v);
  case UnaryFn::Reciprocal:
    return b.create<arith::DivFOp>(one, v);
  case UnaryFn::Exp:
    return expValue(v);
  case UnaryFn::Round:
    return b.create<math::RoundEvenOp>(v);
  case UnaryFn::Erf: {
    // erfc(|x|) = t exp(-x^2 + P(t)), t = 1 / (1 + |x| / 2), relative
    // error below 1.2e-7; erf(x) = sign(x) (1 - erfc(|x|)).
    static const double coeffs[] = {
        -1.26551223, 1.00002368,  0.37409196, 0.09678418,  -0.18628806,
        0.27886807,  -1.13520398, 1.48851587, -0.82215223, 0.17087277};
    Value ax = unaryValue(UnaryFn::Abs, v, w);
    Value t = b.create<arith::DivFOp>(
        one, b.create<arith::AddFOp>(
                 one, b.create<arith::MulFOp>(ax, splat(f32(0.5f), w))));
    Value p = splat(f32(float(coeffs[9])), w);
    for (int i = 8; i >= 0; --i)
      p = b.create<arith::AddFOp>(b.create<arith::MulFOp>(p, t),
                                  splat(f32(float(coeffs[i])), w));
    Value erfc = b.create<arith::MulFOp>(
        t,
        expValue(b.create<arith::SubFOp>(p, b.create<arith::MulFOp>(ax, ax))));
    Value e = b.create<arith::SubFOp>(one, erfc);
    return b.create<arith::SelectOp>(
        b.create<arith::CmpFOp>(arith::CmpFPredicate::OLT, v, splat(f32(0), w)),
        b.create<arith::NegFOp>(e), e);
  }
  }
  llvm_unreachable("unknown unary function");
}

void KernelEmitter::lowerUnary(UnaryOp op) {
  Value x = in(op.getInput()), out = output(op.getResult());
  int64_t n = cast<MemRefType>(x.getType()).getDimSize(1);
  forEachToken(dim(x, 0), [&](Value t) {
    forEachLane(n, [&](Value j, int64_t w) {
      store(unaryValue(op.getFn(), load(x, {t, j}, w), w), out, {t, j});
    });
  });
}

Value KernelEmitter::binaryOperand(Value v, int64_t n, Value t, Value j,
                                   int64_t w) {
  // A rank-1 operand is one value per column, or one for all; one column
  // of activations is one value per row.
  auto type = cast<MemRefType>(v.getType());
  if (type.getRank() == 2 && type.getDimSize(1) == 1 && n != 1)
    return splat(b.create<memref::LoadOp>(v, ValueRange{t, idx(0)}), w);
  if (type.getRank() == 2)
    return load(v, {t, j}, w);
  if (type.getDimSize(0) == n)
    return load(v, {j}, w);
  return splat(b.create<memref::LoadOp>(v, ValueRange{idx(0)}), w);
}

Value KernelEmitter::binaryValue(BinaryFn fn, Value x, Value y) {
  switch (fn) {
  case BinaryFn::Add:
    return b.create<arith::AddFOp>(x, y);
  case BinaryFn::Sub:
    return b.create<arith::SubFOp>(x, y);
  case BinaryFn::Mul:
    return b.create<arith::MulFOp>(x, y);
  case BinaryFn::Div:
    return b.create<arith::DivFOp>(x, y);
  case BinaryFn::Pow:
    if (deviceCode())
      return powF32(x, y);
    return b.create<math::PowFOp>(x, y);
  case BinaryFn::Max:
    return b.create<arith::MaximumFOp>(x, y);
  case BinaryFn::Min:
    return b.create<arith::MinimumFOp>(x, y);
  }
  llvm_unreachable("unknown binary function");
}

void KernelEmitter::lowerBinary(BinaryOp op) {
  Value l = in(op.getLhs()), r = in(op.getRhs()), out = output(op.getResult());
  int64_t n = cast<MemRefType>(out.getType()).getDimSize(1);
  forEachToken(dim(out, 0), [&](Value t) {
    forEachLane(n, [&](Value j, int64_t w) {
      store(binaryValue(op.getFn(), binaryOperand(l, n, t, j, w),
                        binaryOperand(r, n, t, j, w)),
            out, {t, j});
    });
  });
}

void KernelEmitter::lowerReduce(ReduceOp op) {
  Value x = in(op.getInput()), out = output(op.getResult());
  int64_t n = cast<MemRefType>(x.getType()).getDimSize(1);
  ReduceFn fn = op.getFn();
  forEachToken(dim(x, 0), [&](Value t) {
    auto element = [&](Value j, int64_t w) { return load(x, {t, j}, w); };
    Value y =
        fn == ReduceFn::Max
            ? reduceLanes(n, vector::CombiningKind::MAXIMUMF,
                          f32(-std::numeric_limits<float>::infinity()), element)
            : reduceLanes(n, vector::CombiningKind::ADD, f32(0), element);
    if (fn == ReduceFn::Mean)
      y = b.create<arith::DivFOp>(y, f32(float(n)));
    b.create<memref::StoreOp>(y, out, ValueRange{t, idx(0)});
  });
}
