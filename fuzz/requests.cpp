//===- requests.cpp - Fuzzing the server's request reader -----------------===//
//
// An input is a flag byte (bit 0: a chat completion) and a request body.
// The tokenizer is a small SentencePiece vocabulary with byte fallback and
// 2B4T's chat template, so that prompts and messages reach the tokenizer
// and the template as they do in a served model.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Requests.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace tern::rt;

namespace {

std::unique_ptr<Tokenizer> makeTokenizer() {
  TokenizerData d;
  d.kind = TokenizerData::Kind::SentencePieceBPE;
  auto add = [&](std::string text, TokenizerData::TokenType type) {
    d.tokens.push_back(std::move(text));
    d.types.push_back(type);
    d.scores.push_back(-float(d.tokens.size()));
  };
  add("<unk>", TokenizerData::Unknown);
  add("<s>", TokenizerData::Control);
  add("</s>", TokenizerData::Control);
  add("<|eot_id|>", TokenizerData::Control);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    add(name, TokenizerData::Byte);
  }
  for (const char *piece : {"\xE2\x96\x81", "\xE2\x96\x81t", "h", "e", "t",
                            "th", "\xE2\x96\x81th", "\xE2\x96\x81the"})
    add(piece, TokenizerData::Normal);
  d.added = {{1}, {2}, {3}};
  d.unk = 0, d.bos = 1, d.eos = 2;
  d.addBos = true;
  d.byteFallback = true;
  d.splitWords = true;
  d.prefix = TokenizerData::Prefix::Start;
  d.chatTemplate =
      "{{ bos_token }}{% for message in messages %}"
      "{{ message['role'] | capitalize + ': ' + message['content'] | "
      "trim + '<|eot_id|>' }}{% endfor %}"
      "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}";
  std::string error;
  std::unique_ptr<Tokenizer> tok = Tokenizer::create(std::move(d), error);
  if (!tok) {
    std::fprintf(stderr, "requests fuzzer: tokenizer: %s\n", error.c_str());
    std::abort();
  }
  return tok;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static std::unique_ptr<Tokenizer> tok = makeTokenizer();
  static RequestReader reader(*tok, int64_t(tok->size()), /*context=*/64);
  if (size == 0)
    return 0;
  std::string body(reinterpret_cast<const char *>(data) + 1, size - 1);
  CompletionRequest request;
  (void)reader.read(body, /*chat=*/data[0] & 1, request);
  return 0;
}
