//===- Parallel.cpp - the thread team behind the kernels' parallel loops --===//
//
// Kernels mark their row loops `scf.parallel`; MLIR lowers them to the omp
// dialect and LLVM's OpenMPIRBuilder outlines each loop body and calls the
// LLVM OpenMP runtime ABI. Of that ABI the generated code uses five entry
// points, implemented here over one persistent team of threads so that the
// executable stays standalone (Debian ships libomp only as a shared
// library). They are Tern's own symbols: the compiler renames the calls
// from __kmpc_* to tern_kmpc_* (lib/Target/Emit/Emit.cpp), so a host
// program that uses OpenMP itself can link an --emit=lib archive.
//
//   tern_kmpc_fork_call        run an outlined region on every team thread
//   tern_kmpc_for_static_init  this thread's share of a loop (static
//                              schedule)
//   tern_kmpc_for_static_fini  end of that loop
//   tern_kmpc_barrier          all team threads reach the same point
//   tern_kmpc_global_thread_num
//
// Workers spin on a generation counter between regions (then yield), as a
// token step runs hundreds of short regions; idle for 20 ms (the program is
// between forward calls: a server waiting for requests), they sleep on a
// condition variable until the next region. A region started inside a
// region runs on the calling thread alone.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Parallel.h"

#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Microtask = void (*)(int32_t *, int32_t *, ...);
constexpr int kMaxArgs = tern::rt::kMaxParallelArgs;

struct Region {
  Microtask task = nullptr;
  int argc = 0;
  void *args[kMaxArgs] = {};
};

/// Calls `task` with N captured arguments: a variadic call needs its
/// argument count at compile time, so there is one instance per count.
template <size_t... I>
void call(Microtask task, int32_t *gtid, int32_t *btid, void *const *a,
          std::index_sequence<I...>) {
  task(gtid, btid, a[I]...);
}
template <size_t N>
void invokeWith(Microtask task, int32_t *gtid, int32_t *btid, void *const *a) {
  call(task, gtid, btid, a, std::make_index_sequence<N>());
}
using Invoker = void (*)(Microtask, int32_t *, int32_t *, void *const *);
template <size_t... N>
constexpr std::array<Invoker, sizeof...(N)>
invokers(std::index_sequence<N...>) {
  return {&invokeWith<N>...};
}

/// Calls the outlined region as thread `id` with its captured arguments.
void invoke(const Region &region, int32_t id) {
  static constexpr auto table =
      invokers(std::make_index_sequence<kMaxArgs + 1>());
  int32_t gtid = id, btid = id;
  table[region.argc](region.task, &gtid, &btid, region.args);
}

class Team {
public:
  ~Team() { resize(1); } // join the workers before exit
  void resize(int threads);
  int size() const { return threads; }
  void run(const Region &region);
  void barrier();

private:
  void work(int id, uint64_t seen);
  static void spinWait(const std::atomic<uint64_t> &value, uint64_t old);
  /// A worker's wait for the next region: spin, then yield, then (idle
  /// for kSleepAfter) sleep until run() or resize() wakes it.
  void awaitRegion(uint64_t seen);
  void startGeneration();

  int threads = 1;
  std::vector<std::thread> workers;
  Region region;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> running{0};
  std::atomic<bool> stop{false};
  // Sense-reversing barrier.
  std::atomic<int> arrived{0};
  std::atomic<uint64_t> released{0};
  // Sleeping workers (an idle server must not keep cores busy).
  std::mutex sleepMutex;
  std::condition_variable wake;
  std::atomic<int> sleepers{0};
};

Team team;
thread_local int32_t threadId = 0;
thread_local bool inRegion = false;
thread_local int32_t regionSize = 1;

void Team::spinWait(const std::atomic<uint64_t> &value, uint64_t old) {
  for (int spins = 0; value.load(std::memory_order_acquire) == old; ++spins)
    if (spins > 4096)
      std::this_thread::yield();
}

void Team::awaitRegion(uint64_t seen) {
  // Regions of a forward call follow each other within microseconds; a gap
  // this long means the program is between calls.
  constexpr auto kSleepAfter = std::chrono::milliseconds(20);
  auto start = std::chrono::steady_clock::now();
  for (int spins = 0; generation.load(std::memory_order_acquire) == seen;
       ++spins) {
    if (spins < 4096)
      continue;
    std::this_thread::yield();
    if (spins % 256 || std::chrono::steady_clock::now() - start < kSleepAfter)
      continue;
    std::unique_lock<std::mutex> lock(sleepMutex);
    sleepers.fetch_add(1); // seq_cst, as startGeneration's
    wake.wait(lock, [&] { return generation.load() != seen; });
    sleepers.fetch_sub(1);
  }
}

void Team::startGeneration() {
  generation.fetch_add(1); // seq_cst: either a sleeper sees it or we see it
  if (sleepers.load() > 0) {
    std::lock_guard<std::mutex> lock(sleepMutex);
    wake.notify_all();
  }
}

void Team::resize(int n) {
  stop.store(true);
  startGeneration();
  for (std::thread &t : workers)
    t.join();
  workers.clear();
  stop.store(false);
  threads = std::max(1, n);
  // Workers start from the current generation: a region started before a
  // worker first runs must still be seen as new.
  uint64_t start = generation.load(std::memory_order_acquire);
  for (int id = 1; id < threads; ++id)
    workers.emplace_back([this, id, start] { work(id, start); });
}

