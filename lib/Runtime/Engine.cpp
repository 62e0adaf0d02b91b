//===- Engine.cpp - continuous batching over tern_forward_batch -----------===//
//
// Slot s of the KV pool holds one sequence's cache. A step feeds, in one
// call, the token each decoding sequence sampled last (position p, one row
// of logits each) and then prompt chunks of the sequences being prefilled,
// in arrival order, up to the step's token budget (a row of logits for a
// prompt's last token). A slot needs no clearing between requests: a token
// attends only to positions of its sequence that this sequence wrote.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Engine.h"

#include "tern/Runtime/Tokenizer.h"
#include "tern/Runtime/tern_model.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>

// Generic graph executables define none of the model's functions (and
// never serve).
#pragma weak _mlir_ciface_tern_forward_batch
#pragma weak _mlir_ciface_tern_forward_batch_f16
#pragma weak tern_kv_floats_per_position

using namespace tern::rt;

void EngineMetrics::Histogram::add(double seconds) {
  int b = 0;
  while (b < kNumBuckets - 1 && seconds > kBuckets[b])
    ++b;
  ++counts[b];
  micros += int64_t(seconds * 1e6);
}

struct Engine::Slot {
  std::shared_ptr<Request> req;
  std::vector<int32_t> history; ///< prompt and generated ids
  int64_t fed = 0;              ///< prompt tokens in the cache
  int64_t position = 0;         ///< where the next token goes
  int32_t next = -1;            ///< sampled, not yet fed
  std::mt19937_64 rng;
  std::string text;    ///< generated text
  size_t released = 0; ///< bytes of it handed to the request
  int64_t generated = 0;
  bool prefilling() const { return fed < int64_t(req->prompt.size()); }
};

Engine::Engine(Config config, const Tokenizer *tokenizer, int64_t vocab,
               std::function<bool(int32_t)> isEos)
    : cfg(config), tok(tokenizer), vocab(vocab), isEos(std::move(isEos)),
      poolSize(size_t(cfg.slots) * size_t(cfg.context) *
               size_t(tern_kv_floats_per_position())),
      pool(std::calloc(poolSize ? poolSize : 1, cfg.kvF16 ? 2 : 4), &std::free),
      slots(size_t(cfg.slots)) {
  if (!pool)
    throw std::bad_alloc();
  thread = std::thread([this] { run(); });
}

Engine::~Engine() { stop(); }

bool Engine::submit(std::shared_ptr<Request> request) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    // Slots and queue places together: a request that arrives while a slot
    // is free but not yet taken (the engine thread admits between steps)
    // counts against the slots, not the queue.
    if (draining || int(waiting.size()) + busy >= cfg.slots + cfg.queue) {
      ++metrics.rejected;
      return false;
    }
    request->submitted = Request::Clock::now();
    waiting.push_back(std::move(request));
    ++metrics.requests;
  }
  wake.notify_one();
  return true;
}

int Engine::queued() {
  std::lock_guard<std::mutex> lock(mutex);
  return int(waiting.size());
}

void Engine::waitIdle() {
  std::unique_lock<std::mutex> lock(mutex);
  idle.wait(lock, [&] { return waiting.empty() && busy == 0; });
}

void Engine::stop() {
  if (!thread.joinable())
    return;
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_one();
  thread.join();
}

void Engine::run() {
  while (!stopping) {
    if (step())
      continue;
    std::unique_lock<std::mutex> lock(mutex);
    idle.notify_all();
    wake.wait(lock, [&] { return stopping || !waiting.empty(); });
  }
}

void Engine::admit() {
  std::lock_guard<std::mutex> lock(mutex);
  for (Slot &slot : slots) {
    if (slot.req)
      continue;
    while (!waiting.empty() && waiting.front()->cancelled)
      waiting.pop_front();
    if (waiting.empty())
      break;
    slot = Slot();
    slot.req = std::move(waiting.front());
    waiting.pop_front();
    slot.history = slot.req->prompt;
    slot.rng.seed(slot.req->seed);
    metrics.promptTokens += int64_t(slot.req->prompt.size());
    ++busy;
    if (slot.req->maxTokens <= 0)
      finish(slot, "length");
  }
}

