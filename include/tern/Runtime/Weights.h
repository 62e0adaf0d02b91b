//===- Weights.h - The weights appended to an executable --------*- C++ -*-===//
//
// ternc appends an executable's weights after linking it (see
// lib/Target/Emit/Weights.cpp): the code addresses the zero-filled,
// page-aligned region kWeightsRegion (kWeightsRegionSize bytes, a multiple
// of kRegionAlign), and the file ends with the region's image at a file
// offset that is a multiple of kRegionAlign, then a trailer of
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

namespace rt {

/// Maps the weights appended to this executable over its weights region
/// (nothing to do in a program without one). Returns false and sets `error`,
/// naming the executable (`argv0`) and what is wrong, when they are missing
/// or do not fit.
bool mapWeights(const char *argv0, std::string &error);

/// Reads every page of the weights in now, so that the first prompt is not
/// timed with a page fault per 4 KB of model.
void prefaultWeights();

} // namespace rt
} // namespace tern

#endif // TERN_RUNTIME_WEIGHTS_H
