//===- Tokenizer.cpp - finding a model's tokenizer and storing it ---------===//

#include "tern/Frontend/Tokenizer.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::tern;
using TokenizerData = ::tern::rt::TokenizerData;

namespace {

constexpr StringLiteral kAttr = "tern.tokenizer";

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

llvm::Expected<std::optional<TokenizerData>>
mlir::tern::readTokenizer(StringRef path) {
  if (llvm::sys::fs::is_directory(path)) {
    for (StringRef name : {"tokenizer.json", "tokenizer.model"}) {
      llvm::SmallString<256> file(path);
      llvm::sys::path::append(file, name);
      if (llvm::sys::fs::exists(file))
        return readTokenizer(file);
    }
    return std::nullopt;
  }
  if (!llvm::sys::fs::exists(path))
    return fail(path + ": no such file or directory");
  StringRef ext = llvm::sys::path::extension(path);
  llvm::Expected<TokenizerData> data =
      ext == ".json"    ? readHFTokenizer(path)
      : ext == ".model" ? readSentencePiece(path)
      : ext == ".gguf"
          ? readGGUFTokenizer(path)
          : llvm::Expected<TokenizerData>(fail(
                path + ": unknown tokenizer file (expected tokenizer.json, a "
                       "SentencePiece .model or a .gguf file)"));
  if (!data)
    return data.takeError();
  return std::optional<TokenizerData>(std::move(*data));
}

std::string mlir::tern::chatFormatOf(StringRef chatTemplate,
                                     const TokenizerData &data) {
  bool hasEot = llvm::is_contained(data.tokens, "<|eot_id|>");
  if (chatTemplate.contains("<|start_header_id|>"))
    return "llama3";
  // BitNet b1.58 2B4T (SPEC 6.4): "Role: content<|eot_id|>", and a LLaMA-3
  // vocabulary without a template is taken to be that model's.
  if ((chatTemplate.contains("Assistant: ") && hasEot) ||
      (chatTemplate.empty() && hasEot))
    return "bitnet";
  return "";
}

llvm::Error mlir::tern::attachTokenizer(ModuleOp module,
                                        const TokenizerData &data,
                                        int64_t vocab, StringRef origin) {
  std::string error;
  if (!::tern::rt::Tokenizer::create(data, error))
    return fail(origin + ": " + error);
  if (int64_t(data.tokens.size()) > vocab)
    return fail(origin + ": the tokenizer has " +
                llvm::Twine(data.tokens.size()) +
                " tokens, more than the model's vocabulary of " +
                llvm::Twine(vocab));
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