namespace {

/// Bytes at the end of `text` that start an incomplete UTF-8 character.
size_t incompleteUtf8(const std::string &text) {
  size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = text[n - back];
    if ((c & 0xC0) == 0x80)
      continue; // a continuation byte: look further back
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

} // namespace

void Engine::emitToken(Slot &slot, int32_t id) {
  Request &req = *slot.req;
  auto now = Request::Clock::now();
  if (slot.generated == 0)
    metrics.timeToFirstToken.add(
        std::chrono::duration<double>(now - req.submitted).count());
  else
    metrics.interToken.add(
        std::chrono::duration<double>(now - req.lastToken).count());
  req.lastToken = now;
  if (!req.ignoreEos &&
      (isEos(id) || std::find(req.stopIds.begin(), req.stopIds.end(), id) !=
                        req.stopIds.end()))
    return finish(slot, "stop");
  ++slot.generated;
  ++metrics.generatedTokens;
  slot.history.push_back(id);
  slot.text += tok->decode(id);
  // A stop string ends the text where it starts; text that may begin one
  // waits until it is known not to, as do incomplete UTF-8 characters.
  size_t hold = 0;
  for (const std::string &stop : req.stop) {
    size_t from = slot.released > stop.size() ? slot.released - stop.size() : 0;
    size_t at = slot.text.find(stop, from);
    if (at != std::string::npos) {
      slot.text.resize(at);
      return finish(slot, "stop");
    }
    for (size_t k = std::min(stop.size() - 1, slot.text.size()); k > hold; --k)
      if (slot.text.compare(slot.text.size() - k, k, stop, 0, k) == 0) {
        hold = k;
        break;
      }
  }
  hold = std::max(hold, incompleteUtf8(slot.text));
  size_t end = slot.text.size() - hold;
  {
    std::lock_guard<std::mutex> lock(req.mutex);
    if (end > slot.released)
      req.text.append(slot.text, slot.released, end - slot.released);
    req.generated = slot.generated;
  }
  slot.released = std::max(slot.released, end);
  req.changed.notify_all();
  if (slot.generated >= req.maxTokens || slot.position + 1 >= cfg.context)
    return finish(slot, "length");
  slot.next = id;
}

void Engine::finish(Slot &slot, const char *reason) {
  Request &req = *slot.req;
  {
    std::lock_guard<std::mutex> lock(req.mutex);
    if (slot.text.size() > slot.released)
      req.text.append(slot.text, slot.released);
    req.generated = slot.generated;
    req.finishReason = reason;
    req.finished = true;
  }
  req.changed.notify_all();
  slot.req.reset();
  --busy;
}

bool Engine::step() {
  admit();
  std::vector<int32_t> ids, positions, slotOf, rows;
  std::vector<Slot *> owners;
  auto add = [&](Slot &slot, int32_t id, int64_t position) {
    ids.push_back(id);
    positions.push_back(int32_t(position));
    slotOf.push_back(int32_t(&slot - slots.data()));
  };
  // Decode tokens first: every decoding sequence advances each step.
  for (Slot &slot : slots) {
    if (slot.req && slot.req->cancelled)
      finish(slot, "cancelled");
    if (!slot.req || slot.prefilling())
      continue;
    add(slot, slot.next, slot.position++);
    rows.push_back(int32_t(ids.size() - 1));
    owners.push_back(&slot);
  }
  // Then prompt chunks, oldest request first, within the step's budget:
  // while sequences decode, a chunk that keeps their step short (every
  // running stream waits for the step; on two cores a 256-token step takes
  // ~3x a step of 16 decode tokens).
  std::vector<Slot *> filling;
  for (Slot &slot : slots)
    if (slot.req && slot.prefilling())
      filling.push_back(&slot);
  std::sort(filling.begin(), filling.end(), [](Slot *a, Slot *b) {
    return a->req->submitted < b->req->submitted;
  });
  int64_t budget = std::max<int64_t>(cfg.batchTokens - int64_t(ids.size()), 1);
  if (!ids.empty())
    budget = std::min(budget, cfg.prefillChunk);
  for (Slot *slot : filling) {
    const std::vector<int32_t> &prompt = slot->req->prompt;
    int64_t take = std::min(budget, int64_t(prompt.size()) - slot->fed);
    for (int64_t i = 0; i < take; ++i)
      add(*slot, prompt[size_t(slot->fed + i)], slot->position++);
    slot->fed += take;
    budget -= take;
    if (!slot->prefilling()) {
      rows.push_back(int32_t(ids.size() - 1));
      owners.push_back(slot);
    }
    if (budget == 0)
      break;
  }
  if (ids.empty())
    return false;

  auto started = Request::Clock::now();
  // Kept between steps: the kernels write every row asked for, and a fresh
  // 8 MB (16 rows of 128K) would be zeroed and faulted in every step.
  logits.resize(rows.size() * size_t(vocab));
  auto n = int64_t(ids.size()), r = int64_t(rows.size());
  tern_i32_vector idv = {ids.data(), ids.data(), 0, {n}, {1}};
  tern_i32_vector posv = {positions.data(), positions.data(), 0, {n}, {1}};
  tern_i32_vector slotv = {slotOf.data(), slotOf.data(), 0, {n}, {1}};
  tern_i32_vector rowv = {rows.data(), rows.data(), 0, {r}, {1}};
  tern_f32_matrix out = {
      logits.data(), logits.data(), 0, {r, vocab}, {vocab, 1}};
  if (cfg.kvF16) {
    auto *data = static_cast<uint16_t *>(pool.get());
    tern_f16_vector kv = {data, data, 0, {int64_t(poolSize)}, {1}};
    _mlir_ciface_tern_forward_batch_f16(&idv, &posv, &slotv, &kv, cfg.context,
                                        &rowv, &out);
  } else {
    auto *data = static_cast<float *>(pool.get());
    tern_f32_vector kv = {data, data, 0, {int64_t(poolSize)}, {1}};
    _mlir_ciface_tern_forward_batch(&idv, &posv, &slotv, &kv, cfg.context,
                                    &rowv, &out);
  }
  ++metrics.steps;
  metrics.stepTokens += n;
  metrics.stepDuration.add(
      std::chrono::duration<double>(Request::Clock::now() - started).count());
  for (size_t i = 0; i < owners.size(); ++i) {
    Slot &slot = *owners[i];
    int32_t id = sampleToken(logits.data() + i * size_t(vocab), vocab,
                             slot.history, slot.req->sampling, slot.rng);
    emitToken(slot, id);
  }
  return true;
}
