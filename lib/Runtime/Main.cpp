//===- Main.cpp - main() of executables emitted by ternc ------------------===//
//
// Prefill the prompt in one call, then decode one token per call, with the
// positions the model's KV cache expects. The model math is the generated
// _mlir_ciface_tern_forward; this file only moves tokens and timings.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/ChatTemplate.h"
#include "tern/Runtime/Graph.h"
#include "tern/Runtime/Npy.h"
#include "tern/Runtime/Options.h"
#include "tern/Runtime/Parallel.h"
#include "tern/Runtime/Sampling.h"
#include "tern/Runtime/Server.h"
#include "tern/Runtime/Tokenizer.h"
#include "tern/Runtime/Weights.h"
#include "tern/Runtime/tern_model.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <vector>

using namespace tern::rt;

// A model is a language model or a generic graph: each defines only its own
// functions, so all are weak here and main() runs the one it finds.
#pragma weak _mlir_ciface_tern_forward
#pragma weak tern_vocab_size
#pragma weak tern_kv_floats_per_position
#pragma weak tern_context_length
#pragma weak tern_is_eos
#pragma weak _mlir_ciface_tern_graph
#pragma weak tern_graph_signature
// CPU executables only.
extern "C" void
_mlir_ciface_tern_forward_f16(tern_i32_vector *, tern_i32_vector *,
                              tern_f16_vector *, tern_f32_matrix *)
    __attribute__((weak));

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

/// One sequence's KV cache: `elements` f32 (or, --kv-type f16, f16)
/// values, zero-initialized; calloc'ed, so pages of a large cache are only
/// touched as positions fill.
class KVCache {
public:
  KVCache(int64_t positions, bool f16)
      : elements(tern_kv_floats_per_position() * positions), f16(f16),
        data(std::calloc(size_t(elements ? elements : 1), f16 ? 2 : 4)) {}
  ~KVCache() { std::free(data); }
  KVCache(const KVCache &) = delete;
  KVCache &operator=(const KVCache &) = delete;
  void clear() { std::memset(data, 0, size_t(elements) * (f16 ? 2 : 4)); }
  explicit operator bool() const { return data != nullptr; }

  int64_t elements;
  bool f16;
  void *data;
};

/// Runs the model on `ids` starting at position `start`, appending to the KV
/// cache; returns the logits of the last `rows` tokens ([rows, vocab]).
std::vector<float> forward(std::vector<int32_t> &ids, int64_t start,
                           int64_t rows, KVCache &cache, int64_t vocab) {
  int64_t n = int64_t(ids.size());
  std::vector<int32_t> positions(n);
  for (int64_t i = 0; i < n; ++i)
    positions[i] = int32_t(start + i);
  std::vector<float> logits(size_t(rows * vocab));
  tern_i32_vector idsRef = {ids.data(), ids.data(), 0, {n}, {1}};
  tern_i32_vector posRef = {positions.data(), positions.data(), 0, {n}, {1}};
  tern_f32_matrix out = {
      logits.data(), logits.data(), 0, {rows, vocab}, {vocab, 1}};
  if (cache.f16) {
    auto *data = static_cast<uint16_t *>(cache.data);
    tern_f16_vector cacheRef = {data, data, 0, {cache.elements}, {1}};
    _mlir_ciface_tern_forward_f16(&idsRef, &posRef, &cacheRef, &out);
  } else {
    auto *data = static_cast<float *>(cache.data);
    tern_f32_vector cacheRef = {data, data, 0, {cache.elements}, {1}};
    _mlir_ciface_tern_forward(&idsRef, &posRef, &cacheRef, &out);
  }
  return logits;
}

// The tokenizer ternc embedded (absent in models compiled without one).
extern "C" const char tern_tokenizer[] __attribute__((weak));
// NVIDIA executables only (lib/Runtime/GpuRuntime.cpp).
extern "C" void tern_gpu_use_graphs(int on) __attribute__((weak));
extern "C" int64_t tern_tokenizer_size(void) __attribute__((weak));

