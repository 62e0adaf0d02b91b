//===- Limits.h - What the frontends accept at most -------------*- C++ -*-===//
//
// Model files come from strangers. Every count and size a file states is
// checked against what the file itself can hold and against these limits
// before anything is allocated for it, so that a hostile or corrupt file
// gets a clear error naming the limit instead of an allocation failure.
// Each limit is far above any published model (docs/Testing.md lists them
// beside the largest real value).
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_LIMITS_H
#define TERN_FRONTEND_LIMITS_H

#include <cstdint>

namespace mlir::tern::limits {

/// A safetensors JSON header (the format's own rule: 100 MB).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
/// Tensors in one file (2B4T: 332; Llama3-8B: 291).
inline constexpr uint64_t kMaxTensors = 1 << 20;
/// Elements of one tensor (Llama3-8B's embedding: 5.3e8).
inline constexpr uint64_t kMaxTensorElements = uint64_t(1) << 40;
/// One string or array in GGUF metadata (a chat template: KBs; merges:
/// 280k strings).
inline constexpr uint64_t kMaxStringBytes = 64 << 20;
inline constexpr uint64_t kMaxArrayLength = 1 << 26;
/// Metadata pairs in one GGUF file (bitnet.cpp's 2B4T: 27).
inline constexpr uint64_t kMaxMetadataPairs = 1 << 16;
/// Tokens in a vocabulary (the largest in use: 256k).
inline constexpr int64_t kMaxVocab = 1 << 24;
/// Positions of context (Llama 3.1: 131072).
inline constexpr int64_t kMaxContext = 1 << 24;

/// `a * b`, or false when it exceeds `limit` (no overflow on the way).
inline bool mulWithin(uint64_t a, uint64_t b, uint64_t limit, uint64_t &out) {
  if (b != 0 && a > limit / b)
    return false;
  out = a * b;
  return out <= limit;
}

} // namespace mlir::tern::limits

#endif // TERN_FRONTEND_LIMITS_H
