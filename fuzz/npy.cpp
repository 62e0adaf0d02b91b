//===- npy.cpp - Fuzzing the executable's .npy reader ---------------------===//

#include "tern/Runtime/Npy.h"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size), error;
  std::vector<int64_t> shape;
  std::vector<float> values;
  (void)tern::rt::parseNpyF32(bytes, "input.npy", shape, values, error);
  return 0;
}
