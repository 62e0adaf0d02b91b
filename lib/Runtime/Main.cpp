//===- Main.cpp - main() of executables emitted by ternc ------------------===//
//
// Prefill the prompt in one call, then decode one token per call, with the
// positions the model's KV cache expects. The model math is the generated
// _mlir_ciface_tern_forward; this file only moves tokens and timings.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Npy.h"
#include "tern/Runtime/Options.h"
#include "tern/Runtime/Parallel.h"
#include "tern/Runtime/Sampling.h"
#include "tern/Runtime/tern_model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

using namespace tern::rt;

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

/// Runs the model on `ids` starting at position `start`, appending to the KV
/// cache; returns the logits of the last `rows` tokens ([rows, vocab]).
std::vector<float> forward(std::vector<int32_t> &ids, int64_t start,
                           int64_t rows, float *cache, int64_t cacheFloats,
                           int64_t vocab) {
  int64_t n = int64_t(ids.size());
  std::vector<int32_t> positions(n);
  for (int64_t i = 0; i < n; ++i)
    positions[i] = int32_t(start + i);
  std::vector<float> logits(size_t(rows * vocab));
  tern_i32_vector idsRef = {ids.data(), ids.data(), 0, {n}, {1}};
  tern_i32_vector posRef = {positions.data(), positions.data(), 0, {n}, {1}};
  tern_f32_vector cacheRef = {cache, cache, 0, {cacheFloats}, {1}};
  tern_f32_matrix out = {
      logits.data(), logits.data(), 0, {rows, vocab}, {vocab, 1}};
  _mlir_ciface_tern_forward(&idsRef, &posRef, &cacheRef, &out);
  return logits;
}

// The weights section's bounds, from the linker (absent in other programs).
extern "C" char __start_tern_weights[] __attribute__((weak));
extern "C" char __stop_tern_weights[] __attribute__((weak));

