//===- InterpreterProducts.cpp - ONNX matrix products ---------------------===//
//
// MatMul, Gemm, MatMulInteger and com.microsoft.MatMulNBits, and the [K, N]
// weight each multiplies by (matmulWeight), which the recogniser reads.
//
//===----------------------------------------------------------------------===//

#include "Interpreter.h"

using namespace mlir::tern::onnx_frontend;
using namespace mlir::tern::onnx_frontend::interp;

Expected<Tensor> Node::matmul(const Tensor &a, const Tensor &b) {
  if (a.rank() < 1 || b.rank() < 1)
    return bad("needs inputs of rank 1 or more");
  // Vectors act as [1, k] and [k, 1], and lose that dimension again.
  bool va = a.rank() == 1, vb = b.rank() == 1;
  int64_t m = va ? 1 : a.shape[a.rank() - 2], k = a.shape.back(),
          k2 = vb ? b.shape[0] : b.shape[b.rank() - 2],
          nn = vb ? 1 : b.shape.back();
  if (k != k2)
    return bad("inner dimensions differ: " + shapeString(a.shape) + " x " +
               shapeString(b.shape));
  std::vector<int64_t> ba(a.shape.begin(), a.shape.end() - (va ? 1 : 2)),
      bb(b.shape.begin(), b.shape.end() - (vb ? 1 : 2));
  auto batch = broadcast(ba, bb);
  if (!batch)
    return bad(llvm::toString(batch.takeError()));
  std::vector<int64_t> ia = broadcastIndex(ba, *batch),
                       ib = broadcastIndex(bb, *batch);
  std::vector<int64_t> shape = *batch;
  if (!va)
    shape.push_back(m);
  if (!vb)
    shape.push_back(nn);
  if (auto size = fits(shape); !size)
    return size.takeError();
  bool isFloat = a.isFloat();
  // All rows of A times B, a row of B at a time (the weight is read once,
  // in order, whatever its storage).
  std::vector<float> outF, w(isFloat ? nn : 0);
  std::vector<int64_t> outI, wi(isFloat ? 0 : nn);
  if (isFloat)
    outF.resize(ia.size() * m * nn);
  else
    outI.resize(ia.size() * m * nn);
  for (size_t p = 0; p < ia.size(); ++p) {
    int64_t offA = ia[p] * m * k, offB = ib[p] * k * nn;
    for (int64_t j = 0; j < k; ++j) {
      if (isFloat)
        b.f.read(offB + j * nn, nn, w.data());
      else
        b.i.read(offB + j * nn, nn, wi.data());
      for (int64_t r = 0; r < m; ++r) {
        int64_t row = (p * m + r) * nn;
        if (isFloat) {
          float x = a.f[offA + r * k + j];
          for (int64_t c = 0; c < nn; ++c)
            outF[row + c] += x * w[c];
        } else {
          int64_t x = a.i[offA + r * k + j];
          for (int64_t c = 0; c < nn; ++c)
            outI[row + c] = addWrap(outI[row + c], mulWrap(x, wi[c]));
        }
      }
    }
  }
  if (isFloat)
    return Tensor::floats(shape, std::move(outF));
  for (int64_t &v : outI)
    v = wrap(T::INT32, v);
  return Tensor::ints(T::INT32, shape, std::move(outI));
}

