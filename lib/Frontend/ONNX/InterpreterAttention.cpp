//===- InterpreterAttention.cpp - opset 23's transformer ops -------------===//
//
// RMSNormalization, RotaryEmbedding and Attention, which torch's dynamo
// exporter writes from opset 23 on, as the ONNX reference defines them
// (onnx/reference/ops): the probe run computes them so that the recogniser
// can check the parts built on them.
//
//===----------------------------------------------------------------------===//

#include "Interpreter.h"

#include <cmath>

using namespace mlir::tern::onnx_frontend;
using namespace mlir::tern::onnx_frontend::interp;

Expected<Tensor> Node::rmsNormalization() {
  auto x = need(0), scale = need(1);
  if (!x || !scale)
    return bad("needs X and scale");
  int64_t rank = x->rank(), axis = normAxis(attrInt("axis", -1), rank);
  if (axis < 0 || axis >= rank)
    return bad("axis out of range");
  int64_t inner = 1;
  for (int64_t d = axis; d < rank; ++d)
    inner *= x->shape[d];
  // The scale broadcasts over the normalized block from the right.
  if (!scale->size() || inner % scale->size())
    return bad("has a scale " + shapeString(scale->shape) +
               " that does not broadcast to the normalized " +
               std::to_string(inner) + " elements");
  double eps = attrFloat("epsilon", 1e-5f);
  if (inner == 0)
    return *x;
  Tensor out = *x;
  std::vector<float> &v = out.f.values();
  for (int64_t o = 0, rows = x->size() / inner; o < rows; ++o) {
    float *row = v.data() + o * inner;
    double ss = 0;
    for (int64_t j = 0; j < inner; ++j)
      ss += double(row[j]) * row[j];
    float inv = float(1.0 / std::sqrt(ss / inner + eps));
    for (int64_t j = 0; j < inner; ++j)
      row[j] = row[j] * inv * scale->f[j % scale->size()];
  }
  return out;
}

Expected<Tensor> Node::rotaryEmbedding() {
  auto x = need(0), cos = need(1), sin = need(2);
  if (!x || !cos || !sin)
    return bad("needs X, cos_cache and sin_cache");
  if (cos->shape != sin->shape)
    return bad("needs cos/sin caches of one shape");
  // Positions of X as [batch, seq, heads, head_size] (strides of each).
  int64_t batch = x->shape.empty() ? 0 : x->shape[0], seq, heads, size;
  int64_t sBatch, sSeq, sHead;
  if (x->rank() == 4) { // [batch, heads, seq, head_size]
    heads = x->shape[1], seq = x->shape[2], size = x->shape[3];
    sHead = seq * size, sSeq = size, sBatch = heads * seq * size;
  } else if (x->rank() == 3) { // [batch, seq, heads * head_size]
    heads = attrInt("num_heads", 0);
    if (heads <= 0 || x->shape[2] % heads)
      return bad("needs num_heads dividing the hidden size for 3-D input");
    seq = x->shape[1], size = x->shape[2] / heads;
    sHead = size, sSeq = heads * size, sBatch = seq * heads * size;
  } else {
    return bad("needs an input of rank 3 or 4");
  }
  int64_t dim = attrInt("rotary_embedding_dim", 0);
  if (dim == 0)
    dim = size;
  int64_t half = dim / 2;
  if (dim % 2 || dim > size || cos->shape.empty() || cos->shape.back() != half)
    return bad(llvm::formatv("has cos/sin caches {0} for a rotary dimension "
                             "of {1}",
                             shapeString(cos->shape), dim)
                   .str());
  // The cache row of (batch b, position s): by position id, or per token.
  const Tensor *ids = input(3);
  if (ids ? cos->rank() != 2 : cos->rank() != 3)
    return bad("needs caches [positions, dim/2] with position_ids, "
               "[batch, seq, dim/2] without");
  if (!ids && (cos->shape[0] != batch || cos->shape[1] != seq))
    return bad("has caches " + shapeString(cos->shape) + " for input " +
               shapeString(x->shape));
  if (ids && ids->size() != batch * seq)
    return bad("has position_ids " + shapeString(ids->shape) + " for input " +
               shapeString(x->shape));
  bool interleaved = attrInt("interleaved", 0);
  Tensor out = *x;
  std::vector<float> &v = out.f.values();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      int64_t row = b * seq + s;
      if (ids) {
        row = ids->i[b * seq + s];
        if (row < 0 || row >= cos->shape[0])
          return bad(llvm::formatv("position id {0} is outside the caches' "
                                   "{1} rows",
                                   row, cos->shape[0])
                         .str());
      }
      for (int64_t h = 0; h < heads; ++h) {
        int64_t base = b * sBatch + s * sSeq + h * sHead;
        for (int64_t i = 0; i < half; ++i) {
          int64_t a = base + (interleaved ? 2 * i : i),
                  c = base + (interleaved ? 2 * i + 1 : i + half);
          float x1 = x->f[a], x2 = x->f[c];
          float co = cos->f[row * half + i], si = sin->f[row * half + i];
          v[a] = co * x1 - si * x2;
          v[c] = si * x1 + co * x2;
        }
      }
    }
  return out;
}

