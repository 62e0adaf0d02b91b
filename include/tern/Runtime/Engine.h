//===- Engine.h - continuous batching over tern_forward_batch ---*- C++ -*-===//
//
// The server's scheduler (lib/Runtime/Engine.cpp). Requests wait in a
// bounded queue for one of N sequence slots of the KV pool. One thread runs
// the model: each step is one tern_forward_batch over the next token of
// every decoding sequence plus chunks of the prompts being prefilled, up to
// a token budget; requests join and leave between steps. Sequences do not
// see each other: a request's tokens are those it would get alone.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_ENGINE_H
#define TERN_RUNTIME_ENGINE_H

#include "tern/Runtime/Sampling.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tern::rt {

class Tokenizer;

/// One completion: what it asks for, and what the engine has produced so
/// far (read under `mutex`).
struct Request {
  using Clock = std::chrono::steady_clock;

  // --- asked for (set before submit) ---
  std::vector<int32_t> prompt;
  int64_t maxTokens = 16;
  SamplingParams sampling;
  uint64_t seed = 0;
  /// Generation ends before any of these strings (not included).
  std::vector<std::string> stop;
  /// Token ids that end generation besides the model's end of sequence.
  std::vector<int32_t> stopIds;
  /// Generate all maxTokens: no end of sequence or stop ids.
  bool ignoreEos = false;

  // --- produced (under mutex; `changed` signals each update) ---
  std::mutex mutex;
  std::condition_variable changed;
  std::string text; ///< released text not yet taken by the reader
  int64_t generated = 0;
  bool finished = false;
  std::string finishReason; ///< "stop" or "length"

  /// Set by the reader when its client went away: the slot is freed at the
  /// next step.
  std::atomic<bool> cancelled{false};

  Clock::time_point submitted, lastToken;

  /// Takes the released text; returns whether the request finished.
  bool take(std::string &out, std::string &reason, int64_t &tokens) {
    std::lock_guard<std::mutex> lock(mutex);
    out.swap(text);
    text.clear();
    reason = finishReason;
    tokens = generated;
    return finished;
  }
};

/// Counters and latency histograms for /metrics.
struct EngineMetrics {
  std::atomic<int64_t> requests{0}, rejected{0}, promptTokens{0},
      generatedTokens{0}, steps{0}, stepTokens{0};
  /// Bucket upper bounds in seconds, and counts (the last: +Inf): finer
  /// where decode steps and the gaps between tokens fall on CPUs.
  static constexpr double kBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.075,
                                        0.1,   0.15, 0.2,   0.25, 0.5,
                                        1,     2.5,  5,     10};
  static constexpr int kNumBuckets = sizeof(kBuckets) / sizeof(double) + 1;
  struct Histogram {
    std::atomic<int64_t> counts[kNumBuckets] = {};
    std::atomic<int64_t> micros{0};
    void add(double seconds);
  };
  Histogram timeToFirstToken, interToken;
  /// Each forward step: what running streams wait for (--prefill-chunk).
  Histogram stepDuration;
};

class Engine {
public:
  struct Config {
    int slots = 4;             ///< sequences in flight (--parallel)
    int64_t context = 4096;    ///< positions per sequence (-c)
    int64_t batchTokens = 256; ///< tokens per step (--batch-size)
    int64_t prefillChunk = 32; ///< prompt tokens beside decoding ones
    int queue = 64;            ///< requests waiting beyond the slots
    bool kvF16 = false;        ///< an f16 KV pool (--kv-type f16)
  };
  Engine(Config config, const Tokenizer *tokenizer, int64_t vocab,
         std::function<bool(int32_t)> isEos);
  ~Engine();

  /// Queues `request`; false when the queue is full or the engine drains.
  bool submit(std::shared_ptr<Request> request);
  /// Refuses new requests from now on.
  void drain() { draining = true; }
  bool isDraining() const { return draining; }
  /// Waits until no request is queued or in flight.
  void waitIdle();
  /// Stops the model thread (after waitIdle, or abandoning requests).
  void stop();

  const Config &config() const { return cfg; }
  /// Bytes of the KV pool.
  size_t poolBytes() const { return poolSize * (cfg.kvF16 ? 2 : 4); }
  int busySlots() const { return busy; }
  int queued();
  EngineMetrics metrics;

private:
  struct Slot;
  void run();
  /// One step over the active slots; false when there was nothing to do.
  bool step();
  void admit();
  void emitToken(Slot &slot, int32_t id);
  void finish(Slot &slot, const char *reason);

  Config cfg;
  const Tokenizer *tok;
  int64_t vocab;
  std::function<bool(int32_t)> isEos;
  /// calloc'ed: pages positions never reach are never touched.
  size_t poolSize;
  std::unique_ptr<void, void (*)(void *)> pool;
  std::vector<Slot> slots;
  std::vector<float> logits; ///< the last step's rows (model thread only)
  std::mutex mutex;          ///< guards waiting, and wakes the model thread
  std::condition_variable wake, idle;
  std::deque<std::shared_ptr<Request>> waiting;
  std::atomic<bool> draining{false}, stopping{false};
  std::atomic<int> busy{0};
  std::thread thread;
};

} // namespace tern::rt

#endif // TERN_RUNTIME_ENGINE_H
