//===- Requests.cpp - Checking the server's completion requests -----------===//
//
// nlohmann::json reads the bodies without exceptions (parse with
// allow_exceptions=false; every access checks the type first), so that no
// body a client sends can end the server.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Requests.h"

#include <nlohmann/json.hpp>

#include <algorithm>

using namespace tern::rt;
using json = nlohmann::json;

namespace {

/// Whether object `o` has "type": "text" (json's value() would throw for a
/// "type" that is not a string).
bool isText(const json &o) {
  auto type = o.find("type");
  return type != o.end() && *type == "text";
}

/// The sampling and stopping fields of a request.
struct Params {
  bool stream = false, includeUsage = false, ignoreEos = false;
  std::optional<int64_t> maxTokens;
  SamplingParams sampling;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
};

/// Reads the sampling and stopping fields of `body` into `p`; a field of
/// the wrong type or range, or one that would change results and is not
/// supported, is a Refusal naming it.
std::optional<Refusal> readParams(const json &body, bool chat, Params &p) {
  auto bad = [](const std::string &field, const std::string &what) {
    return Refusal{400, "'" + field + "' " + what, field};
  };
  auto number = [&](const char *field, double lo, double hi,
                    float &out) -> std::optional<Refusal> {
    auto it = body.find(field);
    if (it == body.end() || it->is_null())
      return std::nullopt;
    if (!it->is_number())
      return bad(field, "must be a number");
    double v = it->get<double>();
    if (!(v >= lo && v <= hi))
      return bad(field, "must be between " + json(lo).dump() + " and " +
                            json(hi).dump());
    out = float(v);
    return std::nullopt;
  };
  auto integer = [&](const char *field, int64_t lo,
                     int64_t hi) -> std::optional<std::optional<int64_t>> {
    auto it = body.find(field);
    if (it == body.end() || it->is_null())
      return std::optional<int64_t>();
    if (!it->is_number_integer())
      return std::nullopt;
    int64_t v = it->is_number_unsigned()
                    ? int64_t(std::min<uint64_t>(it->get<uint64_t>(),
                                                 uint64_t(INT64_MAX)))
                    : it->get<int64_t>();
    if (v < lo || v > hi)
      return std::nullopt;
    return std::optional<int64_t>(v);
  };
  // Fields that would change the answer and that Tern does not do.
  for (const char *field :
       {"logprobs", "top_logprobs", "tools", "functions", "tool_choice",
        "function_call", "suffix", "echo", "logit_bias", "best_of"}) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null() ||
        (it->is_boolean() && !it->get<bool>()) ||
        (it->is_object() && it->empty()) || (it->is_array() && it->empty()) ||
        (std::string(field) == "best_of" && *it == 1))
      continue;
    return Refusal{400, "'" + std::string(field) + "' is not supported", field};
  }
  if (auto it = body.find("n"); it != body.end() && !it->is_null() && *it != 1)
    return Refusal{400, "'n' must be 1: one completion per request", "n"};
  for (const char *field : {"presence_penalty", "frequency_penalty"})
    if (auto it = body.find(field);
        it != body.end() && !it->is_null() && *it != 0)
      return Refusal{400,
                     "'" + std::string(field) +
                         "' is not supported (use repeat_penalty)",
                     field};
  if (auto it = body.find("response_format");
      it != body.end() && !it->is_null() && !(it->is_object() && isText(*it)))
    return Refusal{400, "'response_format' other than text is not supported",
                   "response_format"};

  if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean())
      return bad("stream", "must be true or false");
    p.stream = it->get<bool>();
  }
  // llama-server's extension: generate all max_tokens.
  if (auto it = body.find("ignore_eos"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean())
      return bad("ignore_eos", "must be true or false");
    p.ignoreEos = it->get<bool>();
  }
  if (auto it = body.find("stream_options");
      it != body.end() && !it->is_null()) {
    if (!it->is_object())
      return bad("stream_options", "must be an object");
    auto usage = it->find("include_usage");
    if (usage != it->end() && !usage->is_null() && !usage->is_boolean())
      return bad("stream_options", "'include_usage' must be true or false");
    p.includeUsage = usage != it->end() && *usage == true;
  }
  for (const char *field : {"max_tokens", "max_completion_tokens"}) {
    if (!chat && std::string(field) == "max_completion_tokens")
      continue;
    auto v = integer(field, 0, INT64_MAX);
    if (!v)
      return bad(field, "must be an integer >= 0");
    if (*v)
      p.maxTokens = **v;
  }
  p.sampling = SamplingParams();
  // OpenAI's default temperature is 1; llama.cpp's sampler chain after it.
  p.sampling.temperature = 1.0f;
  if (auto r = number("temperature", 0, 100, p.sampling.temperature))
    return r;
  if (auto r = number("top_p", 0, 1, p.sampling.topP))
    return r;
  if (auto r = number("min_p", 0, 1, p.sampling.minP))
    return r;
  if (auto r = number("repeat_penalty", 1e-3, 1e3, p.sampling.repeatPenalty))
    return r;
  auto topK = integer("top_k", 0, INT32_MAX);
  if (!topK)
    return bad("top_k", "must be an integer >= 0");
  if (*topK)
    p.sampling.topK = int(**topK);
  auto seed = integer("seed", INT64_MIN, INT64_MAX);
  if (!seed)
    return bad("seed", "must be an integer");
  if (*seed)
    p.seed = uint64_t(**seed);
  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    json stops = it->is_string() ? json::array({*it}) : *it;
    if (!stops.is_array() || stops.size() > 16)
      return bad("stop", "must be a string or up to 16 strings");
    for (const json &s : stops) {
      if (!s.is_string() || s.get<std::string>().empty())
        return bad("stop", "must hold non-empty strings");
      p.stop.push_back(s.get<std::string>());
    }
  }
  return std::nullopt;
}

