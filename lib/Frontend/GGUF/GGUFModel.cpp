//===- GGUFModel.cpp - BitNet b1.58 GGUF files (SPEC.md section 7) -------===//
//
// Architectures bitnet-b1.58 and bitnet-25 (bitnet.cpp; relu2), bitnet
// (llama.cpp; SiLU, optional per-tensor `.scale` multipliers) and llama
// (the Llama-architecture BitNets as bitnet.cpp and llama.cpp convert them:
// no sub-norms, q/k rows permuted for ggml's interleaved RoPE, which the
// reader undoes). Metadata gives the BitNetConfig; tensors are served by
// Hugging Face name, mapped to GGUF names (blk.N.attn_q.weight, ...), and
// must have the ggml dims {in_features, out_features}.
//
// Ternary weights become one trit per byte plus a per-tensor scale:
//   I2_S   2-bit codes in 128-element blocks (x86 layout; 64-element blocks
//          with --i2s-layout=arm), f32 scale in the tail (SPEC 7.5);
//   TQ2_0, TQ1_0  256-element blocks with an f16 d each; for a BitNet
//          tensor every non-zero block has the same d, the scale (7.6-7.7);
//   F32, F16, BF16  the weight_quant output T * m of mainline converters:
//          m = max|w|, T = round(w / m) (7.8).
//   Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K  what llama-quantize
//          falls back to where a ternary type does not fit: no longer exactly
//          ternary, re-ternarized (absmean trits, least-squares scale) with a
//          warning (docs/Models.md, GGUF).
// The embedding (and an untied output.weight) stay F32, F16 or BF16 views
// of the mapped file; tables in the block formats above become f32.
//
//===----------------------------------------------------------------------===//

#include "GGUFFile.h"

#include "Tern/IR/PackedLayouts.h"
#include "Tern/IR/WeightData.h"
#include "tern/Frontend/BitNetModel.h"
#include "tern/Frontend/Import.h"
#include "tern/Frontend/Limits.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::tern;

namespace {

/// The GGUF name of a Hugging Face tensor name (BitNetModel's names).
std::string ggufName(StringRef hf) {
  if (hf == "model.embed_tokens.weight")
    return "token_embd.weight";
  if (hf == "lm_head.weight")
    return "output.weight";
  if (hf == "model.norm.weight")
    return "output_norm.weight";
  StringRef rest = hf;
  if (!rest.consume_front("model.layers."))
    return hf.str();
  auto [layer, part] = rest.split('.');
  static const std::pair<StringRef, StringRef> names[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.attn_sub_norm.weight", "attn_sub_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"mlp.ffn_sub_norm.weight", "ffn_sub_norm.weight"}};
  for (auto [from, to] : names)
    if (part == from)
      return ("blk." + layer + "." + to).str();
  return hf.str();
}

class GGUFSource : public WeightSource {
public:
  /// `headDim` and the head counts undo llama.cpp's q/k permutation when
  /// `unpermute` (architecture llama).
  GGUFSource(MLIRContext *ctx, const GGUFFile &file, bool armI2S,
             const BitNetConfig &config, bool unpermute)
      : ctx(ctx), file(file), armI2S(armI2S), config(config),
        unpermute(unpermute) {}