namespace {
/// The weights as the kernels will read them: CPU kernels stream them from
/// a copy in huge pages (unless --mmap); NVIDIA ones read them once, into
/// device memory.
bool loadModelWeights(const Options &o) {
  return loadWeights(!o.mmapWeights && !tern_gpu_use_graphs);
}
} // namespace

/// The embedded tokenizer, or nullptr (with `error` set if it is broken).
std::unique_ptr<Tokenizer> loadTokenizer(std::string &error) {
  if (!tern_tokenizer || !tern_tokenizer_size)
    return nullptr;
  TokenizerData data;
  if (!TokenizerData::deserialize(tern_tokenizer, size_t(tern_tokenizer_size()),
                                  data, error))
    return nullptr;
  return Tokenizer::create(std::move(data), error);
}

double seconds(std::chrono::steady_clock::time_point a,
               std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// --bench: pp (one prompt of benchPrompt tokens) and tg (benchGen greedy
/// tokens after a 1-token prompt), each from an empty KV cache.
int bench(const Options &o, int64_t vocab, int64_t context) {
  int64_t need = std::max(o.benchPrompt, o.benchGen + 1);
  if (need > context)
    return fail("--bench needs a context of " + std::to_string(need) +
                " positions; -c is " + std::to_string(context));
  loadModelWeights(o);
  setNumThreads(o.threads ? o.threads : defaultThreads());
  KVCache cache(need, o.kvF16);
  if (!cache)
    return fail("cannot allocate the KV cache for --bench");
  std::vector<double> pp, tg;
  for (int64_t r = 0; r < o.benchReps; ++r) {
    cache.clear();
    std::vector<int32_t> ids(o.benchPrompt);
    for (int64_t i = 0; i < o.benchPrompt; ++i)
      ids[i] = int32_t((1000 + i * 7919) % vocab);
    auto t0 = std::chrono::steady_clock::now();
    forward(ids, 0, 1, cache, vocab);
    pp.push_back(o.benchPrompt / seconds(t0, std::chrono::steady_clock::now()));

    cache.clear();
    std::vector<int32_t> one = {int32_t(1000 % vocab)};
    std::vector<float> logits = forward(one, 0, 1, cache, vocab);
    auto t1 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < o.benchGen; ++i) {
      one[0] = int32_t(std::max_element(logits.begin(), logits.end()) -
                       logits.begin());
      logits = forward(one, i + 1, 1, cache, vocab);
    }
    tg.push_back(o.benchGen / seconds(t1, std::chrono::steady_clock::now()));
  }
  auto line = [&](const char *what, int64_t n, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    int threads = o.threads ? o.threads : defaultThreads();
    std::printf("%s%-6lld %8.1f tokens/s (min %.1f, max %.1f; %zu runs, %d "
                "thread%s)\n",
                what, (long long)n, v[v.size() / 2], v.front(), v.back(),
                v.size(), threads, threads == 1 ? "" : "s");
  };
  line("pp", o.benchPrompt, pp);
  line("tg", o.benchGen, tg);
  return 0;
}

/// The KV cache, the position in it and the sampler: prompts and turns are
/// fed in, tokens generated one at a time.
class Session {
public:
  Session(const Options &o, int64_t vocab, int64_t context, KVCache &cache,
          uint64_t seed)
      : o(o), vocab(vocab), context(context), cache(cache), rng(seed) {}

  /// Runs `ids` at the next positions; keeps the logits of the last
  /// `rows` of them.
  void feed(std::vector<int32_t> ids, int64_t rows = 1) {
    auto t0 = std::chrono::steady_clock::now();
    logits = forward(ids, position, rows, cache, vocab);
    position += int64_t(ids.size());
    history.insert(history.end(), ids.begin(), ids.end());
    promptSeconds += seconds(t0, std::chrono::steady_clock::now());
    promptTokens += int64_t(ids.size());
    last = logits.data() + (rows - 1) * vocab;
  }