Expected<std::vector<Tensor>> Node::attention() {
  auto q = need(0), k = need(1), v = need(2);
  if (!q || !k || !v)
    return bad("needs Q, K and V");
  if (input(6))
    return bad("has nonpad_kv_seqlen, which Tern does not support");
  if (n.output_size() > 3 && !n.output(3).empty())
    return bad("asks for qk_matmul_output, which Tern does not support");
  for (StringRef name : {"left_window_size", "right_window_size"})
    if (attrInt(name, -1) >= 0)
      return bad("has a sliding window, which Tern does not support");
  if (q->rank() != k->rank() || q->rank() != v->rank() ||
      (q->rank() != 3 && q->rank() != 4))
    return bad("needs Q, K and V all of rank 3 or all of rank 4");
  // Everything as [batch, heads, seq, size].
  auto heads4 = [&](const Tensor &t, int64_t heads) -> Expected<Tensor> {
    if (t.rank() == 4)
      return t;
    if (heads <= 0 || t.shape[2] % heads)
      return bad("needs q_num_heads and kv_num_heads for 3-D inputs");
    auto r = reshape(t, {t.shape[0], t.shape[1], heads, t.shape[2] / heads});
    if (!r)
      return r.takeError();
    return transpose(*r, {0, 2, 1, 3});
  };
  auto Q = heads4(*q, attrInt("q_num_heads", 0)),
       K = heads4(*k, attrInt("kv_num_heads", 0)),
       V = heads4(*v, attrInt("kv_num_heads", 0));
  if (!Q || !K || !V)
    return !Q ? Q.takeError() : !K ? K.takeError() : V.takeError();
  // The cache: past, then new, along the sequence.
  int64_t past = 0;
  if (input(4) || input(5)) {
    const Tensor *pk = input(4), *pv = input(5);
    if (!pk || !pv || pk->rank() != 4 || pv->rank() != 4 || !pk->isFloat() ||
        !pv->isFloat())
      return bad("needs past_key and past_value together, both of rank 4");
    past = pk->shape[2];
    for (auto [cur, old] : {std::pair(&*K, pk), std::pair(&*V, pv)}) {
      if (old->shape[0] != cur->shape[0] || old->shape[1] != cur->shape[1] ||
          old->shape[3] != cur->shape[3])
        return bad("has a past " + shapeString(old->shape) +
                   " that does not fit " + shapeString(cur->shape));
      int64_t rows = cur->shape[0] * cur->shape[1], size = cur->shape[3],
              a = old->shape[2], c = cur->shape[2];
      std::vector<float> joined;
      joined.reserve(rows * (a + c) * size);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t k = 0; k < a * size; ++k)
          joined.push_back(old->f[r * a * size + k]);
        for (int64_t k = 0; k < c * size; ++k)
          joined.push_back(cur->f[r * c * size + k]);
      }
      *cur = Tensor::floats({cur->shape[0], cur->shape[1], a + c, size},
                            std::move(joined));
    }
  }
  int64_t B = Q->shape[0], H = Q->shape[1], S = Q->shape[2], d = Q->shape[3],
          Hkv = K->shape[1], L = K->shape[2], dv = V->shape[3];
  if (K->shape[0] != B || V->shape[0] != B || K->shape[3] != d ||
      V->shape[1] != Hkv || V->shape[2] != L || !Hkv || H % Hkv)
    return bad("has Q " + shapeString(Q->shape) + ", K " +
               shapeString(K->shape) + " and V " + shapeString(V->shape) +
               " that do not fit together");
  float scale = attrFloat("scale", 0);
  if (scale == 0)
    scale = 1.0f / std::sqrt(float(d));
  float softcap = attrFloat("softcap", 0);
  bool causal = attrInt("is_causal", 0);
  // The mask broadcasts to [B, H, S, L] from the right; a shorter last
  // dimension leaves the rest masked.
  const Tensor *mask = input(3);
  std::vector<int64_t> mshape;
  if (mask) {
    if (mask->rank() < 1 || mask->rank() > 4)
      return bad("has an attn_mask of rank " + std::to_string(mask->rank()));
    mshape = mask->shape;
    mshape.insert(mshape.begin(), 4 - mask->rank(), 1);
    int64_t full[] = {B, H, S, L};
    for (int d = 0; d < 3; ++d)
      if (mshape[d] != 1 && mshape[d] != full[d])
        return bad("has an attn_mask " + shapeString(mask->shape) +
                   " that does not broadcast to " + shapeString(full));
    if (mshape[3] > L)
      return bad("has an attn_mask longer than the keys");
  }
  auto maskBias = [&](int64_t b, int64_t h, int64_t i, int64_t j) -> float {
    if (!mask)
      return 0;
    if (j >= mshape[3])
      return -INFINITY;
    int64_t at =
        (((mshape[0] > 1 ? b : 0) * mshape[1] + (mshape[1] > 1 ? h : 0)) *
             mshape[2] +
         (mshape[2] > 1 ? i : 0)) *
            mshape[3] +
        j;
    if (!mask->isFloat())
      return mask->i[at] ? 0.0f : -INFINITY;
    return mask->f[at];
  };
  auto outSize = fits({B, H, S, dv});
  if (!outSize)
    return outSize.takeError();
  std::vector<float> y(*outSize, 0.0f), w(L);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      int64_t g = h / (H / Hkv);
      for (int64_t i = 0; i < S; ++i) {
        float mx = -INFINITY;
        for (int64_t j = 0; j < L; ++j) {
          float s = 0;
          for (int64_t e = 0; e < d; ++e)
            s += Q->f[((b * H + h) * S + i) * d + e] *
                 K->f[((b * Hkv + g) * L + j) * d + e];
          s *= scale;
          if (softcap > 0)
            s = softcap * std::tanh(s / softcap);
          s += maskBias(b, h, i, j);
          if (causal && j > i + past)
            s = -INFINITY;
          w[j] = s;
          mx = std::max(mx, s);
        }
        if (mx == -INFINITY)
          continue; // no key to attend: zeros, as the reference
        float sum = 0;
        for (float &x : w)
          sum += x = std::exp(x - mx);
        float *out = y.data() + ((b * H + h) * S + i) * dv;
        for (int64_t j = 0; j < L; ++j)
          for (int64_t e = 0; e < dv; ++e)
            out[e] += w[j] / sum * V->f[((b * Hkv + g) * L + j) * dv + e];
      }
    }
  Tensor Y = Tensor::floats({B, H, S, dv}, std::move(y));
  if (q->rank() == 3) {
    auto t = transpose(Y, {0, 2, 1, 3});
    if (!t)
      return t.takeError();
    auto r = reshape(*t, {B, S, H * dv});
    if (!r)
      return r.takeError();
    Y = std::move(*r);
  }
  std::vector<Tensor> outs{std::move(Y)};
  if (n.output_size() > 1)
    outs.push_back(std::move(*K));
  if (n.output_size() > 2)
    outs.push_back(std::move(*V));
  return outs;
}
