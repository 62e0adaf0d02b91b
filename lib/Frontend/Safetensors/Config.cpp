//===- Config.cpp - config.json of a Hugging Face BitNet checkpoint -------===//
//
// Every hyper-parameter comes from the file (SPEC.md section 1); defaults are
// only those of the Hugging Face config classes for keys real checkpoints
// omit. Anything missing, mistyped or contradictory is reported by key.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"

#include "tern/Frontend/Limits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::tern;
namespace json = llvm::json;

namespace {

struct Family {
  StringRef architecture, attnSubNorm, ffnSubNorm;
  float defaultTheta;
  /// Only as a BitNet checkpoint: quantization_config.quant_method "bitnet"
  /// (the same class name is every float Llama).
  bool needsBitNetQuantization;
};

// 2B4T (model_type bitnet) and 1bitLLM (model_type llama) name their
// sub-norms differently (SPEC 1). The Llama-architecture BitNets
// (Falcon3-1.58bit, Falcon-E, Llama3-8B-1.58) have none (docs/Models.md).
constexpr Family kFamilies[] = {
    {"BitNetForCausalLM", "self_attn.attn_sub_norm", "mlp.ffn_sub_norm",
     500000.0f, false},
    {"BitnetForCausalLM", "self_attn.inner_attn_ln", "mlp.ffn_layernorm",
     10000.0f, false},
    {"LlamaForCausalLM", "", "", 10000.0f, true},
};

constexpr StringLiteral kWhatTernCompiles =
    "Tern compiles BitNetForCausalLM (microsoft/bitnet-b1.58), "
    "BitnetForCausalLM (1bitLLM/bitnet_b1_58) and LlamaForCausalLM with a "
    "BitNet quantization_config (Falcon3-*-1.58bit, Falcon-E, "
    "Llama3-8B-1.58)";

class ConfigReader {
public:
  /// Keys of `root` are named `prefix` + key in messages.
  ConfigReader(StringRef path, const json::Object &root, StringRef prefix = "")
      : path(path), root(root), prefix(prefix) {}

  llvm::Error error(const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  }

  /// A positive integer; `fallback` when absent (0: required).
  llvm::Expected<int64_t> integer(StringRef key, int64_t fallback = 0) {
    const json::Value *v = root.get(key);
    if (!v || v->kind() == json::Value::Null) {
      if (fallback)
        return fallback;
      return error("missing required key '" + prefix + key + "'");
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i || *i <= 0)
      return error("key '" + prefix + key +
                   "' must be a positive integer, got " +
                   llvm::formatv("{0}", *v).str());
    return *i;
  }

  llvm::Expected<float> number(StringRef key, std::optional<float> fallback) {
    const json::Value *v = root.get(key);
    if (!v || v->kind() == json::Value::Null) {
      if (fallback)
        return *fallback;
      return error("missing required key '" + prefix + key + "'");
    }
    std::optional<double> d = v->getAsNumber();
    if (!d || !(*d > 0))
      return error("key '" + prefix + key +
                   "' must be a positive number, got " +
                   llvm::formatv("{0}", *v).str());
    return float(*d);
  }

  StringRef path;
  const json::Object &root;
  StringRef prefix;
};

/// Adds the ids of an eos_token_id value (one id or a list; null adds none)
/// to `ids`, skipping those already there; false if one is not in
/// [0, vocab).
bool addEosIds(const json::Value &value, int64_t vocab,
               std::vector<int64_t> &ids) {
  if (value.kind() == json::Value::Null)
    return true;
  auto add = [&](const json::Value &v) {
    std::optional<int64_t> id = v.getAsInteger();
    if (!id || *id < 0 || *id >= vocab)
      return false;
    if (!llvm::is_contained(ids, *id))
      ids.push_back(*id);
    return true;
  };
  if (const json::Array *list = value.getAsArray())
    return llvm::all_of(*list, add);
  return add(value);
}

/// rope_theta and rope_scaling (transformers 4), or rope_parameters
/// (transformers 5, both in one object).
llvm::Error readRope(ConfigReader &r, float defaultTheta, BitNetConfig &c) {
  const json::Object *params = r.root.getObject("rope_parameters");
  ConfigReader inParams(r.path, params ? *params : r.root, "rope_parameters.");
  llvm::Expected<float> theta =
      (params && params->get("rope_theta") ? inParams : r)
          .number("rope_theta", defaultTheta);
  if (!theta)
    return theta.takeError();
  c.ropeTheta = *theta;
  const json::Value *v =
      params ? r.root.get("rope_parameters") : r.root.get("rope_scaling");
  if (!v || v->kind() == json::Value::Null)
    return llvm::Error::success();
  const json::Object *scaling = v->getAsObject();
  if (!scaling)
    return r.error("key 'rope_scaling' must be an object or null");
  // transformers reads "rope_type", and "type" in older configs.
  std::optional<StringRef> type = scaling->getString("rope_type");
  if (!type)
    type = scaling->getString("type");
  if (!type || *type == "default")
    return llvm::Error::success();
  if (*type != "llama3")
    return r.error("rope_scaling type '" + *type +
                   "' is not supported (Tern implements llama3)");
  ConfigReader s(r.path, *scaling,
                 params ? "rope_parameters." : "rope_scaling.");
  RopeScaling llama3;
  for (auto [key, out] :
       {std::pair<StringRef, float *>{"factor", &llama3.factor},
        {"low_freq_factor", &llama3.lowFreqFactor},
        {"high_freq_factor", &llama3.highFreqFactor}}) {
    llvm::Expected<float> value = s.number(key, std::nullopt);
    if (!value)
      return value.takeError();
    *out = *value;
  }
  llvm::Expected<int64_t> original =
      s.integer("original_max_position_embeddings");
  if (!original)
    return original.takeError();
  llama3.originalContext = *original;
  if (!(llama3.highFreqFactor > llama3.lowFreqFactor))
    return r.error("rope_scaling: high_freq_factor must exceed "
                   "low_freq_factor (llama3)");
  c.ropeScaling = llama3;
  return llvm::Error::success();
}

} // namespace

