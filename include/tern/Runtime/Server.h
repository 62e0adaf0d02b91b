//===- Server.h - the executable's OpenAI-compatible HTTP server -*- C++
//-*-===//

#ifndef TERN_RUNTIME_SERVER_H
#define TERN_RUNTIME_SERVER_H

#include "tern/Runtime/Options.h"

#include <cstdint>

namespace tern::rt {

class Tokenizer;

/// --serve: answers /v1/completions, /v1/chat/completions, /v1/models,
/// /health and /metrics until SIGTERM or SIGINT, then finishes the
/// requests in flight and returns 0 (lib/Runtime/Server.cpp).
int serve(const Options &options, const Tokenizer &tokenizer, int64_t vocab,
          int64_t context, const char *modelName);

} // namespace tern::rt

#endif // TERN_RUNTIME_SERVER_H
