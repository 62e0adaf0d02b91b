//===- GGUFTokenizer.cpp - tokenizer.ggml.* of a GGUF file ----------------===//
//
// llama.cpp's vocabulary keys: "gpt2" (byte-level BPE with merges and a
// pre-tokenizer named by tokenizer.ggml.pre) and "llama" (SentencePiece BPE
// with scores). Token types follow SentencePiece's numbering.
//
//===----------------------------------------------------------------------===//

#include "GGUFFile.h"

#include "tern/Frontend/Limits.h"
#include "tern/Frontend/Tokenizer.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::tern;
using TokenizerData = ::tern::rt::TokenizerData;

using ::tern::rt::kGPT2Pattern;
using ::tern::rt::kLlama3Pattern;
using ::tern::rt::kLlamaCppDefaultPatterns;

llvm::Expected<std::optional<TokenizerData>>
mlir::tern::readGGUFTokenizer(StringRef path,
                              std::vector<std::string> *warnings,
                              llvm::vfs::FileSystem &fs) {
  llvm::Expected<std::unique_ptr<GGUFFile>> opened = GGUFFile::open(path, fs);
  if (!opened)
    return opened.takeError();
  const GGUFFile &f = **opened;
  auto error = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  };
  auto string = [&](StringRef key) -> std::string {
    const GGUFValue *v = f.lookup(key);
    return v && v->kind == GGUFValue::String ? v->s : "";
  };
  auto integer = [&](StringRef key, int64_t fallback) -> int64_t {
    const GGUFValue *v = f.lookup(key);
    return v && (v->kind == GGUFValue::Int || v->kind == GGUFValue::Bool)
               ? v->i
               : fallback;
  };

  std::string model = string("tokenizer.ggml.model");
  if (model.empty())
    return std::nullopt; // a model without a tokenizer
  TokenizerData d;
  if (model == "gpt2")
    d.kind = TokenizerData::Kind::ByteLevelBPE;
  else if (model == "llama")
    d.kind = TokenizerData::Kind::SentencePieceBPE;
  else
    return error("tokenizer.ggml.model '" + model +
                 "' is not supported (supported: gpt2, llama)");
  std::optional<std::vector<std::string>> tokens =
      f.stringArray("tokenizer.ggml.tokens");
  if (!tokens || tokens->empty())
    return error("tokenizer.ggml.tokens is missing or not an array of "
                 "strings");
  if (int64_t(tokens->size()) > limits::kMaxVocab)
    return error(llvm::formatv("tokenizer.ggml.tokens: {0} tokens exceed "
                               "Tern's limit of {1}",
                               tokens->size(), limits::kMaxVocab));
  d.tokens = std::move(*tokens);
  size_t n = d.tokens.size();
  auto sized = [&](StringRef key,
                   std::optional<std::vector<double>> &out) -> llvm::Error {
    out = f.numberArray(key);
    if (out && out->size() != n)
      return error(llvm::formatv("{0} has {1} entries for {2} tokens", key,
                                 out->size(), n));
    return llvm::Error::success();
  };
  std::optional<std::vector<double>> types, scores;
  if (llvm::Error e = sized("tokenizer.ggml.token_type", types))
    return std::move(e);
  if (llvm::Error e = sized("tokenizer.ggml.scores", scores))
    return std::move(e);
  d.types.assign(n, TokenizerData::Normal);
  for (size_t i = 0; types && i < n; ++i) {
    double t = (*types)[i];
    if (t < 1 || t > 6)
      return error(llvm::formatv("tokenizer.ggml.token_type of token {0} is "
                                 "{1} (known: 1 to 6)",
                                 i, t));
    d.types[i] = uint8_t(t);
    if (t == TokenizerData::Control || t == TokenizerData::UserDefined)
      d.added.push_back({int32_t(i)});
    d.byteFallback |= t == TokenizerData::Byte;
  }

  bool llama3Family = false;
  if (d.kind == TokenizerData::Kind::ByteLevelBPE) {
    std::optional<std::vector<std::string>> merges =
        f.stringArray("tokenizer.ggml.merges");
    if (!merges)
      return error("a gpt2 tokenizer needs tokenizer.ggml.merges");
    llvm::StringMap<int32_t> ids;
    for (size_t i = 0; i < n; ++i)
      ids.try_emplace(d.tokens[i], int32_t(i));
    for (size_t i = 0; i < merges->size(); ++i) {
      auto [left, right] = StringRef((*merges)[i]).split(' ');
      auto a = ids.find(left), b = ids.find(right);
      if (a == ids.end() || b == ids.end())
        return error(llvm::formatv("merge {0} ('{1}') names a token that is "
                                   "not in tokenizer.ggml.tokens",
                                   i, (*merges)[i]));
      auto result = ids.find((left + right).str());
      if (result != ids.end()) // else never used, as in llama.cpp
        d.merges.push_back({a->second, b->second, result->second});
    }
    std::string pre = string("tokenizer.ggml.pre");
    // The names llama.cpp reads as its LLAMA3 pre-tokenizer (Falcon3's and
    // Falcon-E's conversions write their own names for it): LLaMA-3's
    // regex, whole-token pieces kept (ignore_merges) and BOS by default.
    if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" ||
        pre == "falcon3" || pre == "falcon_e" || pre == "falcon-h1") {
      d.patterns = {kLlama3Pattern};
      d.ignoreMerges = true;
      llama3Family = true;
    } else if (pre == "gpt-2" || pre == "gpt2") {
      d.patterns = {kGPT2Pattern};
    } else if (pre.empty() && !f.lookup("tokenizer.ggml.pre")) {
      // bitnet.cpp's 2B4T conversion writes none; llama.cpp then warns and
      // splits with its "default" expressions. So does Tern.
      d.patterns.assign(std::begin(kLlamaCppDefaultPatterns),
                        std::end(kLlamaCppDefaultPatterns));
      if (warnings)
        warnings->push_back(
            path.str() + ": no tokenizer.ggml.pre; splitting text with "
                         "llama.cpp's 'default' pre-tokenizer, as llama.cpp "
                         "does (if the model's own differs, tokens will too: "
                         "give its tokenizer.json with --tokenizer)");
    } else

      return error("tokenizer.ggml.pre '" + pre +
                   "' is not supported (supported: llama-bpe, llama3, "
                   "falcon3, falcon_e, gpt-2, or none); "
                   "give the model's tokenizer.json with --tokenizer");
  } else {
    if (!scores)
      return error("a llama tokenizer needs tokenizer.ggml.scores");
    d.scores.assign(scores->begin(), scores->end());
    d.prefix = integer("tokenizer.ggml.add_space_prefix", 1)
                   ? TokenizerData::Prefix::Start
                   : TokenizerData::Prefix::None;
  }
  d.bos = int32_t(integer("tokenizer.ggml.bos_token_id", -1));
  d.eos = int32_t(integer("tokenizer.ggml.eos_token_id", -1));
  d.unk = int32_t(integer("tokenizer.ggml.unknown_token_id", -1));
  if (d.unk < 0)
    for (size_t i = 0; i < n; ++i)
      if (d.types[i] == TokenizerData::Unknown)
        d.unk = int32_t(i);
  d.addBos = integer("tokenizer.ggml.add_bos_token",
                     d.kind == TokenizerData::Kind::SentencePieceBPE ||
                         llama3Family) &&
             d.bos >= 0;
  d.chatTemplate = chatTemplateFor(string("tokenizer.chat_template"), d);
  return std::optional<TokenizerData>(std::move(d));
}
