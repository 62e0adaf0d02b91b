//===- options.cpp - Fuzzing the executable's command line ----------------===//
//
// An input is the arguments, separated by NUL bytes.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Options.h"

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<std::string> args = {"model"};
  args.emplace_back();
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      args.emplace_back();
    else
      args.back() += char(data[i]);
  }
  std::vector<char *> argv;
  for (std::string &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  tern::rt::Options options;
  bool help = false;
  std::string error;
  (void)tern::rt::parseOptions(int(args.size()), argv.data(), options, help,
                               error);
  return 0;
}