  /// Generates up to `n` tokens after what was fed, calling `emit` with
  /// each; stops before a token `stop` accepts and returns it (or -1).
  template <typename Emit, typename Stop>
  int32_t generate(int64_t n, Emit emit, Stop stop) {
    auto t0 = std::chrono::steady_clock::now();
    int32_t stopped = -1;
    for (int64_t i = 0; i < n; ++i) {
      int32_t next = sampleToken(last, vocab, history, o.sampling, rng);
      if (stop(next)) {
        stopped = next;
        break;
      }
      emit(next);
      ++generated;
      history.push_back(next);
      if (i + 1 == n || position + 1 >= context)
        break;
      std::vector<int32_t> one = {next};
      logits = forward(one, position++, 1, cache, vocab);
      last = logits.data();
    }
    generateSeconds += seconds(t0, std::chrono::steady_clock::now());
    return stopped;
  }

  void printTimings(double loadSeconds) const {
    std::fprintf(stderr, "load: weights %s in %.3f s\n",
                 hugePages ? "copied into huge pages" : "mapped", loadSeconds);
    std::fprintf(stderr,
                 "prompt: %lld tokens in %.3f s (%.1f tokens/s)\n"
                 "generation: %lld tokens in %.3f s (%.1f tokens/s)\n",
                 (long long)promptTokens, promptSeconds,
                 promptSeconds > 0 ? promptTokens / promptSeconds : 0.0,
                 (long long)generated, generateSeconds,
                 generateSeconds > 0 && generated > 1
                     ? (generated - 1) / generateSeconds
                     : 0.0);
  }

  const Options &o;
  int64_t vocab, context;
  KVCache &cache;
  std::mt19937_64 rng;
  int64_t position = 0;
  std::vector<int32_t> history;
  std::vector<float> logits;
  const float *last = nullptr;
  int64_t promptTokens = 0, generated = 0;
  bool hugePages = false; ///< the weights were copied into huge pages
  double promptSeconds = 0, generateSeconds = 0;
};