void Team::work(int id, uint64_t seen) {
  threadId = id;
  for (;;) {
    awaitRegion(seen);
    seen = generation.load(std::memory_order_acquire);
    if (stop.load())
      return;
    inRegion = true;
    regionSize = threads;
    invoke(region, id);
    inRegion = false;
    running.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void Team::run(const Region &r) {
  region = r;
  running.store(threads - 1, std::memory_order_relaxed);
  startGeneration();
  inRegion = true;
  regionSize = threads;
  invoke(region, 0);
  inRegion = false;
  regionSize = 1;
  while (running.load(std::memory_order_acquire) != 0)
    ;
}

void Team::barrier() {
  if (regionSize <= 1)
    return;
  uint64_t phase = released.load(std::memory_order_acquire);
  if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == regionSize) {
    arrived.store(0, std::memory_order_relaxed);
    released.fetch_add(1, std::memory_order_release);
    return;
  }
  spinWait(released, phase);
}

/// Static schedule: this thread's contiguous share of [lower, upper] (both
/// inclusive, as the ABI has them), balanced to within one iteration. An
/// empty share comes back as upper = lower - 1.
template <typename T>
void staticInit(int32_t gtid, T *lower, T *upper, T *stride, int32_t *last,
                T incr) {
  using U = std::make_unsigned_t<T>;
  int64_t n = inRegion ? regionSize : 1, id = inRegion ? gtid : 0;
  U step = U(incr > 0 ? incr : 1);
  U total = U(*upper - *lower) / step + 1; // wraps to 0 when empty
  if (*upper < *lower && !std::is_unsigned_v<T>)
    total = 0;
  U base = total / U(n), extra = total % U(n);
  U first = U(id) * base + std::min<U>(U(id), extra);
  U count = base + (U(id) < extra ? 1 : 0);
  T start = T(U(*lower) + first * step);
  *lower = start;
  *upper = T(U(start) + count * step - step); // start - step when empty
  *stride = T(total * step);
  if (last)
    *last = count && first + count == total;
}

} // namespace

int tern::rt::numThreads() { return team.size(); }

void tern::rt::setNumThreads(int threads) { team.resize(threads); }

int tern::rt::defaultThreads() {
  // The CPUs this process may run on (a container or taskset may allow
  // fewer than the machine has).
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  unsigned n = std::thread::hardware_concurrency();
  return n ? int(n) : 1;
}

extern "C" {

void tern_set_num_threads(int threads) { team.resize(threads); }

struct ident_t; // source location, unused

int32_t tern_kmpc_global_thread_num(ident_t *) { return threadId; }

void tern_kmpc_fork_call(ident_t *, int32_t argc, Microtask task, ...) {
  // The compiler refuses regions with more (Emit.cpp): never reached.
  if (argc < 0 || argc > kMaxArgs) {
    std::fprintf(stderr,
                 "internal error: parallel region with %d arguments (at "
                 "most %d supported)\n",
                 argc, kMaxArgs);
    std::abort();
  }
  Region region;
  region.task = task;
  region.argc = argc;
  va_list ap;
  va_start(ap, task);
  for (int i = 0; i < argc; ++i)
    region.args[i] = va_arg(ap, void *);
  va_end(ap);
  if (inRegion || team.size() == 1) { // nested or single thread: run here
    bool outer = inRegion;
    int32_t size = regionSize;
    inRegion = true;
    regionSize = 1;
    invoke(region, 0);
    inRegion = outer;
    regionSize = size;
    return;
  }
  team.run(region);
}

void tern_kmpc_for_static_init_4(ident_t *, int32_t gtid, int32_t,
                                 int32_t *last, int32_t *lower, int32_t *upper,
                                 int32_t *stride, int32_t incr, int32_t) {
  staticInit<int32_t>(gtid, lower, upper, stride, last, incr);
}
void tern_kmpc_for_static_init_4u(ident_t *, int32_t gtid, int32_t,
                                  int32_t *last, uint32_t *lower,
                                  uint32_t *upper, int32_t *stride,
                                  int32_t incr, int32_t) {
  uint32_t s = 0;
  staticInit<uint32_t>(gtid, lower, upper, &s, last, uint32_t(incr));
  *stride = int32_t(s);
}
void tern_kmpc_for_static_init_8(ident_t *, int32_t gtid, int32_t,
                                 int32_t *last, int64_t *lower, int64_t *upper,
                                 int64_t *stride, int64_t incr, int64_t) {
  staticInit<int64_t>(gtid, lower, upper, stride, last, incr);
}
void tern_kmpc_for_static_init_8u(ident_t *, int32_t gtid, int32_t,
                                  int32_t *last, uint64_t *lower,
                                  uint64_t *upper, int64_t *stride,
                                  int64_t incr, int64_t) {
  uint64_t s = 0;
  staticInit<uint64_t>(gtid, lower, upper, &s, last, uint64_t(incr));
  *stride = int64_t(s);
}
void tern_kmpc_for_static_fini(ident_t *, int32_t) {}

void tern_kmpc_barrier(ident_t *, int32_t) { team.barrier(); }

} // extern "C"