  FailureOr<LinearWeight> linear(OpBuilder &b, StringRef name, int64_t n,
                                 int64_t k) override;
  FailureOr<Value> vector(OpBuilder &b, StringRef name, int64_t n) override;
  FailureOr<Value> table(OpBuilder &b, StringRef name, int64_t rows,
                         int64_t cols) override;

private:
  const GGUFTensor *find(StringRef hfName) {
    std::string name = ggufName(hfName);
    const GGUFTensor *t = file.tensor(name);
    if (!t)
      reportFrontendError(ctx, file.getPath(), "missing tensor '" + name + "'");
    return t;
  }
  LogicalResult bad(const GGUFTensor &t, const llvm::Twine &message) {
    reportFrontendError(ctx, file.getPath(),
                        "tensor '" + t.name + "': " + message);
    return failure();
  }
  bool hasDims(const GGUFTensor &t, ArrayRef<uint64_t> dims) {
    return ArrayRef<uint64_t>(t.dims) == dims;
  }
  Type floatType(uint32_t type) {
    switch (GGMLType(type)) {
    case GGMLType::F32:
      return Float32Type::get(ctx);
    case GGMLType::F16:
      return Float16Type::get(ctx);
    case GGMLType::BF16:
      return BFloat16Type::get(ctx);
    default:
      return {};
    }
  }
  /// The little-endian f16 at `p` (ggml block scales).
  float half(const uint8_t *p) {
    float v;
    convertToF32(Float16Type::get(ctx), reinterpret_cast<const char *>(p), 1,
                 &v);
    return v;
  }
  /// The values of `t`, in one of the block formats (isDequantizedType),
  /// as f32.
  void dequantize(const GGUFTensor &t, float *y, int64_t count);
  /// Decodes `t` ([n, k], row-major) into trits; returns the scale.
  FailureOr<float> decodeTernary(const GGUFTensor &t, int64_t n, int64_t k,
                                 MutableArrayRef<char> trits);
  /// Ternary values of a float matrix that is not exactly ternary: absmean
  /// trits and the least-squares scale.
  float reternarize(ArrayRef<float> w, MutableArrayRef<char> trits);
  /// Puts back the rows llama.cpp's converter permuted (q and k of `llama`
  /// files): stored row h*d + 2i + j is row h*d + j*d/2 + i.
  void unpermuteRows(MutableArrayRef<char> trits, int64_t n, int64_t k);
  bool fileMapped() const {
    return file.getBuffer()->getBufferKind() ==
           llvm::MemoryBuffer::MemoryBuffer_MMap;
  }

public:
  /// BitLinear weights read from a block format (re-ternarized).
  std::vector<const GGUFTensor *> reternarized;

private:
  MLIRContext *ctx;
  const GGUFFile &file;
  bool armI2S; ///< I2_S in bitnet.cpp's ARM layout (64-element blocks)
  const BitNetConfig &config;
  bool unpermute;
};

FailureOr<float> GGUFSource::decodeTernary(const GGUFTensor &t, int64_t n,
                                           int64_t k,
                                           MutableArrayRef<char> trits) {
  const uint8_t *q = reinterpret_cast<const uint8_t *>(t.data.data());
  int64_t count = n * k;
  switch (GGMLType(t.type)) {
  case GGMLType::I2_S: {
    // A block of 4 * lanes codes takes `lanes` bytes; code j of a block is
    // in byte j % lanes, at bits 6 - 2 * (j / lanes).
    int64_t lanes = armI2S ? 16 : 32;
    if (count % (4 * lanes))
      return bad(
          t, llvm::formatv("I2_S needs a multiple of {0} elements", 4 * lanes));
    for (int64_t e = 0; e < count; ++e) {
      int64_t blk = e / (4 * lanes), j = e % (4 * lanes);
      int code = (q[lanes * blk + j % lanes] >> (6 - 2 * (j / lanes))) & 3;
      if (code == 3)
        return bad(t, llvm::formatv("element {0} has the I2_S code 3, which "
                                    "is no trit",
                                    e));
      trits[e] = char(code - 1);
    }
    float scale;
    std::memcpy(&scale, t.data.data() + count / 4, 4);
    return scale;
  }
  case GGMLType::TQ2_0:
  case GGMLType::TQ1_0: {
    bool tq2 = GGMLType(t.type) == GGMLType::TQ2_0;
    int64_t blockBytes = tq2 ? 66 : 54;
    std::optional<float> scale;
    for (int64_t blk = 0; blk < count / 256; ++blk) {
      const uint8_t *bq = q + blk * blockBytes;
      float d = half(bq + blockBytes - 2);
      char *out = trits.data() + blk * 256;
      if (d == 0) { // an all-zero block
        std::memset(out, 0, 256);
        continue;
      }
      if (scale && d != *scale)
        return bad(t, llvm::formatv("blocks have different scales ({0} and "
                                    "{1}); a BitNet tensor has one",
                                    *scale, d));
      scale = d;
      if (tq2) {
        for (int e = 0; e < 256; ++e) {
          int c = e / 128, r = e % 128;
          out[e] = char(((bq[32 * c + r % 32] >> (2 * (r / 32))) & 3) - 1);
        }
        continue;
      }
      // TQ1_0: 5 trits per byte (4 in qh), most significant first.
      auto trit = [](uint8_t byte, int i) {
        static const uint8_t pow3[] = {1, 3, 9, 27, 81};
        return char(((uint16_t(uint8_t(byte * pow3[i])) * 3) >> 8) - 1);
      };
      for (int m = 0; m < 32; ++m)
        for (int i = 0; i < 5; ++i)
          out[m + 32 * i] = trit(bq[m], i);
      for (int m = 0; m < 16; ++m)
        for (int i = 0; i < 5; ++i)
          out[160 + m + 16 * i] = trit(bq[32 + m], i);
      for (int j = 0; j < 4; ++j)
        for (int i = 0; i < 4; ++i)
          out[240 + j + 4 * i] = trit(bq[48 + j], i);
    }
    return scale.value_or(1.0f);
  }
  default: { // T * m as floats (mainline converters)
    std::vector<float> w(count);
    bool blocks = isDequantizedType(t.type);
    if (blocks)
      dequantize(t, w.data(), count);
    else
      convertToF32(floatType(t.type), t.data.data(), count, w.data());
    for (int64_t e = 0; e < count; ++e)
      if (!std::isfinite(w[e]))
        return bad(t, llvm::formatv("element {0} is {1}: weights must be "
                                    "finite",
                                    e, w[e]));
    if (blocks) {
      reternarized.push_back(&t);
      return reternarize(w, trits);
    }
    float m = 0;
    for (float x : w)
      m = std::max(m, std::fabs(x));
    for (int64_t e = 0; e < count; ++e) {
      float r = m > 0 ? std::nearbyint(w[e] / m) : 0.0f;
      if (m > 0 && std::fabs(w[e] - r * m) > 1e-2f * m)
        return bad(t, llvm::formatv("element {0} is {1}, not a multiple of "
                                    "the tensor's largest magnitude {2}: "
                                    "not ternary weights",
                                    e, w[e], m));
      trits[e] = char(r);
    }
    return m > 0 ? m : 1.0f;
  }
  }
}

