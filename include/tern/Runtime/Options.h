//===- Options.h - Command line of emitted executables ----------*- C++ -*-===//

#ifndef TERN_RUNTIME_OPTIONS_H
#define TERN_RUNTIME_OPTIONS_H

#include "tern/Runtime/Sampling.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tern::rt {

struct Options {
  std::vector<int32_t> prompt; ///< --tokens
  std::string text;            ///< -p, or the contents of -f
  std::string promptFile;      ///< -f
  bool chat = false;           ///< --chat
  std::string system;          ///< --system (chat)
  bool verbosePrompt = false;  ///< --verbose-prompt
  bool displayPrompt = true;   ///< false: --no-display-prompt
  int64_t generate = 16;       ///< -n (default: 16 ids, 256 text, 1024 chat)
  bool generateSet = false;
  int64_t context = 0;     ///< -c, 0 = the model's context length
  int threads = 0;         ///< -t, 0 = all cores
  SamplingParams sampling; ///< --temp, --top-k, --top-p, --min-p, ...
  uint64_t seed = 0;       ///< --seed, 0 = from the clock
  bool seedSet = false;
  std::string dumpLogits; ///< --dump-logits FILE.npy
  std::string dumpTokens; ///< --dump-tokens FILE
  bool quiet = false;     ///< -q: no timings
  bool ignoreEos = false; ///< --ignore-eos: generate all -n tokens
  /// --no-gpu-graphs: NVIDIA executables launch each kernel when the host
  /// code reaches it instead of replaying decode steps as CUDA graphs.
  bool gpuGraphs = true;
  bool mmapWeights = false; ///< --mmap: no copy in huge pages
  /// --bench: prompt processing and generation speed on synthetic tokens.
  bool bench = false;
  int64_t benchPrompt = 128; ///< --bench-pp
  int64_t benchGen = 128;    ///< --bench-tg
  int64_t benchReps = 3;     ///< --bench-reps
  /// --serve: the OpenAI-compatible HTTP server (lib/Runtime/Server.cpp).
  bool serve = false;
  std::string host = "127.0.0.1"; ///< --host
  int port = 8080;                ///< --port
  int parallel = 4;               ///< --parallel: sequences in flight
  int64_t batchSize = 256;        ///< --batch-size: tokens per step
  int64_t prefillChunk = 32;      ///< --prefill-chunk: beside decoding ones
  int queue = 64;                 ///< --queue: requests waiting for a slot
  std::string alias;              ///< --alias: the model's name in the API
  bool kvF16 = false;             ///< --kv-type f16 (default f32)
  bool kvTypeSet = false;         ///< --kv-type given (the server's is f16)
  int timeout = 30; ///< --timeout: seconds a client may stall a read or write
};

/// Parses argv. On a bad flag, writes the reason to `error` and returns
/// false; `--help` sets `help`.
bool parseOptions(int argc, char **argv, Options &options, bool &help,
                  std::string &error);

/// The --help text.
const char *usage();

} // namespace tern::rt

#endif // TERN_RUNTIME_OPTIONS_H
