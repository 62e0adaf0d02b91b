//===- SafetensorsFile.h - A mapped, checked .safetensors file --*- C++ -*-===//
//
// Format: an 8-byte little-endian header length n, n bytes of JSON mapping
// tensor names to {dtype, shape, data_offsets: [begin, end)} relative to the
// data section that follows, and an optional "__metadata__" entry.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_SAFETENSORSFILE_H
#define TERN_FRONTEND_SAFETENSORSFILE_H

#include "tern/Frontend/Files.h"

#include "mlir/IR/Types.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::tern {

/// Element types Tern reads from checkpoints.
enum class SafetensorsDType { F32, F16, BF16, U8, I8 };

/// "[2560, 640]" for messages.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDType dtype;
  std::string dtypeName; // as written in the header, for messages
  llvm::SmallVector<int64_t> shape;
  llvm::ArrayRef<char> data;

  int64_t numElements() const;
  /// The MLIR element type the bytes are stored as (u8 as i8).
  Type elementType(MLIRContext *ctx) const;
  std::string shapeString() const { return formatShape(shape); }
};

class SafetensorsFile {
public:
  /// Maps `path` and checks its header: every entry well-formed, a known
  /// dtype, data inside the file, sizes matching shapes, no overlaps.
  /// Errors name the file and the tensor.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path, llvm::vfs::FileSystem &fs = realFileSystem());

  llvm::StringRef getPath() const { return path; }
  /// Tensors in the order of their data.
  llvm::ArrayRef<SafetensorsTensor> getTensors() const { return tensors; }
  /// The mapping, shared with the resource blobs that view it.
  std::shared_ptr<llvm::MemoryBuffer> getBuffer() const { return buffer; }

private:
  std::string path;
  std::shared_ptr<llvm::MemoryBuffer> buffer;
  std::vector<SafetensorsTensor> tensors;
};

} // namespace mlir::tern

#endif // TERN_FRONTEND_SAFETENSORSFILE_H
