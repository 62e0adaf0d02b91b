//===- onnx.cpp - Fuzzing the ONNX reader ---------------------------------===//
//
// An input is an ONNX file, optionally followed by external data files
// /d0, /d1 (FuzzInput.h's separator between files): the protobuf parse, the
// checker, the probe interpreter and the pattern matcher read it.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"
#include "FuzzMLIR.h"

using namespace tern::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SmallVector<llvm::StringRef> parts = splitFiles(data, size, 3);
  std::vector<std::pair<std::string, llvm::StringRef>> files = {
      {"/model.onnx", parts[0]}};
  for (size_t k = 1; k < parts.size(); ++k)
    files.push_back({"/d" + std::to_string(k - 1), parts[k]});
  auto fs = makeFiles(files);
  importFrom(*fs, "/model.onnx");
  return 0;
}
