//===- tern-tokenize.cpp - a model's tokenizer, as executables run it -----===//
//
// Reads a tokenizer the way ternc does and encodes text with the runtime's
// tokenizer: for looking at token ids, and for the tests that compare them
// with Hugging Face tokenizers and SentencePiece.
//
//===----------------------------------------------------------------------===//

#include "tern/Frontend/Tokenizer.h"
#include "tern/Runtime/ChatTemplate.h"

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
cl::opt<std::string> render(
    "render",
    cl::desc("JSON file with an array of {\"messages\": [{\"role\", "
             "\"content\"}...], \"add_generation_prompt\": bool}: writes a "
             "JSON array of the tokenizer's chat template's renderings "
             "(or {\"error\": message})"),
    cl::value_desc("file"), cl::cat(category));
cl::opt<std::string> chatFormat(
    "chat-format",
    cl::desc("Replace the chat template with ternc's built-in one: bitnet "
             "or llama3"),
    cl::value_desc("format"), cl::cat(category));

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
  if (!chatFormat.empty()) {
    (*data)->chatTemplate = mlir::tern::builtinChatTemplate(chatFormat).str();
    if ((*data)->chatTemplate.empty())
      return fail("unknown --chat-format '" + chatFormat +
                  "' (known: bitnet, llama3)");
  }
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
           << "\nchat template: "
           << (d.chatTemplate.empty() ? "none" : d.chatTemplate) << "\n";
    return 0;
  }
  if (!render.empty()) {
    tern::rt::ChatTemplate chat;
    if (!chat.parse(d.chatTemplate, error))
      return fail(tokenizerPath + ": chat template: " + error);
    auto buffer = MemoryBuffer::getFile(render);
    if (!buffer)
      return fail(render + ": " + buffer.getError().message());
    Expected<json::Value> list = json::parse((*buffer)->getBuffer());
    if (!list || !list->getAsArray())
      return fail(render + ": expected a JSON array of conversations");
    auto text = [&](int32_t id) {
      return id >= 0 && size_t(id) < d.tokens.size() ? d.tokens[id] : "";
    };
    json::Array out;
    for (const json::Value &item : *list->getAsArray()) {
      const json::Object *o = item.getAsObject();
      const json::Array *msgs = o ? o->getArray("messages") : nullptr;
      if (!msgs)
        return fail(render + ": a conversation has no \"messages\" array");
      std::vector<tern::rt::ChatMessage> messages;
      for (const json::Value &m : *msgs) {
        const json::Object *mo = m.getAsObject();
        if (!mo || !mo->getString("role") || !mo->getString("content"))
          return fail(render + ": a message needs \"role\" and \"content\"");
        messages.push_back(
            {mo->getString("role")->str(), mo->getString("content")->str()});
      }
      std::string rendered, why;
      if (chat.render(messages,
                      o->getBoolean("add_generation_prompt").value_or(false),
                      text(d.bos), text(d.eos), rendered, why))
        out.push_back(rendered);
      else
        out.push_back(json::Object{{"error", why}});
    }
    outs() << json::Value(std::move(out)) << "\n";
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