/// Maps every page of the weights in now, so that the first prompt is not
/// timed with a page fault per 4 KB of model.
void loadWeights() {
  if (!__start_tern_weights || __stop_tern_weights <= __start_tern_weights)
    return;
  uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t begin = uintptr_t(__start_tern_weights) & ~(page - 1);
  size_t length = uintptr_t(__stop_tern_weights) - begin;
  if (madvise(reinterpret_cast<void *>(begin), length, MADV_POPULATE_READ) == 0)
    return;
  volatile char sink = 0; // older kernels: touch one byte per page
  for (uintptr_t p = begin; p < uintptr_t(__stop_tern_weights); p += page)
    sink = sink + *reinterpret_cast<const char *>(p);
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
  loadWeights();
  setNumThreads(o.threads ? o.threads : defaultThreads());
  size_t cacheFloats = size_t(tern_kv_floats_per_position() * need);
  std::vector<float> cache(cacheFloats ? cacheFloats : 1);
  std::vector<double> pp, tg;
  for (int64_t r = 0; r < o.benchReps; ++r) {
    std::fill(cache.begin(), cache.end(), 0.0f);
    std::vector<int32_t> ids(o.benchPrompt);
    for (int64_t i = 0; i < o.benchPrompt; ++i)
      ids[i] = int32_t((1000 + i * 7919) % vocab);
    auto t0 = std::chrono::steady_clock::now();
    forward(ids, 0, 1, cache.data(), int64_t(cacheFloats), vocab);
    pp.push_back(o.benchPrompt / seconds(t0, std::chrono::steady_clock::now()));

    std::fill(cache.begin(), cache.end(), 0.0f);
    std::vector<int32_t> one = {int32_t(1000 % vocab)};
    std::vector<float> logits =
        forward(one, 0, 1, cache.data(), int64_t(cacheFloats), vocab);
    auto t1 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < o.benchGen; ++i) {
      one[0] = int32_t(std::max_element(logits.begin(), logits.end()) -
                       logits.begin());
      logits =
          forward(one, i + 1, 1, cache.data(), int64_t(cacheFloats), vocab);
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

} // namespace

int main(int argc, char **argv) {
  Options o;
  bool help = false;
  std::string error;
  if (!parseOptions(argc, argv, o, help, error))
    return fail(error);
  if (help) {
    std::fputs(usage(), stdout);
    return 0;
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
  if (o.bench)
    return bench(o, vocab, context);
  if (o.prompt.empty())
    return fail("empty prompt: give the prompt as token ids with --tokens "
                "1,2,3 (text prompts need a tokenizer, not yet supported)");
  for (int32_t id : o.prompt)
    if (id < 0 || id >= vocab)
      return fail("token id " + std::to_string(id) +
                  " is outside the vocabulary [0, " + std::to_string(vocab) +
                  ")");
  int64_t total = int64_t(o.prompt.size()) + o.generate;
  if (total > context)
    return fail("prompt (" + std::to_string(o.prompt.size()) + ") + -n (" +
                std::to_string(o.generate) + ") tokens exceed the context of " +
                std::to_string(context) + " (use -c or a shorter prompt)");

  auto loadStart = std::chrono::steady_clock::now();
  loadWeights();
  double loadSeconds = seconds(loadStart, std::chrono::steady_clock::now());

  std::mt19937_64 rng(
      o.seedSet
          ? o.seed
          : uint64_t(
                std::chrono::steady_clock::now().time_since_epoch().count()));
  setNumThreads(o.threads ? o.threads : defaultThreads());

  // calloc: pages of a large cache are only touched as positions fill.
  size_t cacheFloats = size_t(tern_kv_floats_per_position() * context);
  std::unique_ptr<float, decltype(&std::free)> cache(
      static_cast<float *>(
          std::calloc(cacheFloats ? cacheFloats : 1, sizeof(float))),
      &std::free);
  if (!cache)
    return fail("cannot allocate the KV cache for -c " +
                std::to_string(context));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<int32_t> prompt = o.prompt;
  // Every prompt row only when asked for: the LM head is the largest matrix.
  int64_t rows = o.dumpLogits.empty() ? 1 : int64_t(prompt.size());
  std::vector<float> logits =
      forward(prompt, 0, rows, cache.get(), int64_t(cacheFloats), vocab);
  auto t1 = std::chrono::steady_clock::now();
  if (!o.dumpLogits.empty() &&
      !writeNpyF32(o.dumpLogits, logits.data(), int64_t(prompt.size()), vocab,
                   error))
    return fail(error);

  std::vector<int32_t> generated, history = prompt;
  const float *last = logits.data() + (rows - 1) * vocab;
  int64_t position = int64_t(prompt.size());
  bool ended = false;
  for (int64_t i = 0; i < o.generate; ++i) {
    int32_t next = sampleToken(last, vocab, history, o.sampling, rng);
    if (!o.ignoreEos && tern_is_eos(next)) {
      ended = true;
      break;
    }
    generated.push_back(next);
    history.push_back(next);
    std::printf("%s%d", i ? " " : "", next);
    std::fflush(stdout);
    if (i + 1 == o.generate)
      break;
    std::vector<int32_t> one = {next};
    logits =
        forward(one, position++, 1, cache.get(), int64_t(cacheFloats), vocab);
    last = logits.data();
  }
  if (!generated.empty()) {
    std::printf("\n");
    std::fflush(stdout); // before the timings on stderr
  }
  auto t2 = std::chrono::steady_clock::now();

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
    double pp = seconds(t0, t1), tg = seconds(t1, t2);
    std::fprintf(stderr, "load: weights mapped in %.3f s\n", loadSeconds);
    std::fprintf(
        stderr,
        "prompt: %zu tokens in %.3f s (%.1f tokens/s)\n"
        "generation: %zu tokens in %.3f s (%.1f tokens/s)\n",
        prompt.size(), pp, pp > 0 ? prompt.size() / pp : 0.0, generated.size(),
        tg, tg > 0 && generated.size() > 1 ? (generated.size() - 1) / tg : 0.0);
    if (ended)
      std::fprintf(stderr, "generation: stopped at an end-of-sequence "
                           "token\n");
  }
  return 0;
}
