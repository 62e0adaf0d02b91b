//===- Weights.h - The weights appended to an executable --------*- C++ -*-===//
//
// ternc appends an executable's weights after linking it (see
// lib/Target/Emit/Weights.cpp): the code addresses the zero-filled,
// region kWeightsRegion (kWeightsRegionSize bytes, a multiple of
// kRegionAlign, aligned to regionAlignFor(its size)), and the file ends with
// the region's image at a file offset aligned the same, then a trailer of
// kWeightsTrailerSize bytes: kWeightsMagic, the image's offset and its size
// (little-endian 64-bit each). The runtime maps the image over the region.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_WEIGHTS_H
#define TERN_RUNTIME_WEIGHTS_H

#include <cstdint>
#include <string>

namespace tern {

inline constexpr const char *kWeightsRegion = "tern_weights_region";
inline constexpr const char *kWeightsRegionSize = "tern_weights_region_size";
inline constexpr const char kWeightsMagic[9] = "TERNWTS1";
inline constexpr unsigned kWeightsTrailerSize = 24;
/// The largest page size of the targets (AArch64 kernels may use 64 KB).
inline constexpr uint64_t kRegionAlign = 65536;
/// A region at least this large starts at a multiple of it, in memory and
/// in the file: a huge page (x86-64, AArch64 with 4 KB pages), so that the
/// runtime can back all of it with huge pages (loadWeights).
inline constexpr uint64_t kHugePage = 2 << 20;
/// Where an image of `size` bytes starts: kHugePage or kRegionAlign.
inline constexpr uint64_t regionAlignFor(uint64_t size) {
  return size >= kHugePage ? kHugePage : kRegionAlign;
}

namespace rt {

/// Maps the weights appended to this executable over its weights region
/// (nothing to do in a program without one). Returns false and sets `error`,
/// naming the executable (`argv0`) and what is wrong, when they are missing
/// or do not fit.
bool mapWeights(const char *argv0, std::string &error);

/// Reads every page of the weights in now, so that the first prompt is not
/// timed with a page fault per 4 KB of model. With `copy`, and where Linux
/// lends transparent huge pages, the mapped image is replaced by a copy in
/// huge pages: kernels that stream the weights every token then take a
/// TLB miss per 2 MB, not per 4 KB (the file's page cache is in huge pages
/// only when it happened to be read that way). Returns whether it copied.
bool loadWeights(bool copy);

} // namespace rt
} // namespace tern

#endif // TERN_RUNTIME_WEIGHTS_H
