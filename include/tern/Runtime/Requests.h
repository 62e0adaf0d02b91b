//===- Requests.h - Checking the server's completion requests --*- C++ -*-===//
//
// What a POST to /v1/completions or /v1/chat/completions asks for, read
// from its JSON body and checked: the prompt's tokens and the sampling and
// stopping fields. Kept apart from the HTTP side (Server.cpp) so that the
// request fuzzer (fuzz/) runs exactly this code.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_REQUESTS_H
#define TERN_RUNTIME_REQUESTS_H

#include "tern/Runtime/ChatTemplate.h"
#include "tern/Runtime/Sampling.h"
#include "tern/Runtime/Tokenizer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tern::rt {

/// A request the server refuses: status and OpenAI-style error.
struct Refusal {
  Refusal(int status, std::string message, std::string param = "",
          const char *type = "invalid_request_error")
      : status(status), message(std::move(message)), param(std::move(param)),
        type(type) {}
  int status;
  std::string message, param;
  const char *type;
};

/// A completion request, checked.
struct CompletionRequest {
  bool stream = false, includeUsage = false, ignoreEos = false;
  /// Tokens to generate at most: what the request asks (default: OpenAI's
  /// 16 for completions, the rest of the context for chat), never past the
  /// context.
  int64_t maxTokens = 0;
  SamplingParams sampling;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  std::vector<int32_t> prompt;
};

class RequestReader {
public:
  /// Requests for a model with `vocab` tokens and `context` positions per
  /// request, tokenized by `tok`, which must outlive the reader.
  RequestReader(const Tokenizer &tok, int64_t vocab, int64_t context);

  /// Reads the JSON `body` of a completion (or, with `chat`, a chat
  /// completion) request into `out`; a Refusal saying what is wrong
  /// otherwise. Never throws.
  std::optional<Refusal> read(const std::string &body, bool chat,
                              CompletionRequest &out) const;

  const Tokenizer &tokenizer() const { return tok; }

private:
  const Tokenizer &tok;
  int64_t vocab, context;
  ChatTemplate chatTemplate;
  bool hasChat = false;
};

} // namespace tern::rt

#endif // TERN_RUNTIME_REQUESTS_H
