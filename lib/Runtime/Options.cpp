//===- Options.cpp - Command line of emitted executables ------------------===//
//
// Spelled like llama.cpp's where a flag exists there.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <type_traits>

using namespace tern::rt;

const char *tern::rt::usage() {
  return "usage: MODEL -p TEXT | -f FILE | --chat | --tokens IDS | --serve "
         "[options]\n"
         "\n"
         "  -p, --prompt TEXT   prompt text (needs a tokenizer compiled in)\n"
         "  -f, --file FILE     prompt text from FILE\n"
         "  --chat              interactive chat in the model's chat format: "
         "one user\n"
         "                      turn per line of standard input, until "
         "end of input\n"
         "  --system TEXT       system message for --chat\n"
         "  --tokens IDS        prompt as comma-separated token ids; prints "
         "ids\n"
         "  -n N                tokens to generate (default 256 for text, "
         "1024 per\n"
         "                      chat turn, 16 for --tokens); generation "
         "stops early\n"
         "                      at the model's end-of-sequence tokens\n"
         "  --no-display-prompt do not print the prompt before the "
         "generated text\n"
         "  --verbose-prompt    print the prompt's token ids to stderr\n"
         "  --ignore-eos        generate all N tokens\n"
         "  --no-gpu-graphs     NVIDIA executables: launch every kernel as "
         "the host\n"
         "                      reaches it, not decode steps as CUDA graphs\n"
         "  -c N                context size (default: the model's, at most "
         "4096)\n"
         "  -t N                threads (default: all hardware threads)\n"
         "  --mmap              use the weights mapped from the executable "
         "file, not\n"
         "                      a copy in huge pages: starts sooner and "
         "shares their\n"
         "                      memory with other processes of the file, "
         "runs slower\n"
         "  --kv-type T         KV cache element type: f32 (default, exact) "
         "or f16\n"
         "                      (half the memory and bytes read per token: "
         "faster at\n"
         "                      long context and many sequences; logits move "
         "by\n"
         "                      rounding); --serve defaults to f16\n"
         "  --temp T            sampling temperature, 0 = greedy (default "
         "0.8)\n"
         "  --greedy            same as --temp 0\n"
         "  --top-k K           sample among the K most likely (default 40, "
         "0 = off)\n"
         "  --top-p P           ... and the most likely whose probabilities "
         "sum to P\n"
         "                      (default 0.95, 1 = off)\n"
         "  --min-p P           ... and those at least P times the most "
         "likely's\n"
         "                      probability (default 0.05, 0 = off)\n"
         "  --repeat-penalty R  divide the logits of the last tokens by R "
         "(default 1 = off)\n"
         "  --repeat-last-n N   tokens the penalty looks back on (default 64, "
         "-1 = all)\n"
         "  --seed S            random seed (default: from the clock)\n"
         "  --dump-logits FILE  write prompt logits as float32 .npy [n, "
         "vocab]\n"
         "  --dump-tokens FILE  write generated token ids, one per line\n"
         "  -q                  do not print timings\n"
         "  --bench             measure prompt processing and generation "
         "(tokens/s,\n"
         "                      median, min and max) on synthetic tokens; "
         "no --tokens\n"
         "  --bench-pp N        prompt tokens (default 128)\n"
         "  --bench-tg N        generated tokens (default 128)\n"
         "  --bench-reps N      repetitions (default 3)\n"
         "  --serve             serve an OpenAI-compatible HTTP API "
         "(/v1/completions,\n"
         "                      /v1/chat/completions, /v1/models, /health, "
         "/metrics)\n"
         "  --host H            address to listen on (default 127.0.0.1)\n"
         "  --port P            port (default 8080)\n"
         "  --parallel N        sequences generated at once, each with its "
         "own KV cache\n"
         "                      of -c positions (default 4)\n"
         "  --batch-size N      tokens per forward step: decode tokens plus "
         "prompt\n"
         "                      chunks (default 256)\n"
         "  --prefill-chunk N   prompt tokens a step takes while sequences "
         "decode\n"
         "                      (default 32): a smaller chunk stretches "
         "their time\n"
         "                      between tokens less, prompts take longer\n"
         "  --queue N           requests that may wait for a sequence slot; "
         "more get\n"
         "                      503 (default 64)\n"
         "  --alias NAME        the model's name in the API (default: the "
         "executable's)\n"
         "  --timeout S         seconds a client may take to send a request "
         "or to read\n"
         "                      a piece of the answer before it is dropped "
         "(default 30)\n"
         "  -h, --help          this text\n";
}

namespace {

bool parseInt(const char *text, int64_t lo, int64_t hi, int64_t &out) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || end == text || *end || v < lo || v > hi)
    return false;
  out = v;
  return true;
}

bool parseIds(const std::string &text, std::vector<int32_t> &out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma - start);
    int64_t v;
    if (!parseInt(item.c_str(), INT32_MIN, INT32_MAX, v))
      return false;
    out.push_back(int32_t(v));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return true;
}

} // namespace

