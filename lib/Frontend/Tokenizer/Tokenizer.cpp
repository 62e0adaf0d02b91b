//===- Tokenizer.cpp - finding a model's tokenizer and storing it ---------===//

#include "tern/Frontend/Tokenizer.h"
#include "tern/Runtime/ChatTemplate.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

using namespace mlir;
using namespace mlir::tern;
using TokenizerData = ::tern::rt::TokenizerData;

namespace {

constexpr StringLiteral kAttr = "tern.tokenizer";

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

llvm::Expected<TokenizerData> mlir::tern::readSentencePiece(StringRef path) {
  // tern-spm (next to this program) reads it: libsentencepiece cannot share
  // a process with libprotobuf (see tools/tern-spm).
  std::string self = llvm::sys::fs::getMainExecutable(
      nullptr, reinterpret_cast<void *>(&readSentencePiece));
  llvm::SmallString<256> helper(llvm::sys::path::parent_path(self));
  llvm::sys::path::append(helper, "tern-spm");
  if (!llvm::sys::fs::can_execute(helper))
    return fail(path + ": cannot read SentencePiece models: " + helper +
                " is missing (is this a complete build?)");
  llvm::SmallString<128> out, log;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("tern-spm", "bin", out))
    return fail("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeOut(out);
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("tern-spm", "log", log))
    return fail("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeLog(log);
  std::optional<StringRef> redirects[] = {std::nullopt, std::nullopt,
                                          StringRef(log)};
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(helper, {helper, path, out}, std::nullopt,
                                     redirects, 0, 0, &error);
  if (rc != 0) {
    auto text = llvm::MemoryBuffer::getFile(log);
    if (text && !(*text)->getBuffer().trim().empty())
      return fail((*text)->getBuffer().trim());
    return fail(path + ": " + helper + " failed" +
                (error.empty() ? "" : ": " + error));
  }
  auto bytes = llvm::MemoryBuffer::getFile(out, /*IsText=*/false);
  if (!bytes)
    return fail(out + ": " + bytes.getError().message());
  TokenizerData data;
  if (!TokenizerData::deserialize((*bytes)->getBufferStart(),
                                  (*bytes)->getBufferSize(), data, error))
    return fail(path + ": " + error);
  return std::move(data);
}

llvm::Expected<std::optional<TokenizerData>>
mlir::tern::readTokenizer(StringRef path, std::vector<std::string> *warnings) {
  if (llvm::sys::fs::is_directory(path)) {
    for (StringRef name : {"tokenizer.json", "tokenizer.model"}) {
      llvm::SmallString<256> file(path);
      llvm::sys::path::append(file, name);
      if (llvm::sys::fs::exists(file))
        return readTokenizer(file, warnings);
    }
    return std::nullopt;
  }
  if (!llvm::sys::fs::exists(path))
    return fail(path + ": no such file or directory");
  StringRef ext = llvm::sys::path::extension(path);
  if (ext == ".gguf")
    return readGGUFTokenizer(path, warnings);
  // A .safetensors or .onnx model's tokenizer is beside it.
  if (ext == ".safetensors" || ext == ".onnx") {
    StringRef dir = llvm::sys::path::parent_path(path);
    return readTokenizer(dir.empty() ? "." : dir, warnings);
  }
  llvm::Expected<TokenizerData> data =
      ext == ".json"    ? readHFTokenizer(path)
      : ext == ".model" ? readSentencePiece(path)
                        : llvm::Expected<TokenizerData>(fail(
                              path + ": unknown tokenizer file (expected "
                                     "tokenizer.json, a SentencePiece .model "
                                     "or a .gguf file)"));
  if (!data)
    return data.takeError();
  return std::optional<TokenizerData>(std::move(*data));
}

StringRef mlir::tern::builtinChatTemplate(StringRef format) {
  if (format == "bitnet") // 2B4T (SPEC 6.4)
    return "{{ bos_token }}{% for message in messages %}"
           "{{ message['role'] | capitalize + ': ' + message['content'] | "
           "trim + '<|eot_id|>' }}{% endfor %}"
           "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}";
  if (format == "llama3") // LLaMA-3 Instruct
    return "{% set loop_messages = messages %}{% for message in "
           "loop_messages %}{% set content = '<|start_header_id|>' + "
           "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | "
           "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = "
           "bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if "
           "add_generation_prompt %}{{ "
           "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif "
           "%}";
  return "";
}

std::string mlir::tern::chatTemplateFor(StringRef chatTemplate,
                                        const TokenizerData &data) {
  if (!chatTemplate.empty())
    return chatTemplate.str();
  // A LLaMA-3 vocabulary without a template is taken to be 2B4T's (its
  // GGUF files carry none).
  if (llvm::is_contained(data.tokens, "<|eot_id|>"))
    return builtinChatTemplate("bitnet").str();
  return "";
}

llvm::Error mlir::tern::attachTokenizer(ModuleOp module,
                                        const TokenizerData &data,
                                        int64_t vocab, StringRef origin) {
  std::string error;
  if (!::tern::rt::Tokenizer::create(data, error))
    return fail(origin + ": " + error);
  if (int64_t(data.tokens.size()) > vocab)
    return fail(
        origin + ": the tokenizer has " + llvm::Twine(data.tokens.size()) +
        " tokens, more than the model's vocabulary of " + llvm::Twine(vocab));
  std::string bytes = data.serialize();
  auto type = RankedTensorType::get({int64_t(bytes.size())},
                                    IntegerType::get(module.getContext(), 8));
  module->setAttr(kAttr, DenseResourceElementsAttr::get(
                             type, "tern_tokenizer",
                             HeapAsmResourceBlob::allocateAndCopyInferAlign(
                                 ArrayRef<char>(bytes.data(), bytes.size()))));
  return llvm::Error::success();
}

std::optional<TokenizerData> mlir::tern::attachedTokenizer(ModuleOp module) {
  auto attr = module->getAttrOfType<DenseResourceElementsAttr>(kAttr);
  AsmResourceBlob *blob = attr ? attr.getRawHandle().getBlob() : nullptr;
  if (!blob)
    return std::nullopt;
  ArrayRef<char> bytes = blob->getData();
  TokenizerData data;
  std::string error;
  if (!TokenizerData::deserialize(bytes.data(), bytes.size(), data, error))
    return std::nullopt;
  return data;
}

llvm::Error mlir::tern::addModelTokenizer(ModuleOp module, StringRef input,
                                          StringRef choice,
                                          StringRef chatFormat) {
  if (chatFormat != "auto" && chatFormat != "bitnet" &&
      chatFormat != "llama3" && chatFormat != "none")
    return fail("unknown --chat-format '" + chatFormat +
                "' (known: auto, bitnet, llama3, none)");
  if (choice == "none") {
    module->removeAttr(kAttr);
    return llvm::Error::success();
  }
  // Generic graphs (tern.graph) take numbers, not text.
  if (module->hasAttr("tern.graph")) {
    if (!choice.empty())
      return fail("--tokenizer: " + input +
                  " is not a language model (it has no token input)");
    return llvm::Error::success();
  }
  std::optional<TokenizerData> data;
  std::string origin = choice.str();
  StringRef ext = llvm::sys::path::extension(input);
  if (!choice.empty() || llvm::sys::fs::is_directory(input) ||
      ext == ".safetensors" || ext == ".gguf" || ext == ".onnx") {
    // A .safetensors or .onnx file's tokenizer is in its directory.
    if (choice.empty())
      origin = ext == ".safetensors" || ext == ".onnx"
                   ? llvm::sys::path::parent_path(input).str()
                   : input.str();
    if (origin.empty())
      origin = ".";
    std::vector<std::string> warnings;
    llvm::Expected<std::optional<TokenizerData>> read =
        readTokenizer(origin, &warnings);
    for (const std::string &w : warnings)
      emitWarning(FileLineColLoc::get(module.getContext(), origin, 0, 0)) << w;
    if (!read)
      return fail(llvm::toString(read.takeError()) +
                  (choice.empty() ? " (compile without a tokenizer with "
                                    "--tokenizer=none)"
                                  : ""));
    if (!*read && !choice.empty())
      return fail(origin + ": no tokenizer (tokenizer.json, tokenizer.model or "
                           "tokenizer.ggml.* keys)");
    data = std::move(*read);
  } else {
    data = attachedTokenizer(module); // a .mlir module's own
  }
  if (!data)
    return llvm::Error::success();
  if (chatFormat != "auto")
    data->chatTemplate = builtinChatTemplate(chatFormat).str();
  if (!data->chatTemplate.empty()) {
    ::tern::rt::ChatTemplate chat;
    std::string error;
    if (!chat.parse(data->chatTemplate, error))
      return fail((origin.empty() ? input.str() : origin) +
                  ": chat template: " + error +
                  "; Tern evaluates the Jinja that chat templates use "
                  "(docs/UserGuide.md): give --chat-format=bitnet, llama3 or "
                  "none");
  }
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  auto logits = forward && forward.getNumResults() == 1
                    ? dyn_cast<RankedTensorType>(forward.getResultTypes()[0])
                    : RankedTensorType();
  if (!logits || logits.getRank() != 2 || logits.isDynamicDim(1))
    return fail(input + ": cannot attach a tokenizer: the model has no "
                        "forward function with [tokens, vocab] logits");
  return attachTokenizer(module, *data, logits.getDimSize(1), origin);
}