float GGUFSource::reternarize(ArrayRef<float> w, MutableArrayRef<char> trits) {
  // Trits by SPEC 2.1's absmean. The scale is the largest magnitude: for
  // T * m quantized by a block format that value survives exactly (Q8_0,
  // Q4_1 and Q5_1 keep both signs' m; Q4_0 and Q5_0 the sign of each
  // block's first extreme, the other becoming 7/8 or 15/16 of it), so the
  // model's own T and m come back.
  double sum = 0;
  float largest = 0;
  for (float x : w) {
    sum += std::fabs(x);
    largest = std::max(largest, std::fabs(x));
  }
  float m = std::max(float(sum / double(w.size())), 1e-5f);
  for (size_t e = 0; e < w.size(); ++e)
    trits[e] = char(std::clamp(std::nearbyint(w[e] / m), -1.0f, 1.0f));
  return largest > 0 ? largest : 1.0f;
}

void GGUFSource::unpermuteRows(MutableArrayRef<char> trits, int64_t n,
                               int64_t k) {
  int64_t d = config.headDim, half = d / 2;
  std::vector<char> head(d * k);
  for (int64_t h = 0; h < n / d; ++h) {
    char *rows = trits.data() + h * d * k;
    std::memcpy(head.data(), rows, d * k);
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(rows + (j * half + i) * k, head.data() + (2 * i + j) * k,
                    k);
  }
}