bool tern::rt::parseOptions(int argc, char **argv, Options &o, bool &help,
                            std::string &error) {
  help = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      help = true;
      return true;
    }
    if (flag == "--greedy") {
      o.sampling.temperature = 0;
      continue;
    }
    if (flag == "-q") {
      o.quiet = true;
      continue;
    }
    if (flag == "--ignore-eos") {
      o.ignoreEos = true;
      continue;
    }
    if (flag == "--mmap") {
      o.mmapWeights = true;
      continue;
    }
    if (flag == "--no-gpu-graphs") {
      o.gpuGraphs = false;
      continue;
    }
    if (flag == "--bench") {
      o.bench = true;
      continue;
    }
    if (flag == "--serve") {
      o.serve = true;
      continue;
    }
    if (flag == "--chat") {
      o.chat = true;
      continue;
    }
    if (flag == "--verbose-prompt") {
      o.verbosePrompt = true;
      continue;
    }
    if (flag == "--no-display-prompt") {
      o.displayPrompt = false;
      continue;
    }
    // Flags that take a value: each parses its value into `o`.
    auto setInt = [](auto &field, int64_t lo, int64_t hi) {
      return [&field, lo, hi](const std::string &v) {
        int64_t n;
        if (!parseInt(v.c_str(), lo, hi, n))
          return false;
        field = std::remove_reference_t<decltype(field)>(n);
        return true;
      };
    };
    auto setFloat = [](float &field, double lo, double hi) {
      return [&field, lo, hi](const std::string &v) {
        char *end = nullptr;
        double x = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || *end || !std::isfinite(x) || x < lo || x > hi)
          return false;
        field = float(x);
        return true;
      };
    };
    auto setString = [](std::string &field) {
      return [&field](const std::string &v) { return field = v, true; };
    };
    const std::pair<const char *, std::function<bool(const std::string &)>>
        valued[] = {
            {"--tokens",
             [&](const std::string &v) {
               o.prompt.clear();
               return parseIds(v, o.prompt);
             }},
            {"-n",
             [&](const std::string &v) {
               o.generateSet = true;
               return setInt(o.generate, 0, INT32_MAX)(v);
             }},
            {"-p", setString(o.text)},
            {"--prompt", setString(o.text)},
            {"-f", setString(o.promptFile)},
            {"--file", setString(o.promptFile)},
            {"--system", setString(o.system)},
            {"-c", setInt(o.context, 1, INT32_MAX)},
            {"-t", setInt(o.threads, 1, 4096)},
            {"--bench-pp", setInt(o.benchPrompt, 1, INT32_MAX)},
            {"--bench-tg", setInt(o.benchGen, 1, INT32_MAX)},
            {"--bench-reps", setInt(o.benchReps, 1, 1000)},
            {"--top-k", setInt(o.sampling.topK, 0, INT32_MAX)},
            {"--top-p", setFloat(o.sampling.topP, 0, 1)},
            {"--min-p", setFloat(o.sampling.minP, 0, 1)},
            {"--repeat-penalty", setFloat(o.sampling.repeatPenalty, 1e-3, 1e3)},
            {"--repeat-last-n", setInt(o.sampling.repeatLastN, -1, INT32_MAX)},
            {"--seed",
             [&](const std::string &v) {
               o.seedSet = true;
               return setInt(o.seed, 0, INT64_MAX)(v);
             }},
            {"--temp", setFloat(o.sampling.temperature, 0, 1e6)},
            {"--dump-logits", setString(o.dumpLogits)},
            {"--dump-tokens", setString(o.dumpTokens)},
            {"--host", setString(o.host)},
            {"--port", setInt(o.port, 0, 65535)},
            {"--parallel", setInt(o.parallel, 1, 1024)},
            {"--batch-size", setInt(o.batchSize, 1, 1 << 20)},
            {"--prefill-chunk", setInt(o.prefillChunk, 1, 1 << 20)},
            {"--queue", setInt(o.queue, 0, 1 << 20)},
            {"--alias", setString(o.alias)},
            {"--timeout", setInt(o.timeout, 1, 86400)},
            {"--kv-type",
             [&](const std::string &v) {
               o.kvF16 = v == "f16";
               o.kvTypeSet = true;
               return v == "f16" || v == "f32";
             }},
        };
    auto it = std::find_if(std::begin(valued), std::end(valued),
                           [&](const auto &e) { return flag == e.first; });
    if (it == std::end(valued)) {
      error = "unknown option '" + flag + "' (see --help)";
      return false;
    }
    if (i + 1 >= argc) {
      error = "option '" + flag + "' needs a value";
      return false;
    }
    std::string value = argv[++i];
    bool ok = it->second(value);
    if (!ok) {
      error = "invalid value '" + value + "' for option '" + flag + "'";
      return false;
    }
  }
  return true;
}
