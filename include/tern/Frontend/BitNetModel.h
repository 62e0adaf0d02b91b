//===- BitNetModel.h - The BitNet b1.58 graph, for every frontend -*- C++ -*-=//
//
// Checkpoint formats differ in how they name, store and describe tensors, not
// in the model they hold. A frontend reads the hyper-parameters into a
// BitNetConfig and serves tensors through a WeightSource; buildBitNetModel
// writes the one graph of SPEC.md section 3 in tern model-level ops.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_BITNETMODEL_H
#define TERN_FRONTEND_BITNETMODEL_H

#include "Tern/IR/TernOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::tern {

/// Llama 3.1's rotary frequency scaling (transformers' rope_type "llama3").
struct RopeScaling {
  float factor = 0, lowFreqFactor = 0, highFreqFactor = 0;
  int64_t originalContext = 0;
};

/// The feed-forward activation. relu2 and silu GLUs run as tern.glu; the
/// others (GELU models, course-style MLPs) are composed of elementwise ops.
enum class FfnActivation { Relu2, Silu, Gelu, GeluTanh, Relu };

/// Hyper-parameters of a BitNet b1.58 model (SPEC.md section 1).
struct BitNetConfig {
  int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0, kvHeads = 0,
          headDim = 0, vocab = 0, maxPositions = 0;
  /// ropeTheta 0: no RoPE (learned positions, or none).
  float epsilon = 0, ropeTheta = 0;
  FfnActivation activation = FfnActivation::Relu2;
  /// act(gate) * up (every released BitNet), or act(up) alone (course-style
  /// MLPs: "mlp.up_proj" then "mlp.down_proj").
  bool gatedFfn = true;
  /// A learned position table ("model.embed_positions.weight", one row per
  /// position up to maxPositions) added to the token embedding.
  bool learnedPositions = false;
  /// input_layernorm and post_attention_layernorm; false where only the
  /// BitLinears normalize (linearNormEpsilon, course-style models).
  bool blockNorms = true;
  /// The LM head is the embedding table (no separate lm_head tensor).
  bool tiedEmbeddings = true;
  std::optional<RopeScaling> ropeScaling;
  /// ggml's per-frequency divisors (a GGUF's rope_freqs.weight); empty: none.
  std::vector<float> ropeFreqFactors;
  /// Sub-norm tensor names within a layer: "self_attn.attn_sub_norm" and
  /// "mlp.ffn_sub_norm" (2B4T) or "self_attn.inner_attn_ln" and
  /// "mlp.ffn_layernorm" (1bitLLM); empty for Llama-architecture BitNets.
  std::string attnSubNorm, ffnSubNorm;
  /// transformers' BitNet use_rms_norm: every BitLinear normalizes its input
  /// with its own gain ("<module>.rms_norm.weight") at this epsilon first.
  std::optional<float> linearNormEpsilon;
  /// Token ids that end a generation (config.json eos_token_id, GGUF
  /// tokenizer.ggml.eos_token_id); may be empty.
  std::vector<int64_t> eosIds;
};

/// A BitLinear weight as a source stores it.
struct LinearWeight {
  Value weight;
  /// Multiplier of the integer result, for ternary or packed weights; none
  /// for latent float weights (tern-quantize-weights computes it).
  std::optional<float> scale;
};

/// Serves a model's tensors by their Hugging Face names. Each method checks
/// the stored shape and type against what the graph needs, and on mismatch
/// reports an error naming the file and tensor and returns failure.
class WeightSource {
public:
  virtual ~WeightSource();
  /// A linear layer's weight of logical shape [n, k] (out, in).
  virtual FailureOr<LinearWeight> linear(OpBuilder &b, StringRef name,
                                         int64_t n, int64_t k) = 0;
  /// A vector [n] (norm gains) as f32.
  virtual FailureOr<Value> vector(OpBuilder &b, StringRef name, int64_t n) = 0;
  /// A float table [rows, cols] (embeddings, LM head) in its stored type.
  virtual FailureOr<Value> table(OpBuilder &b, StringRef name, int64_t rows,
                                 int64_t cols) = 0;
  /// The bias [n] of the linear layer whose weight is `name`, as f32, or
  /// null when it has none (checkpoint families have none).
  virtual FailureOr<Value> bias(OpBuilder &b, StringRef name, int64_t n) {
    return Value();
  }
};

/// GELU of activations `x` ([tokens, n] f32) in tern.unary and tern.binary:
/// 0.5 x (1 + erf(x / sqrt 2)), or with `tanh` its tanh approximation
/// (torch's approximate="tanh"). For the frontends' GELUs with no fused op.
Value buildGelu(OpBuilder &b, Location loc, Value x, bool tanh);

/// Builds `func.func @forward(ids, positions) -> logits` for `config` with
/// weights from `source`. Returns null after `source` reported an error.
OwningOpRef<ModuleOp> buildBitNetModel(MLIRContext &context,
                                       const BitNetConfig &config,
                                       WeightSource &source, Location loc);

} // namespace mlir::tern

#endif // TERN_FRONTEND_BITNETMODEL_H
