//===- checkpoint.cpp - Fuzzing the Hugging Face checkpoint reader --------===//
//
// An input is a checkpoint directory: config.json, then either
// model.safetensors or model.safetensors.index.json and its shards
// model-0000K-of-0000N.safetensors (FuzzInput.h's separator between files).
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"
#include "FuzzMLIR.h"

#include "llvm/Support/FormatVariadic.h"

using namespace tern::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SmallVector<llvm::StringRef> parts = splitFiles(data, size, 5);
  std::vector<std::pair<std::string, llvm::StringRef>> files = {
      {"/m/config.json", parts[0]}};
  if (parts.size() == 2) {
    files.push_back({"/m/model.safetensors", parts[1]});
  } else if (parts.size() > 2) {
    files.push_back({"/m/model.safetensors.index.json", parts[1]});
    size_t shards = parts.size() - 2;
    for (size_t k = 0; k < shards; ++k)
      files.push_back(
          {llvm::formatv("/m/model-{0:d5}-of-{1:d5}.safetensors", k + 1, shards)
               .str(),
           parts[k + 2]});
  }
  auto fs = makeFiles(files);
  importFrom(*fs, "/m");
  return 0;
}