void writeText(const std::string &bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

void printIds(const char *what, const std::vector<int32_t> &ids) {
  std::fprintf(stderr, "%s: %zu tokens:", what, ids.size());
  for (int32_t id : ids)
    std::fprintf(stderr, " %d", id);
  std::fprintf(stderr, "\n");
}

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// --chat: a turn per line of input, in the model's own chat template
/// (rendered as transformers' apply_chat_template would); the KV cache
/// keeps the conversation, and each turn feeds what the template adds to
/// it.
int chat(Session &s, const Tokenizer &tok, double loadSeconds) {
  const TokenizerData &d = tok.data();
  if (d.chatTemplate.empty())
    return fail("--chat: this model was compiled without a chat template "
                "(ternc --chat-format=bitnet|llama3)");
  ChatTemplate tpl;
  std::string error;
  if (!tpl.parse(d.chatTemplate, error))
    return fail("--chat: the chat template: " + error);
  std::string bos = tok.spelling(d.bos), eos = tok.spelling(d.eos);
  std::vector<int32_t> turnEnds = tok.endOfTurnIds();
  auto stop = [&](int32_t id) {
    return (!s.o.ignoreEos && tern_is_eos(id)) ||
           std::find(turnEnds.begin(), turnEnds.end(), id) != turnEnds.end();
  };
  std::vector<ChatMessage> messages;
  if (!s.o.system.empty())
    messages.push_back({"system", s.o.system});
  std::string fed; // the conversation's text that is in the KV cache
  int64_t n = s.o.generateSet ? s.o.generate : 1024;
  std::string line;
  while (true) {
    std::fputs("> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line))
      break;
    if (trim(line).empty())
      continue;
    messages.push_back({"user", line});
    std::string text;
    if (!tpl.render(messages, /*addGenerationPrompt=*/true, bos, eos, text,
                    error))
      return fail("--chat: the chat template: " + error);
    // The template renders the whole conversation: feed what is new. One
    // that rewrites earlier turns (e.g. trims a reply) is fed from the
    // start again.
    std::string turn = text;
    if (text.compare(0, fed.size(), fed) == 0) {
      turn = text.substr(fed.size());
    } else {
      s.position = 0;
    }
    std::vector<int32_t> ids =
        tok.encode(turn, /*addBos=*/false, /*parseSpecial=*/true);
    if (s.o.verbosePrompt)
      printIds("turn", ids);
    if (s.position + int64_t(ids.size()) >= s.context) {
      std::fputs("\n", stdout);
      return fail("the conversation has filled the context of " +
                  std::to_string(s.context) + " tokens (use -c)");
    }
    s.feed(ids);
    int64_t room = s.context - s.position;
    std::string reply;
    s.generate(
        std::min(n, room),
        [&](int32_t id) {
          std::string piece = tok.decode(id);
          reply += piece;
          writeText(piece);
        },
        stop);
    writeText("\n");
    fed = text + reply;
    messages.push_back({"assistant", reply});
  }
  std::fputs("\n", stdout);
  if (!s.o.quiet)
    s.printTimings(loadSeconds);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  // The kernels allocate their scratch (decoded head rows, x copies: a few
  // hundred KB each) on every call; keep freed memory in the heap rather
  // than unmapping it and faulting in fresh zeroed pages at the next step.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  std::string mapError;
  if (!mapWeights(argv[0], mapError))
    return fail(mapError);
  if (tern_graph_signature)
    return runGraph(argc, argv, tern_graph_signature);
  Options o;
  bool help = false;
  std::string error;
  if (!parseOptions(argc, argv, o, help, error))
    return fail(error);
  if (help) {
    std::fputs(usage(), stdout);
    return 0;
  }
  if (!o.gpuGraphs) {
    if (!tern_gpu_use_graphs)
      return fail("--no-gpu-graphs applies to NVIDIA executables; this one "
                  "runs on the CPU");
    tern_gpu_use_graphs(0);
  }
  int64_t vocab = tern_vocab_size();
  // Default context: the model's, capped so that the KV cache of a large
  // model stays a few hundred MB unless -c asks for more.
  constexpr int64_t kDefaultContextCap = 4096;
  int64_t context = o.context
                        ? o.context
                        : std::min(tern_context_length(), kDefaultContextCap);
  if (context > tern_context_length())
    return fail("-c " + std::to_string(context) +
                " exceeds the model's context length " +
                std::to_string(tern_context_length()));
  if (o.kvF16 && !_mlir_ciface_tern_forward_f16)
    return fail("--kv-type f16: NVIDIA executables keep an f32 KV cache");
  if (o.bench)
    return bench(o, vocab, context);
  if (o.serve) {
    std::unique_ptr<Tokenizer> tok = loadTokenizer(error);
    if (!error.empty())
      return fail(error);
    if (!tok)
      return fail("--serve needs a tokenizer, and this model was compiled "
                  "without one (ternc --tokenizer)");
    // The server's cache is f16 unless --kv-type says otherwise: at 16
    // streams it runs ~10% faster, in half the memory (docs/Serving.md).
    if (!o.kvTypeSet && _mlir_ciface_tern_forward_f16)
      o.kvF16 = true;
    loadModelWeights(o);
    setNumThreads(o.threads ? o.threads : defaultThreads());
    // The API's model name: --alias, else the executable's file name.
    std::string name = o.alias.empty() ? argv[0] : o.alias;
    if (o.alias.empty() && name.find('/') != std::string::npos)
      name = name.substr(name.rfind('/') + 1);
    return serve(o, *tok, vocab, context, name.c_str());
  }

  if (!o.promptFile.empty()) {
    std::ifstream in(o.promptFile, std::ios::binary);
    std::stringstream text;
    if (!in || !(text << in.rdbuf()))
      return fail("cannot read prompt file '" + o.promptFile + "'");
    o.text = text.str();
  }
  bool textMode = !o.text.empty() || o.chat;
  // Only text needs the tokenizer (a LLaMA-3 one takes tens of ms to load).
  std::unique_ptr<Tokenizer> tok;
  if (textMode || o.prompt.empty()) {
    tok = loadTokenizer(error);
    if (!error.empty())
      return fail(error);
  }
  if (textMode && !tok)
    return fail(std::string(o.chat ? "--chat" : "a text prompt") +
                " needs a tokenizer, and this model was compiled without "
                "one; give token ids with --tokens, or compile with ternc "
                "--tokenizer");
  if (!o.text.empty() && !o.prompt.empty())
    return fail("give the prompt as text (-p, -f) or as --tokens, not both");
  if (!o.text.empty())
    o.prompt = tok->encode(o.text, /*addBos=*/true);
  if (o.prompt.empty() && !o.chat)
    return fail(tok ? "empty prompt: give -p TEXT, -f FILE, --chat or "
                      "--tokens 1,2,3"
                    : "empty prompt: give the prompt as token ids with "
                      "--tokens 1,2,3 (this model has no tokenizer for "
                      "text)");
  for (int32_t id : o.prompt)
    if (id < 0 || id >= vocab)
      return fail("token id " + std::to_string(id) +
                  " is outside the vocabulary [0, " + std::to_string(vocab) +
                  ")");
  if (!o.generateSet)
    o.generate = o.text.empty() ? 16 : 256;
  int64_t total = int64_t(o.prompt.size()) + o.generate;
  if (total > context) {
    if (o.generateSet || int64_t(o.prompt.size()) >= context)
      return fail("prompt (" + std::to_string(o.prompt.size()) + ") + -n (" +
                  std::to_string(o.generate) +
                  ") tokens exceed the context of " + std::to_string(context) +
                  " (use -c or a shorter prompt)");
    o.generate = context - int64_t(o.prompt.size()); // default -n: fit
  }
  if (o.verbosePrompt)
    printIds("prompt", o.prompt);

  auto loadStart = std::chrono::steady_clock::now();
  bool huge = loadModelWeights(o);
  double loadSeconds = seconds(loadStart, std::chrono::steady_clock::now());
  setNumThreads(o.threads ? o.threads : defaultThreads());

  KVCache cache(context, o.kvF16);
  if (!cache)
    return fail("cannot allocate the KV cache for -c " +
                std::to_string(context));
  Session s(
      o, vocab, context, cache,
      o.seedSet
          ? o.seed
          : uint64_t(
                std::chrono::steady_clock::now().time_since_epoch().count()));
  s.hugePages = huge;
  if (o.chat)
    return chat(s, *tok, loadSeconds);

  // Every prompt row only when asked for: the LM head is the largest matrix.
  int64_t rows = o.dumpLogits.empty() ? 1 : int64_t(o.prompt.size());
  s.feed(o.prompt, rows);
  if (!o.dumpLogits.empty() &&
      !writeNpyF32(o.dumpLogits, s.logits.data(), int64_t(o.prompt.size()),
                   vocab, error))
    return fail(error);

  bool text = !o.text.empty();
  if (text && o.displayPrompt)
    writeText(o.text);
  std::vector<int32_t> generated;
  int32_t stopped = s.generate(
      o.generate,
      [&](int32_t id) {
        if (text)
          writeText(tok->decode(id));
        else
          std::printf("%s%d", generated.empty() ? "" : " ", id);
        generated.push_back(id);
      },
      [&](int32_t id) { return !o.ignoreEos && tern_is_eos(id); });
  if (!generated.empty() || text) {
    std::printf("\n");
    std::fflush(stdout); // before the timings on stderr
  }

  if (!o.dumpTokens.empty()) {
    FILE *f = std::fopen(o.dumpTokens.c_str(), "w");
    if (!f)
      return fail("cannot write '" + o.dumpTokens + "'");
    for (int32_t id : generated)
      std::fprintf(f, "%d\n", id);
    if (std::fclose(f) != 0)
      return fail("cannot write '" + o.dumpTokens + "'");
  }
  if (!o.quiet) {
    s.printTimings(loadSeconds);
    if (stopped >= 0)
      std::fprintf(stderr, "generation: stopped at an end-of-sequence "
                           "token\n");
  }
  return 0;
}