FailureOr<LinearWeight> GGUFSource::linear(OpBuilder &b, StringRef name,
                                           int64_t n, int64_t k) {
  const GGUFTensor *t = find(name);
  if (!t)
    return failure();
  if (!hasDims(*t, {uint64_t(k), uint64_t(n)}))
    return bad(*t, "dims " + t->dimsString() + ", but the metadata implies " +
                       llvm::formatv("{{{0}, {1}}", k, n) +
                       " (in_features, out_features)");
  GGMLType type = GGMLType(t->type);
  if (type != GGMLType::I2_S && type != GGMLType::TQ2_0 &&
      type != GGMLType::TQ1_0 && !floatType(t->type) &&
      !isDequantizedType(t->type))
    return bad(*t, ggmlTypeName(t->type) +
                       " is not a weight type Tern reads (I2_S, TQ2_0, "
                       "TQ1_0, F32/F16/BF16 holding T * scale, or a block "
                       "format it re-ternarizes: Q4_0, Q4_1, Q5_0, Q5_1, "
                       "Q8_0, Q4_K, Q5_K, Q6_K)");
  bool permuted =
      unpermute && (StringRef(t->name).ends_with(".attn_q.weight") ||
                    StringRef(t->name).ends_with(".attn_k.weight"));
  // One matrix of trits at a time, kept as four per byte (hf_rows, as a
  // 2B4T checkpoint's) until packing: one byte each for all weights would
  // be 8 GB for an 8B model.
  bool fourPerByte = n % 4 == 0;
  auto i8 = IntegerType::get(ctx, 8);
  auto tritType = RankedTensorType::get(
      {n, k}, TritType::get(ctx),
      fourPerByte ? PackedAttr::get(ctx, PackedLayout::HFRows) : Attribute());
  auto storage =
      fourPerByte
          ? RankedTensorType::get({layouts::hf_rows::numBytes(n, k)}, i8)
          : RankedTensorType::get({n, k}, i8);
  FailureOr<float> scale = failure();
  WeightOp weight =
      createWeight(b, b.getUnknownLoc(), t->name, tritType, storage,
                   [&](MutableArrayRef<char> out) {
                     std::vector<char> matrix(fourPerByte ? n * k : 0);
                     MutableArrayRef<char> trits =
                         fourPerByte ? MutableArrayRef<char>(matrix) : out;
                     scale = decodeTernary(*t, n, k, trits);
                     if (failed(scale))
                       return;
                     if (permuted)
                       unpermuteRows(trits, n, k);
                     if (fourPerByte)
                       layouts::hf_rows::encode(trits, n, k, out);
                     if (fileMapped())
                       dropMappedPages(t->data);
                   });
  if (failed(scale)) {
    weight.erase();
    return failure();
  }
  // Mainline bitnet files may multiply the output by blk.N.x.scale.
  std::string scaleName =
      (StringRef(t->name).drop_back(strlen("weight")) + "scale").str();
  if (const GGUFTensor *s = file.tensor(scaleName)) {
    if (GGMLType(s->type) != GGMLType::F32 || s->numElements() != 1)
      return bad(*s, "must be one F32 value, got " + ggmlTypeName(s->type) +
                         " " + s->dimsString());
    float extra;
    std::memcpy(&extra, s->data.data(), 4);
    *scale *= extra;
  }
  if (!std::isfinite(*scale) || *scale <= 0)
    return bad(*t, llvm::formatv("scale {0}; a weight scale must be positive "
                                 "and finite",
                                 *scale));
  return LinearWeight{weight.getResult(), *scale};
}

FailureOr<Value> GGUFSource::vector(OpBuilder &b, StringRef name, int64_t n) {
  const GGUFTensor *t = find(name);
  if (!t)
    return failure();
  Type elem = floatType(t->type);
  if (!elem || !hasDims(*t, {uint64_t(n)}))
    return bad(*t, llvm::formatv("expected a float vector {{{0}}, got {1} {2}",
                                 n, ggmlTypeName(t->type), t->dimsString()));
  auto type = RankedTensorType::get({n}, b.getF32Type());
  return createWeight(b, b.getUnknownLoc(), t->name, type, type,
                      [&](MutableArrayRef<char> out) {
                        convertToF32(elem, t->data.data(), n,
                                     reinterpret_cast<float *>(out.data()));
                      })
      .getResult();
}

FailureOr<Value> GGUFSource::table(OpBuilder &b, StringRef name, int64_t rows,
                                   int64_t cols) {
  const GGUFTensor *t = find(name);
  if (!t)
    return failure();
  if (!hasDims(*t, {uint64_t(cols), uint64_t(rows)}))
    return bad(*t, "dims " + t->dimsString() + ", but the metadata implies " +
                       llvm::formatv("{{{0}, {1}}", cols, rows));
  Type elem = floatType(t->type);
  if (elem) {
    auto type = RankedTensorType::get({rows, cols}, elem);
    return createViewWeight(b, b.getUnknownLoc(), t->name, type, type, t->data,
                            file.getBuffer())
        .getResult();
  }
  if (!isDequantizedType(t->type))
    return bad(*t, ggmlTypeName(t->type) +
                       " is not a table type Tern reads (F32, F16, BF16, "
                       "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)");
  // Quantized tables become f32 (exact products, in ggml's order).
  auto type = RankedTensorType::get({rows, cols}, b.getF32Type());
  return createWeight(b, b.getUnknownLoc(), t->name, type, type,
                      [&](MutableArrayRef<char> out) {
                        dequantize(*t, reinterpret_cast<float *>(out.data()),
                                   rows * cols);
                      })
      .getResult();
}

