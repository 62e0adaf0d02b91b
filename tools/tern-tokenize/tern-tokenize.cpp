//===- tern-tokenize.cpp - a model's tokenizer, as executables run it -----===//
//
// Reads a tokenizer the way ternc does and encodes text with the runtime's
// tokenizer: for looking at token ids, and for the tests that compare them
// with Hugging Face tokenizers and SentencePiece.
//
//===----------------------------------------------------------------------===//

#include "tern/Frontend/Tokenizer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {

cl::OptionCategory category("tern-tokenize options");
cl::opt<std::string> tokenizerPath(
    cl::Positional, cl::Required,
    cl::desc("<tokenizer.json | tokenizer.model | model.gguf | checkpoint>"));
cl::opt<std::string> prompt("p", cl::desc("Text to encode"),
                            cl::value_desc("text"), cl::cat(category));
cl::opt<std::string>
    inputs("inputs",
           cl::desc("JSON file with an array of strings: writes a JSON array "
                    "of {\"ids\": [...], \"text\": decoded} objects"),
           cl::value_desc("file"), cl::cat(category));
cl::opt<bool> noBos("no-bos", cl::desc("Do not add the BOS token"),
                    cl::cat(category));
cl::opt<bool> noSpecial("no-parse-special",
                        cl::desc("Tokenize special tokens' text as text"),
                        cl::cat(category));
cl::opt<bool> info("info", cl::desc("Describe the tokenizer"),
                   cl::cat(category));

int fail(const Twine &message) {
  errs() << "error: " << message << "\n";
  return 1;
}

std::string decode(const tern::rt::Tokenizer &t,
                   const std::vector<int32_t> &ids) {
  std::string text;
  bool first = true;
  for (int32_t id : ids) {
    text += t.decode(id, first);
    first = first && id == t.data().bos;
  }
  return text;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "tern-tokenize: encode text with a model's "
                              "tokenizer as Tern's executables do\n");
  Expected<std::optional<tern::rt::TokenizerData>> data =
      mlir::tern::readTokenizer(tokenizerPath);
  if (!data)
    return fail(toString(data.takeError()));
  if (!*data)
    return fail(tokenizerPath +
                ": no tokenizer (tokenizer.json, tokenizer.model or "
                "tokenizer.ggml.* keys)");
  std::string error;
  std::unique_ptr<tern::rt::Tokenizer> t =
      tern::rt::Tokenizer::create(std::move(**data), error);
  if (!t)
    return fail(tokenizerPath + ": " + error);
  const tern::rt::TokenizerData &d = t->data();
  if (info) {
    outs() << "kind: "
           << (d.kind == tern::rt::TokenizerData::Kind::ByteLevelBPE
                   ? "byte-level BPE"
                   : "SentencePiece BPE")
           << "\ntokens: " << d.tokens.size() << "\nmerges: " << d.merges.size()
           << "\nadded tokens: " << d.added.size() << "\nbos: " << d.bos
           << (d.addBos ? " (added)" : "") << "\neos: " << d.eos
           << "\nchat format: "
           << (d.chatFormat.empty() ? "none" : d.chatFormat) << "\n";
    return 0;
  }
  if (!inputs.empty()) {
    auto buffer = MemoryBuffer::getFile(inputs);
    if (!buffer)
      return fail(inputs + ": " + buffer.getError().message());
    Expected<json::Value> list = json::parse((*buffer)->getBuffer());
    if (!list || !list->getAsArray())
      return fail(inputs + ": expected a JSON array of strings" +
                  (list ? "" : ": " + toString(list.takeError())));
    json::Array out;
    for (const json::Value &item : *list->getAsArray()) {
      std::optional<StringRef> text = item.getAsString();
      if (!text)
        return fail(inputs + ": expected a JSON array of strings");
      std::vector<int32_t> ids = t->encode(*text, !noBos, !noSpecial);
      std::string back = decode(*t, ids);
      out.push_back(json::Object{
          {"ids", json::Array(ids)},
          {"text", json::isUTF8(back) ? back : json::fixUTF8(back)}});
    }
    outs() << json::Value(std::move(out)) << "\n";
    return 0;
  }
  std::vector<int32_t> ids = t->encode(prompt, !noBos, !noSpecial);
  for (size_t i = 0; i < ids.size(); ++i)
    outs() << (i ? " " : "") << ids[i];
  outs() << "\n";
  return 0;
}
