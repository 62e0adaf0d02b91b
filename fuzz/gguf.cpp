//===- gguf.cpp - Fuzzing the GGUF reader ---------------------------------===//
//
// An input is one GGUF file: the model import (header, metadata, tensor
// table, every weight decoder) and the tokenizer keys read it.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"
#include "FuzzMLIR.h"

#include "tern/Frontend/Tokenizer.h"

using namespace tern::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef file(reinterpret_cast<const char *>(data), size);
  auto fs = makeFiles({{"/model.gguf", file}});
  importFrom(*fs, "/model.gguf");
  std::vector<std::string> warnings;
  auto tokenizer = mlir::tern::readGGUFTokenizer("/model.gguf", &warnings, *fs);
  if (!tokenizer) {
    llvm::consumeError(tokenizer.takeError());
  } else if (*tokenizer) {
    std::string error;
    (void)tern::rt::Tokenizer::create(std::move(**tokenizer), error);
  }
  return 0;
}
