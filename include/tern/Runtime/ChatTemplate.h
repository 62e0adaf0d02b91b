//===- ChatTemplate.h - the Jinja subset of chat templates ------*- C++ -*-===//
//
// A model's chat template (tokenizer_config.json's chat_template, a GGUF's
// tokenizer.chat_template) is Jinja. No C++ Jinja library is packaged in
// Debian, so this is the subset chat templates use, evaluated as
// transformers' apply_chat_template does (Jinja2 with trim_blocks,
// lstrip_blocks and loop controls; its raise_exception, strftime_now and
// tojson): if/elif/else, for (with loop.*, unpacking, break, continue),
// set (variables and namespace attributes), the expressions, filters and
// tests templates write. ternc parses the template when it compiles a model
// (an unsupported construct is a compile-time error naming it); the
// executable renders each conversation with it.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_CHATTEMPLATE_H
#define TERN_RUNTIME_CHATTEMPLATE_H

#include <memory>
#include <string>
#include <vector>

namespace tern::rt {

struct ChatMessage {
  std::string role, content;
};

class ChatTemplate {
public:
  ChatTemplate();
  ~ChatTemplate();
  ChatTemplate(ChatTemplate &&);
  ChatTemplate &operator=(ChatTemplate &&);

  /// Parses `source`; false with `error` ("line N: what") when it uses
  /// something outside the subset or is not valid Jinja.
  bool parse(const std::string &source, std::string &error);

  /// Renders `messages` as apply_chat_template(messages,
  /// add_generation_prompt=...) with the tokenizer's `bos` and `eos`
  /// strings; false with `error` (a raise_exception message, or a runtime
  /// type error) on failure.
  bool render(const std::vector<ChatMessage> &messages,
              bool addGenerationPrompt, const std::string &bos,
              const std::string &eos, std::string &out,
              std::string &error) const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl;
};

} // namespace tern::rt

#endif // TERN_RUNTIME_CHATTEMPLATE_H
