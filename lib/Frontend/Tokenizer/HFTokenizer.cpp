//===- HFTokenizer.cpp - Hugging Face tokenizer.json ----------------------===//
//
// The BPE tokenizers of the BitNet family: byte-level (GPT-2 / LLaMA-3: a
// ByteLevel pre-tokenizer, alone or after Split regexes) and SentencePiece
// style (LLaMA-2: Prepend/Replace normalizers or a Metaspace pre-tokenizer,
// byte fallback). Anything else is named in an error rather than tokenized
// differently from the library that wrote the file.
//
//===----------------------------------------------------------------------===//

#include "tern/Frontend/Limits.h"
#include "tern/Frontend/Tokenizer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <map>

using namespace mlir;
using namespace mlir::tern;
using TokenizerData = ::tern::rt::TokenizerData;
namespace json = llvm::json;

namespace {

using ::tern::rt::kGPT2Pattern;
const char *kSpace = ::tern::rt::kSentencePieceSpace;

class Reader {
public:
  Reader(StringRef path, llvm::vfs::FileSystem &fs) : path(path), fs(fs) {}

  llvm::Error error(const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  }

  llvm::Expected<json::Value> parse(StringRef file) {
    auto buffer = readFile(fs, file, /*isText=*/true);
    if (!buffer)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     file + ": " + buffer.getError().message());
    llvm::Expected<json::Value> v = json::parse((*buffer)->getBuffer());
    if (!v)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          file + ": invalid JSON: " + llvm::toString(v.takeError()));
    if (!v->getAsObject())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     file + ": expected a JSON object");
    return v;
  }

  llvm::Error normalizer(const json::Object *n) {
    if (!n)
      return llvm::Error::success();
    StringRef type = n->getString("type").value_or("");
    if (type == "Sequence") {
      if (const json::Array *list = n->getArray("normalizers"))
        for (const json::Value &item : *list)
          if (llvm::Error e = normalizer(item.getAsObject()))
            return e;
      return llvm::Error::success();
    }
    if (type == "Prepend" && n->getString("prepend") == StringRef(kSpace)) {
      spm = true;
      data.prefix = TokenizerData::Prefix::EverySegment;
      return llvm::Error::success();
    }
    if (type == "Replace" && n->getString("content") == StringRef(kSpace)) {
      const json::Object *pattern = n->getObject("pattern");
      if (pattern && pattern->getString("String") == StringRef(" ")) {
        spm = true;
        return llvm::Error::success();
      }
    }
    return error("normalizer '" + type +
                 "' is not supported (supported: Prepend and Replace of "
                 "SentencePiece's U+2581 space)");
  }

  llvm::Error preTokenizer(const json::Object *p) {
    if (!p)
      return llvm::Error::success();
    StringRef type = p->getString("type").value_or("");
    if (type == "Sequence") {
      if (const json::Array *list = p->getArray("pretokenizers"))
        for (const json::Value &item : *list)
          if (llvm::Error e = preTokenizer(item.getAsObject()))
            return e;
      return llvm::Error::success();
    }
    if (type == "ByteLevel") {
      byteLevel = true;
      if (p->getBoolean("use_regex").value_or(true))
        data.patterns.push_back(kGPT2Pattern);
      if (p->getBoolean("add_prefix_space").value_or(false))
        data.prefix = TokenizerData::Prefix::EveryIfMissing;
      return llvm::Error::success();
    }
    if (type == "Split") {
      StringRef behavior = p->getString("behavior").value_or("");
      if (behavior != "Isolated" || p->getBoolean("invert").value_or(false))
        return error("pre-tokenizer Split with behavior '" + behavior +
                     "' is not supported (supported: Isolated, not "
                     "inverted)");
      const json::Object *pattern = p->getObject("pattern");
      if (std::optional<StringRef> regex =
              pattern ? pattern->getString("Regex") : std::nullopt)
        data.patterns.push_back(regex->str());
      else if (std::optional<StringRef> text =
                   pattern ? pattern->getString("String") : std::nullopt)
        data.patterns.push_back("\\Q" + text->str() + "\\E");
      else
        return error("pre-tokenizer Split has no Regex or String pattern");
      return llvm::Error::success();
    }
    if (type == "Metaspace") {
      if (p->getString("replacement").value_or(kSpace) != StringRef(kSpace))
        return error("pre-tokenizer Metaspace with a replacement other "
                     "than U+2581 is not supported");
      spm = true;
      if (p->getBoolean("split").value_or(true))
        data.splitWords = true;
      StringRef scheme = p->getString("prepend_scheme").value_or("");
      bool legacyPrefix = p->getBoolean("add_prefix_space").value_or(true);
      if (scheme == "first")
        data.prefix = TokenizerData::Prefix::FirstIfMissing;
      else if (scheme == "always" || (scheme.empty() && legacyPrefix))
        data.prefix = TokenizerData::Prefix::EveryIfMissing;
      return llvm::Error::success();
    }
    return error("pre-tokenizer '" + type +
                 "' is not supported (supported: ByteLevel, Split, "
                 "Metaspace and Sequences of them)");
  }

  /// model: BPE with vocab and merges.
  llvm::Error model(const json::Object *m) {
    if (!m)
      return error("no 'model'");
    StringRef type = m->getString("type").value_or("BPE");
    if (type != "BPE")
      return error("model type '" + type +
                   "' is not supported (supported: BPE)");
    for (StringRef key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (std::optional<StringRef> s = m->getString(key); s && !s->empty())
        return error(llvm::Twine("BPE ") + key + " is not supported");
    const json::Object *vocab = m->getObject("vocab");
    if (!vocab)
      return error("model has no 'vocab' object");
    for (const auto &[text, idValue] : *vocab) {
      std::optional<int64_t> id = idValue.getAsInteger();
      if (!id || *id < 0)
        return error("vocab entry '" + text.str() + "' has an invalid id");
      if (*id >= limits::kMaxVocab)
        return error(llvm::formatv("vocab entry '{0}' has id {1}, beyond "
                                   "Tern's limit of {2} tokens",
                                   text.str(), *id, limits::kMaxVocab));
      put(int32_t(*id), text.str(), TokenizerData::Normal);
    }
    data.byteFallback = m->getBoolean("byte_fallback").value_or(false);
    data.fuseUnknown = m->getBoolean("fuse_unk").value_or(false);
    data.ignoreMerges = m->getBoolean("ignore_merges").value_or(false);
    if (std::optional<StringRef> unk = m->getString("unk_token"))
      unkText = unk->str();
    const json::Array *merges = m->getArray("merges");
    if (!merges)
      return error("model has no 'merges' list");
    for (size_t i = 0; i < merges->size(); ++i) {
      const json::Value &item = (*merges)[i];
      std::string left, right;
      if (std::optional<StringRef> s = item.getAsString()) {
        auto [l, r] = s->split(' ');
        left = l.str();
        right = r.str();
      } else if (const json::Array *pair = item.getAsArray();
                 pair && pair->size() == 2 && (*pair)[0].getAsString() &&
                 (*pair)[1].getAsString()) {
        left = (*pair)[0].getAsString()->str();
        right = (*pair)[1].getAsString()->str();
      } else {
        return error(llvm::formatv("merge {0} is not \"a b\" or [a, b]", i));
      }
      auto a = ids.find(left), b = ids.find(right);
      if (a == ids.end() || b == ids.end())
        return error(llvm::formatv("merge {0} ('{1}' '{2}') names a token "
                                   "that is not in the vocabulary",
                                   i, left, right));
      // As Hugging Face: a merge whose result is no token is never used.
      auto result = ids.find(left + right);
      if (result != ids.end())
        data.merges.push_back({a->second, b->second, result->second});
    }
    return llvm::Error::success();
  }

  llvm::Error addedTokens(const json::Array *list) {
    if (!list)
      return llvm::Error::success();
    for (const json::Value &item : *list) {
      const json::Object *t = item.getAsObject();
      std::optional<int64_t> id = t ? t->getInteger("id") : std::nullopt;
      std::optional<StringRef> content =
          t ? t->getString("content") : std::nullopt;
      if (!id || !content || *id < 0 || *id >= (1 << 24) || content->empty())
        return error("added_tokens: every entry needs an 'id' and a "
                     "non-empty 'content'");
      if (t->getBoolean("single_word").value_or(false))
        return error("added token '" + *content +
                     "' is single_word, which is not supported");
      bool special = t->getBoolean("special").value_or(false);
      put(int32_t(*id), content->str(),
          special ? TokenizerData::Control : TokenizerData::UserDefined);
      data.added.push_back({int32_t(*id),
                            t->getBoolean("lstrip").value_or(false),
                            t->getBoolean("rstrip").value_or(false)});
    }
    return llvm::Error::success();
  }

  /// post_processor: a TemplateProcessing that starts with a special token
  /// adds it as BOS.
  void postProcessor(const json::Object *p) {
    if (!p)
      return;
    if (p->getString("type") == StringRef("Sequence")) {
      if (const json::Array *list = p->getArray("processors"))
        for (const json::Value &item : *list)
          postProcessor(item.getAsObject());
      return;
    }
    const json::Array *single = p->getArray("single");
    if (p->getString("type") != StringRef("TemplateProcessing") || !single ||
        single->empty())
      return;
    const json::Object *first = (*single)[0].getAsObject();
    const json::Object *special =
        first ? first->getObject("SpecialToken") : nullptr;
    if (std::optional<StringRef> id =
            special ? special->getString("id") : std::nullopt) {
      auto it = ids.find(id->str());
      if (it != ids.end()) {
        data.bos = it->second;
        data.addBos = true;
      }
    }
  }

  void put(int32_t id, std::string text, uint8_t type) {
    if (size_t(id) >= data.tokens.size()) {
      data.tokens.resize(size_t(id) + 1);
      data.types.resize(size_t(id) + 1, TokenizerData::Unused);
    }
    ids.emplace(text, id);
    data.tokens[size_t(id)] = std::move(text);
    data.types[size_t(id)] = type;
  }

  std::string path;
  llvm::vfs::FileSystem &fs;
  TokenizerData data;
  std::map<std::string, int32_t> ids;
  std::string unkText;
  bool spm = false, byteLevel = false;
};