/// The prompt of a /v1/completions body: a string, or token ids.
std::optional<Refusal> completionPrompt(const json &body, const Tokenizer &tok,
                                        int64_t vocab,
                                        std::vector<int32_t> &ids) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null())
    return Refusal{400, "'prompt' is required", "prompt"};
  json prompt = *it;
  if (prompt.is_array() && prompt.size() == 1 && prompt[0].is_string())
    prompt = prompt[0];
  if (prompt.is_string()) {
    if (prompt.get<std::string>().empty())
      return Refusal{400, "'prompt' is empty", "prompt"};
    ids = tok.encode(prompt.get<std::string>(), /*addBos=*/true);
    return std::nullopt;
  }
  if (prompt.is_array() && !prompt.empty() &&
      std::all_of(prompt.begin(), prompt.end(),
                  [](const json &v) { return v.is_number_integer(); })) {
    for (const json &v : prompt) {
      int64_t id = v.get<int64_t>();
      if (id < 0 || id >= vocab)
        return Refusal{400,
                       "token id " + std::to_string(id) +
                           " in 'prompt' is outside the vocabulary [0, " +
                           std::to_string(vocab) + ")",
                       "prompt"};
      ids.push_back(int32_t(id));
    }
    return std::nullopt;
  }
  if (prompt.is_array() && prompt.size() > 1)
    return Refusal{400, "'prompt' holds several prompts: send one per request",
                   "prompt"};
  return Refusal{400, "'prompt' must be a string or an array of token ids",
                 "prompt"};
}

/// The prompt of a /v1/chat/completions body: the messages in the
/// model's chat template.
std::optional<Refusal> chatPrompt(const json &body, const Tokenizer &tok,
                                  const ChatTemplate *chatTemplate,
                                  std::vector<int32_t> &ids) {
  if (!chatTemplate)
    return Refusal{400,
                   "this model was compiled without a chat template "
                   "(ternc --chat-format=bitnet|llama3); use "
                   "/v1/completions",
                   "messages"};
  auto it = body.find("messages");
  if (it == body.end() || !it->is_array() || it->empty())
    return Refusal{400, "'messages' must be a non-empty array", "messages"};
  std::vector<ChatMessage> messages;
  for (const json &m : *it) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      return Refusal{400, "each message needs a string 'role'", "messages"};
    std::string role = m["role"];
    if (role != "system" && role != "user" && role != "assistant" &&
        role != "developer")
      return Refusal{400, "message role '" + role + "' is not supported",
                     "messages"};
    const json &content = m.contains("content") ? m["content"] : json();
    std::string text;
    if (content.is_string()) {
      text = content.get<std::string>();
    } else if (content.is_array()) { // content parts: text only
      for (const json &part : content) {
        if (!part.is_object() || !isText(part) || !part.contains("text") ||
            !part["text"].is_string())
          return Refusal{400, "only text content parts are supported",
                         "messages"};
        text += part["text"].get<std::string>();
      }
    } else {
      return Refusal{400, "message 'content' must be a string", "messages"};
    }
    messages.push_back({role == "developer" ? "system" : role, text});
  }
  const TokenizerData &d = tok.data();
  std::string text, error;
  if (!chatTemplate->render(messages, /*addGenerationPrompt=*/true,
                            tok.spelling(d.bos), tok.spelling(d.eos), text,
                            error))
    return Refusal{400, "the chat template: " + error, "messages"};
  ids = tok.encode(text, /*addBos=*/false, /*parseSpecial=*/true);
  return std::nullopt;
}

} // namespace

RequestReader::RequestReader(const Tokenizer &tok, int64_t vocab,
                             int64_t context)
    : tok(tok), vocab(vocab), context(context) {
  const TokenizerData &d = tok.data();
  std::string error;
  hasChat =
      !d.chatTemplate.empty() && chatTemplate.parse(d.chatTemplate, error);
}

std::optional<Refusal> RequestReader::read(const std::string &text, bool chat,
                                           CompletionRequest &out) const {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded())
    return Refusal{400, "the body is not valid JSON (or not UTF-8)"};
  if (!body.is_object())
    return Refusal{400, "the body must be a JSON object"};
  Params p;
  if (auto r = readParams(body, chat, p))
    return r;
  if (auto r = chat ? chatPrompt(body, tok, hasChat ? &chatTemplate : nullptr,
                                 out.prompt)
                    : completionPrompt(body, tok, vocab, out.prompt))
    return r;
  auto promptTokens = int64_t(out.prompt.size());
  if (promptTokens >= context)
    return Refusal{400,
                   "the prompt has " + std::to_string(promptTokens) +
                       " tokens; the context is " + std::to_string(context) +
                       " per request (-c)",
                   chat ? "messages" : "prompt"};
  out.stream = p.stream;
  out.includeUsage = p.includeUsage;
  out.ignoreEos = p.ignoreEos;
  out.maxTokens = std::min(p.maxTokens.value_or(chat ? context : 16),
                           context - promptTokens);
  out.sampling = p.sampling;
  out.seed = p.seed;
  out.stop = p.stop;
  return std::nullopt;
}