llvm::Expected<CheckpointConfig>
mlir::tern::readConfig(StringRef path, llvm::vfs::FileSystem &fs) {
  auto fail = [&](const llvm::Twine &message) -> llvm::Error {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  };
  auto file = readFile(fs, path, /*isText=*/true);
  if (!file)
    return fail(file.getError().message());
  llvm::Expected<json::Value> parsed = json::parse((*file)->getBuffer());
  if (!parsed)
    return fail("not valid JSON: " + llvm::toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return fail("not a JSON object");
  ConfigReader r(path, *root);

  const json::Array *archs = root->getArray("architectures");
  std::optional<StringRef> arch =
      archs && archs->size() == 1 ? (*archs)[0].getAsString() : std::nullopt;
  if (!arch)
    return fail("key 'architectures' must be a list with one class name, "
                "e.g. [\"BitNetForCausalLM\"]");
  const Family *family = nullptr;
  for (const Family &f : kFamilies)
    if (f.architecture == *arch)
      family = &f;
  if (!family)
    return fail("unsupported architecture '" + *arch + "'; " +
                kWhatTernCompiles);

  CheckpointConfig result;
  result.architecture = arch->str();
  BitNetConfig &c = result.model;
  c.attnSubNorm = family->attnSubNorm.str();
  c.ffnSubNorm = family->ffnSubNorm.str();
  auto take = [](llvm::Expected<int64_t> v, int64_t &out) -> llvm::Error {
    if (!v)
      return v.takeError();
    out = *v;
    return llvm::Error::success();
  };
  if (auto e = take(r.integer("hidden_size"), c.hidden))
    return std::move(e);
  if (auto e = take(r.integer("intermediate_size"), c.intermediate))
    return std::move(e);
  if (auto e = take(r.integer("num_hidden_layers"), c.layers))
    return std::move(e);
  if (auto e = take(r.integer("num_attention_heads"), c.heads))
    return std::move(e);
  if (auto e = take(r.integer("num_key_value_heads", c.heads), c.kvHeads))
    return std::move(e);
  if (auto e = take(r.integer("vocab_size"), c.vocab))
    return std::move(e);
  if (auto e = take(r.integer("max_position_embeddings", 2048), c.maxPositions))
    return std::move(e);
  if (c.vocab > limits::kMaxVocab)
    return fail(llvm::formatv("vocab_size {0} exceeds Tern's limit of {1} "
                              "tokens",
                              c.vocab, limits::kMaxVocab));
  if (c.maxPositions > limits::kMaxContext)
    return fail(llvm::formatv("max_position_embeddings {0} exceeds Tern's "
                              "limit of {1} positions",
                              c.maxPositions, limits::kMaxContext));
  if (c.hidden % c.heads && !root->get("head_dim"))
    return fail(llvm::formatv("hidden_size {0} is not a multiple of "
                              "num_attention_heads {1}",
                              c.hidden, c.heads));
  if (auto e = take(r.integer("head_dim", c.hidden / c.heads), c.headDim))
    return std::move(e);
  if (c.headDim % 2)
    return fail(llvm::formatv("head_dim {0} is odd; rotary embeddings need "
                              "pairs",
                              c.headDim));
  if (c.heads % c.kvHeads)
    return fail(llvm::formatv("num_attention_heads {0} is not a multiple of "
                              "num_key_value_heads {1}",
                              c.heads, c.kvHeads));

  llvm::Expected<float> eps = r.number("rms_norm_eps", std::nullopt);
  if (!eps)
    return eps.takeError();
  c.epsilon = *eps;
  if (llvm::Error e = readRope(r, family->defaultTheta, c))
    return std::move(e);
  for (StringRef key : {"attention_bias", "mlp_bias"})
    if (root->getBoolean(key).value_or(false))
      return fail("key '" + key +
                  "' is true; BitNet linear layers have no bias");

  std::optional<StringRef> act = root->getString("hidden_act");
  if (!act)
    return fail("missing required key 'hidden_act' (\"relu2\" or \"silu\")");
  if (*act == "relu2")
    c.activation = FfnActivation::Relu2;
  else if (*act == "silu")
    c.activation = FfnActivation::Silu;
  else
    return fail("unsupported hidden_act '" + *act +
                "' (Tern supports relu2 and silu)");

  if (const json::Value *tie = root->get("tie_word_embeddings")) {
    std::optional<bool> b = tie->getAsBoolean();
    if (!b)
      return fail("key 'tie_word_embeddings' must be true or false");
    result.tiedKnown = true;
    c.tiedEmbeddings = *b;
  }

  // eos_token_id: one id or a list. 2B4T's config.json names end-of-text;
  // its generation_config.json adds end-of-turn.
  if (const json::Value *eos = root->get("eos_token_id");
      eos && !addEosIds(*eos, c.vocab, c.eosIds))
    return fail(llvm::formatv("key 'eos_token_id' must be a token id in "
                              "[0, {0}) or a list of them",
                              c.vocab));
  llvm::SmallString<256> generation(llvm::sys::path::parent_path(path));
  llvm::sys::path::append(generation, "generation_config.json");
  if (llvm::Error e = addEosIdsFrom(generation, c.vocab, c.eosIds, fs))
    return std::move(e);

  // Packed checkpoints: "autobitlinear" multiplies by weight_scale, plain
  // "bitlinear" (or no class) divides (SPEC 2.4).
  const json::Object *q = root->getObject("quantization_config");
  std::optional<StringRef> method = q ? q->getString("quant_method") : "";
  if (family->needsBitNetQuantization && (!q || method != "bitnet"))
    return fail(*arch +
                " without a BitNet quantization_config (\"quant_method\": "
                "\"bitnet\") is a float model, not a ternary one; " +
                kWhatTernCompiles);
  if (q) {
    if (method != "bitnet")
      return fail("quantization_config.quant_method '" + method.value_or("") +
                  "' is not BitNet's ternary quantization (\"bitnet\")");
    std::optional<StringRef> cls = q->getString("linear_class");
    if (cls && *cls != "autobitlinear" && *cls != "bitlinear")
      return fail("unsupported quantization_config.linear_class '" + *cls +
                  "' (known: autobitlinear, bitlinear)");
    result.scaleMultiplies = cls && *cls == "autobitlinear";
    std::optional<StringRef> mode = q->getString("quantization_mode");
    if (mode && *mode != "offline" && *mode != "online")
      return fail("unsupported quantization_config.quantization_mode '" +
                  *mode + "' (known: offline, online)");
    // use_rms_norm: an RMSNorm inside every BitLinear, before quantizing.
    if (q->getBoolean("use_rms_norm").value_or(false)) {
      std::optional<double> eps = q->getNumber("rms_norm_eps");
      c.linearNormEpsilon = float(eps.value_or(1e-6));
    }
  }
  return result;
}

llvm::Error mlir::tern::addEosIdsFrom(StringRef path, int64_t vocab,
                                      std::vector<int64_t> &ids,
                                      llvm::vfs::FileSystem &fs) {
  if (!fs.exists(path))
    return llvm::Error::success();
  auto text = readFile(fs, path, /*isText=*/true);
  llvm::Expected<json::Value> parsed =
      text ? json::parse((*text)->getBuffer())
           : llvm::Expected<json::Value>(llvm::createStringError(
                 text.getError(), text.getError().message()));
  const json::Object *root = parsed ? parsed->getAsObject() : nullptr;
  if (!parsed)
    llvm::consumeError(parsed.takeError());
  const json::Value *eos = root ? root->get("eos_token_id") : nullptr;
  if (!root || (eos && !addEosIds(*eos, vocab, ids)))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path + ": " +
            (root ? llvm::formatv("key 'eos_token_id' must be a token id in "
                                  "[0, {0}) or a list of them",
                                  vocab)
                        .str()
                  : std::string("not a valid JSON object")));
  return llvm::Error::success();
}