/// com.microsoft.MatMulNBits' B as the [K, N] matrix it stands for: B^T
/// stored as `bits`-bit codes in blocks along K, each block with a scale and
/// a zero point (default 2^(bits-1)).
Expected<Tensor> Node::nbitsWeight() {
  auto b = need(1), scales = need(2);
  if (!b || !scales)
    return bad("needs A, B and scales");
  int64_t K = attrInt("K", 0), N = attrInt("N", 0), bits = attrInt("bits", 4),
          block = attrInt("block_size", 0);
  if (bits != 2 && bits != 4 && bits != 8)
    return bad(
        llvm::formatv("bits={0} is not supported (2, 4, 8 are)", bits).str());
  if (K <= 0 || N <= 0 || block <= 0 || block % (8 / bits))
    return bad("needs positive K, N and block_size");
  int64_t blocks = (K - 1) / block + 1, perByte = 8 / bits;
  int64_t blockBytes = block / perByte, scaleCount, byteCount;
  if (__builtin_mul_overflow(N, blocks, &scaleCount) ||
      __builtin_mul_overflow(scaleCount, blockBytes, &byteCount) ||
      b->size() != byteCount || scales->size() != scaleCount)
    return bad("B or scales do not match K, N, bits and block_size");
  // Every code of B is read: K * N is at most perByte times B's size.
  if (auto size = fits({K, N}, b->size() * perByte); !size)
    return size.takeError();
  if (input(3) && input(3)->size())
    return bad("explicit zero points are not supported");
  int64_t zp = int64_t(1) << (bits - 1);
  std::vector<float> w(K * N);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t k = 0; k < K; ++k) {
      int64_t blk = k / block, within = k % block;
      int64_t byte = b->i[(r * blocks + blk) * blockBytes + within / perByte];
      int64_t code = (byte >> ((within % perByte) * bits)) & ((1 << bits) - 1);
      w[k * N + r] = float(code - zp) * scales->f[r * blocks + blk];
    }
  Tensor t = Tensor::floats({K, N}, std::move(w));
  t.f.compact();
  return t;
}

Expected<Tensor> Node::matmulNBits() {
  auto a = need(0);
  auto w = nbitsWeight();
  if (!a || !w)
    return a ? w.takeError() : a.takeError();
  return matmul(*a, *w);
}

/// The [K, N] matrix a matmul-like node multiplies its first input by.
Expected<Tensor> Node::weight() {
  StringRef op = n.op_type();
  if (Error e = checkKinds())
    return std::move(e);
  if (op == "MatMulNBits")
    return nbitsWeight();
  auto b = need(1);
  if (!b)
    return b.takeError();
  if (b->rank() != 2)
    return bad("has a weight of rank " + std::to_string(b->rank()) + ", not 2");
  Tensor w = *b;
  if (op == "MatMulInteger") {
    double zp = 0;
    if (input(3)) {
      auto v = first(3);
      if (!v)
        return v.takeError();
      zp = *v;
    }
    std::vector<float> values(b->size());
    for (int64_t k = 0, size = b->size(); k < size; ++k)
      values[k] = float(double(b->i[k]) - zp);
    w = Tensor::floats(b->shape, std::move(values));
  } else if (op == "Gemm") {
    if (attrInt("transB", 0)) {
      auto t = transpose(*b, {1, 0});
      if (!t)
        return t.takeError();
      w = *t;
    }
    if (float alpha = attrFloat("alpha", 1); alpha != 1)
      for (float &v : w.f.values())
        v *= alpha;
  } else if (op != "MatMul") {
    return bad("is not a matrix product");
  }
  if (!w.isFloat())
    return bad("has an integer weight");
  return w;
}

Expected<Tensor> Node::gemm() {
  auto a = need(0), b = need(1);
  if (!a || !b)
    return bad("needs A and B");
  Tensor ta = *a, tb = *b;
  if (attrInt("transA", 0)) {
    auto t = transpose(*a, {1, 0});
    if (!t)
      return t.takeError();
    ta = *t;
  }
  if (attrInt("transB", 0)) {
    auto t = transpose(*b, {1, 0});
    if (!t)
      return t.takeError();
    tb = *t;
  }
  auto y = matmul(ta, tb);
  if (!y)
    return y.takeError();
  float alpha = attrFloat("alpha", 1), beta = attrFloat("beta", 1);
  std::vector<float> &out = y->f.values();
  for (float &v : out)
    v *= alpha;
  if (const Tensor *c = input(2)) {
    auto shape = broadcast(c->shape, y->shape);
    bool fits = shape && *shape == y->shape;
    if (!shape)
      llvm::consumeError(shape.takeError());
    if (!fits)
      return bad("has a C " + shapeString(c->shape) +
                 " that does not broadcast to " + shapeString(y->shape));
    std::vector<int64_t> ic = broadcastIndex(c->shape, y->shape);
    for (size_t k = 0; k < ic.size(); ++k)
      out[k] += beta * c->f[ic[k]];
  }
  return y;
}