/// A special token given in tokenizer_config.json as a string or as
/// {"content": ...}.
std::optional<std::string> tokenText(const json::Value *v) {
  if (!v)
    return std::nullopt;
  if (std::optional<StringRef> s = v->getAsString())
    return s->str();
  if (const json::Object *o = v->getAsObject())
    if (std::optional<StringRef> s = o->getString("content"))
      return s->str();
  return std::nullopt;
}

} // namespace

llvm::Expected<TokenizerData>
mlir::tern::readHFTokenizer(StringRef path, llvm::vfs::FileSystem &fs) {
  Reader r(path, fs);
  llvm::Expected<json::Value> root = r.parse(path);
  if (!root)
    return root.takeError();
  const json::Object &o = *root->getAsObject();
  if (llvm::Error e = r.model(o.getObject("model")))
    return std::move(e);
  if (llvm::Error e = r.addedTokens(o.getArray("added_tokens")))
    return std::move(e);
  if (llvm::Error e = r.normalizer(o.getObject("normalizer")))
    return std::move(e);
  if (llvm::Error e = r.preTokenizer(o.getObject("pre_tokenizer")))
    return std::move(e);
  if (r.spm == r.byteLevel)
    return r.error("cannot tell a byte-level BPE (ByteLevel pre-tokenizer) "
                   "from a SentencePiece-style one (U+2581 normalizer or "
                   "Metaspace pre-tokenizer)");
  TokenizerData &d = r.data;
  d.kind = r.spm ? TokenizerData::Kind::SentencePieceBPE
                 : TokenizerData::Kind::ByteLevelBPE;
  r.postProcessor(o.getObject("post_processor"));
  if (!r.unkText.empty()) {
    auto it = r.ids.find(r.unkText);
    if (it == r.ids.end())
      return r.error("unk_token '" + r.unkText + "' is not in the vocabulary");
    d.unk = it->second;
  }
  for (size_t i = 0; i < d.tokens.size(); ++i)
    if (d.tokens[i].size() == 6 && StringRef(d.tokens[i]).starts_with("<0x") &&
        d.tokens[i].back() == '>' && d.types[i] == TokenizerData::Normal &&
        r.spm)
      d.types[i] = TokenizerData::Byte;

  // tokenizer_config.json: BOS/EOS by text, add_bos_token, chat template.
  llvm::SmallString<256> config(llvm::sys::path::parent_path(path));
  llvm::sys::path::append(config, "tokenizer_config.json");
  std::string chatTemplate;
  if (r.fs.exists(config)) {
    llvm::Expected<json::Value> cfg = r.parse(config);
    if (!cfg)
      return cfg.takeError();
    const json::Object &c = *cfg->getAsObject();
    auto idOf = [&](StringRef key) -> int32_t {
      std::optional<std::string> text = tokenText(c.get(key));
      auto it = text ? r.ids.find(*text) : r.ids.end();
      return it == r.ids.end() ? -1 : it->second;
    };
    if (int32_t bos = idOf("bos_token"); bos >= 0)
      d.bos = bos;
    if (int32_t eos = idOf("eos_token"); eos >= 0)
      d.eos = eos;
    if (std::optional<bool> add = c.getBoolean("add_bos_token"))
      d.addBos = *add && d.bos >= 0;
    if (std::optional<StringRef> t = c.getString("chat_template"))
      chatTemplate = t->str();
    // Some configs list named templates: [{"name": "default", ...}, ...].
    if (const json::Array *list = c.getArray("chat_template"))
      for (const json::Value &entry : *list)
        if (const json::Object *o = entry.getAsObject())
          if (o->getString("name") == "default")
            if (std::optional<StringRef> t = o->getString("template"))
              chatTemplate = t->str();
  }
  d.chatTemplate = chatTemplateFor(chatTemplate, d);
  return std::move(d);
}
