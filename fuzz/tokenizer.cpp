//===- tokenizer.cpp - Fuzzing tokenizer.json and the runtime tokenizer ---===//
//
// An input is tokenizer.json, tokenizer_config.json and a text (FuzzInput.h's
// separator between them). The reader checks the files; the runtime
// tokenizer built from them encodes the text (arbitrary bytes: invalid
// UTF-8, long runs, added-token look-alikes) and decodes every id; a chat
// template in the config is parsed and renders the text as a message.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "tern/Frontend/Tokenizer.h"
#include "tern/Runtime/ChatTemplate.h"

using namespace tern::fuzz;
using namespace tern::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SmallVector<llvm::StringRef> parts = splitFiles(data, size, 3);
  std::vector<std::pair<std::string, llvm::StringRef>> files = {
      {"/t/tokenizer.json", parts[0]}};
  if (parts.size() > 1)
    files.push_back({"/t/tokenizer_config.json", parts[1]});
  std::string text = parts.size() > 2 ? parts[2].str() : "";
  auto fs = makeFiles(files);
  llvm::Expected<TokenizerData> read =
      mlir::tern::readHFTokenizer("/t/tokenizer.json", *fs);
  if (!read) {
    llvm::consumeError(read.takeError());
    return 0;
  }
  // What ternc stores and the executable reads back.
  std::string bytes = read->serialize(), error;
  TokenizerData data2;
  if (!TokenizerData::deserialize(bytes.data(), bytes.size(), data2, error))
    __builtin_trap(); // our own bytes must read back
  std::unique_ptr<Tokenizer> tok = Tokenizer::create(std::move(data2), error);
  if (!tok)
    return 0;
  for (bool special : {false, true})
    for (int32_t id : tok->encode(text, /*addBos=*/true, special))
      (void)tok->decode(id);
  (void)tok->find(text);
  const TokenizerData &d = tok->data();
  if (!d.chatTemplate.empty()) {
    ChatTemplate chat;
    std::string out;
    if (chat.parse(d.chatTemplate, error))
      (void)chat.render({{"system", "s"}, {"user", text}}, true,
                        tok->spelling(d.bos), tok->spelling(d.eos), out, error);
  }
  return 0;
}