/// Q4_K's and Q5_K's 6-bit scale and min of sub-block `j` (ggml's
/// get_scale_min_k4).
static void scaleMinK4(int j, const uint8_t *q, int &sc, int &m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void GGUFSource::dequantize(const GGUFTensor &t, float *y, int64_t count) {
  // ggml's dequantize_row_* (ggml-quants.c), in the same float operations.
  const uint8_t *p = reinterpret_cast<const uint8_t *>(t.data.data());
  switch (GGMLType(t.type)) {
  case GGMLType::Q4_0: // f16 d, 16 bytes of 4-bit q: y = (q - 8) * d
    for (int64_t blk = 0; blk < count / 32; ++blk, p += 18, y += 32) {
      float d = half(p);
      for (int j = 0; j < 16; ++j) {
        y[j] = float((p[2 + j] & 0xF) - 8) * d;
        y[j + 16] = float((p[2 + j] >> 4) - 8) * d;
      }
    }
    return;
  case GGMLType::Q4_1: // f16 d, f16 m: y = q * d + m
    for (int64_t blk = 0; blk < count / 32; ++blk, p += 20, y += 32) {
      float d = half(p), m = half(p + 2);
      for (int j = 0; j < 16; ++j) {
        y[j] = float(p[4 + j] & 0xF) * d + m;
        y[j + 16] = float(p[4 + j] >> 4) * d + m;
      }
    }
    return;
  case GGMLType::Q5_0:   // f16 d, 32 high bits, 4-bit q: y = (q - 16) * d
  case GGMLType::Q5_1: { // f16 d, f16 m, ...: y = q * d + m
    bool one = GGMLType(t.type) == GGMLType::Q5_1;
    int64_t bytes = one ? 24 : 22, at = one ? 4 : 2;
    for (int64_t blk = 0; blk < count / 32; ++blk, p += bytes, y += 32) {
      float d = half(p), m = one ? half(p + 2) : 0.0f;
      uint32_t qh;
      std::memcpy(&qh, p + at, 4);
      const uint8_t *qs = p + at + 4;
      for (int j = 0; j < 16; ++j) {
        int x0 = (qs[j] & 0xF) | (((qh >> j) << 4) & 0x10);
        int x1 = (qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
        if (one) {
          y[j] = float(x0) * d + m;
          y[j + 16] = float(x1) * d + m;
        } else {
          y[j] = float(x0 - 16) * d;
          y[j + 16] = float(x1 - 16) * d;
        }
      }
    }
    return;
  }
  case GGMLType::Q8_0: // f16 d, 32 int8 q: y = q * d
    for (int64_t blk = 0; blk < count / 32; ++blk, p += 34) {
      float d = half(p);
      for (int j = 0; j < 32; ++j)
        *y++ = float(int8_t(p[2 + j])) * d;
    }
    return;
  case GGMLType::Q4_K:   // f16 d, f16 dmin, 12 scale bytes, 128 q bytes
  case GGMLType::Q5_K: { // ... then 32 high-bit bytes before the q bytes
    bool five = GGMLType(t.type) == GGMLType::Q5_K;
    int64_t bytes = five ? 176 : 144;
    for (int64_t blk = 0; blk < count / 256; ++blk, p += bytes) {
      float d = half(p), dmin = half(p + 2);
      const uint8_t *scales = p + 4, *qh = p + 16;
      const uint8_t *q = p + (five ? 48 : 16);
      uint8_t u1 = 1, u2 = 2;
      for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
        int sc, m;
        scaleMinK4(is, scales, sc, m);
        float d1 = d * float(sc), m1 = dmin * float(m);
        scaleMinK4(is + 1, scales, sc, m);
        float d2 = d * float(sc), m2 = dmin * float(m);
        for (int l = 0; l < 32; ++l)
          *y++ =
              d1 * float((q[l] & 0xF) + (five && (qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l)
          *y++ = d2 * float((q[l] >> 4) + (five && (qh[l] & u2) ? 16 : 0)) - m2;
        u1 <<= 2;
        u2 <<= 2;
      }
    }
    return;
  }
  default:
    break;
  }
  // Q6_K, blocks of 256: ql[128] (low 4 bits), qh[64] (high 2 bits),
  // int8 scales[16] (one per 16 elements), f16 d; q = 6 bits - 32,
  // y = d * scale * q. Each half of 128 takes 64 ql, 32 qh, 8 scales.
  for (int64_t blk = 0; blk < count / 256; ++blk, p += 210) {
    const uint8_t *ql = p, *qh = p + 128;
    const int8_t *sc = reinterpret_cast<const int8_t *>(p + 192);
    float d = half(p + 208);
    for (int h = 0; h < 2; ++h, ql += 64, qh += 32, sc += 8, y += 128)
      for (int l = 0; l < 32; ++l) {
        int is = l / 16;
        int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * float(sc[is]) * float(q1);
        y[l + 32] = d * float(sc[is + 2]) * float(q2);
        y[l + 64] = d * float(sc[is + 4]) * float(q3);
        y[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
  }
}

/// The model's hyper-parameters from the metadata (SPEC 7.2).
FailureOr<BitNetConfig> configFromMetadata(MLIRContext *ctx,
                                           const GGUFFile &file) {
  auto fail = [&](const llvm::Twine &message) {
    reportFrontendError(ctx, file.getPath(), message);
    return failure();
  };
  const GGUFValue *a = file.lookup("general.architecture");
  if (!a || a->kind != GGUFValue::String)
    return fail("no general.architecture string");
  std::string arch = a->s;
  BitNetConfig c;
  if (arch == "bitnet-b1.58" || arch == "bitnet-25")
    c.activation = FfnActivation::Relu2;
  else if (arch == "bitnet" || arch == "llama")
    c.activation = FfnActivation::Silu;
  else
    return fail("architecture '" + arch +
                "' is not a BitNet b1.58 model (bitnet-b1.58, bitnet-25, "
                "bitnet and llama are)");
  auto integer = [&](StringRef key, int64_t &out,
                     std::optional<int64_t> fallback) -> LogicalResult {
    std::string full = arch + "." + key.str();
    const GGUFValue *v = file.lookup(full);
    if (!v && fallback) {
      out = *fallback;
      return success();
    }
    if (!v)
      return fail("missing metadata '" + full + "'");
    if (v->kind != GGUFValue::Int || v->i <= 0)
      return fail("metadata '" + full + "' must be a positive integer, got " +
                  v->typeName);
    out = v->i;
    return success();
  };
  auto real = [&](StringRef key, float &out,
                  std::optional<float> fallback) -> LogicalResult {
    std::string full = arch + "." + key.str();
    const GGUFValue *v = file.lookup(full);
    if (!v && fallback) {
      out = *fallback;
      return success();
    }
    if (!v)
      return fail("missing metadata '" + full + "'");
    if (v->kind != GGUFValue::Float || !(v->f > 0))
      return fail("metadata '" + full + "' must be a positive number, got " +
                  v->typeName);
    out = float(v->f);
    return success();
  };
  if (failed(integer("embedding_length", c.hidden, {})) ||
      failed(integer("feed_forward_length", c.intermediate, {})) ||
      failed(integer("block_count", c.layers, {})) ||
      failed(integer("attention.head_count", c.heads, {})) ||
      failed(integer("attention.head_count_kv", c.kvHeads, c.heads)) ||
      failed(integer("context_length", c.maxPositions, {})) ||
      failed(real("attention.layer_norm_rms_epsilon", c.epsilon, {})) ||
      failed(real("rope.freq_base", c.ropeTheta, 10000.0f)))
    return failure();
  if (c.maxPositions > limits::kMaxContext)
    return fail(llvm::formatv("{0}.context_length {1} exceeds Tern's limit of "
                              "{2} positions",
                              arch, c.maxPositions, limits::kMaxContext));
  // head_dim: attention.key_length (llama.cpp writes it when it is not
  // embedding_length / head_count, as for Falcon3), else the RoPE width.
  bool explicitHeadDim = file.lookup(arch + ".attention.key_length");
  if ((!explicitHeadDim && c.hidden % c.heads) || c.heads % c.kvHeads)
    return fail(llvm::formatv("{0} heads ({1} for keys and values) do not "
                              "divide embedding_length {2} evenly",
                              c.heads, c.kvHeads, c.hidden));
  if (explicitHeadDim) {
    if (failed(integer("attention.key_length", c.headDim, {})))
      return failure();
    int64_t valueLength = c.headDim, ropeDim = c.headDim;
    if (failed(integer("attention.value_length", valueLength, c.headDim)) ||
        failed(integer("rope.dimension_count", ropeDim, c.headDim)))
      return failure();
    if (valueLength != c.headDim || ropeDim != c.headDim)
      return fail(llvm::formatv("key_length {0}, value_length {1} and "
                                "rope.dimension_count {2} differ; Tern needs "
                                "them equal",
                                c.headDim, valueLength, ropeDim));
  } else if (failed(integer("rope.dimension_count", c.headDim,
                            c.hidden / c.heads))) {
    return failure();
  }
  // Llama 3.1's rope scaling as llama.cpp writes it: a divisor per
  // frequency.
  if (const GGUFTensor *f = file.tensor("rope_freqs.weight")) {
    if (GGMLType(f->type) != GGMLType::F32 ||
        f->numElements() != uint64_t(c.headDim / 2))
      return fail(llvm::formatv("tensor 'rope_freqs.weight': expected {0} "
                                "F32 values (head_dim / 2), got {1} {2}",
                                c.headDim / 2, ggmlTypeName(f->type),
                                f->dimsString()));
    c.ropeFreqFactors.resize(c.headDim / 2);
    std::memcpy(c.ropeFreqFactors.data(), f->data.data(),
                c.ropeFreqFactors.size() * 4);
  }
  const GGUFTensor *embed = file.tensor("token_embd.weight");
  if (!embed || embed->dims.size() != 2)
    return fail("missing tensor 'token_embd.weight' (2-D)");
  if (failed(integer("vocab_size", c.vocab, int64_t(embed->dims[1]))))
    return failure();
  if (c.vocab > limits::kMaxVocab)
    return fail(llvm::formatv("a vocabulary of {0} tokens exceeds Tern's "
                              "limit of {1}",
                              c.vocab, limits::kMaxVocab));
  // bitnet.cpp's graph (build_bitnet_158) always uses token_embd as the
  // head; bitnet-25 files carry a duplicate output.weight it ignores.
  bool fork = arch == "bitnet-b1.58" || arch == "bitnet-25";
  c.tiedEmbeddings = fork || !file.tensor("output.weight");
  for (StringRef key :
       {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"})
    if (const GGUFValue *v = file.lookup(key)) {
      if (v->kind != GGUFValue::Int || v->i < 0 || v->i >= c.vocab)
        return fail("metadata '" + key + "' must be a token id below " +
                    llvm::Twine(c.vocab));
      if (!llvm::is_contained(c.eosIds, v->i))
        c.eosIds.push_back(v->i);
    }
  if (arch != "llama") {
    c.attnSubNorm = "self_attn.attn_sub_norm";
    c.ffnSubNorm = "mlp.ffn_sub_norm";
  }
  return c;
}

} // namespace

OwningOpRef<ModuleOp> mlir::tern::importGGUF(StringRef path,
                                             MLIRContext &context,
                                             const ImportOptions &options) {
  llvm::Expected<std::unique_ptr<GGUFFile>> file =
      GGUFFile::open(path, options.files());
  if (!file) {
    reportFrontendError(&context, path, file.takeError());
    return nullptr;
  }
  FailureOr<BitNetConfig> config = configFromMetadata(&context, **file);
  if (failed(config))
    return nullptr;
  const GGUFValue *arch = (*file)->lookup("general.architecture");
  GGUFSource source(&context, **file, options.i2sArmLayout, *config,
                    /*unpermute=*/arch->s == "llama");
  Location loc = FileLineColLoc::get(&context, path, 0, 0);
  OwningOpRef<ModuleOp> module =
      buildBitNetModel(context, *config, source, loc);
  if (module && !source.reternarized.empty()) {
    llvm::SmallVector<std::string> types;
    for (const GGUFTensor *t : source.reternarized)
      if (!llvm::is_contained(types, ggmlTypeName(t->type)))
        types.push_back(ggmlTypeName(t->type));
    size_t n = source.reternarized.size();
    emitWarning(loc) << path << ": " << n << " ternary weight"
                     << (n > 1 ? "s are" : " is") << " stored as "
                     << llvm::join(types, "/") << " ('"
                     << source.reternarized.front()->name << "'"
                     << (n > 1 ? llvm::formatv(" and {0} more", n - 1).str()
                               : "")
                     << "), as llama-quantize writes where TQ1_0/TQ2_0 "
                        "blocks do not fit: re-ternarized (absmean trits, "
                        "the largest magnitude as the scale), exact for "
                        "Q4_0/Q5_0 of ternary weights, approximate otherwise";
  }
  return module;
}
