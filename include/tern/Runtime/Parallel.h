//===- Parallel.h - the kernels' thread team --------------------*- C++ -*-===//
//
// Generated kernels run their parallel loops on one team of threads (see
// lib/Runtime/Parallel.cpp); the executable's -t sets its size.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_PARALLEL_H
#define TERN_RUNTIME_PARALLEL_H

namespace tern::rt {

/// Values a parallel region may capture (the compiler checks its regions
/// against it: lib/Target/Emit/Emit.cpp).
constexpr int kMaxParallelArgs = 32;

/// Threads the team has (1 until setNumThreads).
int numThreads();
/// Starts (or restarts) the team with `threads` threads, the caller included.
void setNumThreads(int threads);
/// What -t defaults to: the hardware threads available.
int defaultThreads();

} // namespace tern::rt

#endif // TERN_RUNTIME_PARALLEL_H
