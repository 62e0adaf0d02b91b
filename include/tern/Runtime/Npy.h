//===- Npy.h - Writing .npy files -------------------------------*- C++ -*-===//

#ifndef TERN_RUNTIME_NPY_H
#define TERN_RUNTIME_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace tern::rt {

/// Writes a C-order float32 array of shape [rows, cols] as a NumPy .npy file
/// (format 1.0). Writes to a temporary name and renames, so a failure never
/// leaves a partial file. Returns false and sets `error` on failure.
bool writeNpyF32(const std::string &path, const float *data, int64_t rows,
                 int64_t cols, std::string &error);

/// The same for any shape.
bool writeNpyF32(const std::string &path, const float *data,
                 const std::vector<int64_t> &shape, std::string &error);

/// Reads a C-order little-endian float32 .npy file (format 1.0 to 3.0).
/// Returns false and sets `error` (naming the file and what is wrong) for
/// anything else.
bool readNpyF32(const std::string &path, std::vector<int64_t> &shape,
                std::vector<float> &data, std::string &error);

/// The same for the contents `bytes` of a file that errors call `name`.
bool parseNpyF32(const std::string &bytes, const std::string &name,
                 std::vector<int64_t> &shape, std::vector<float> &data,
                 std::string &error);

} // namespace tern::rt

#endif // TERN_RUNTIME_NPY_H
