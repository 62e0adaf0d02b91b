//===- GGUFFile.h - a memory-mapped GGUF file ------------------*- C++ -*-===//
//
// GGUF (llama.cpp, bitnet.cpp): "GGUF", version (2 or 3), tensor and
// metadata counts, metadata key/value pairs, tensor infos (name, ggml dims
// with ne0 contiguous, type, offset), then the aligned tensor data. Every
// length, count and offset is checked against the file before it is used.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_GGUF_GGUFFILE_H
#define TERN_FRONTEND_GGUF_GGUFFILE_H

#include "tern/Frontend/Files.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::tern {

/// ggml type ids (SPEC 7.4) Tern reads or names. 36 is bitnet.cpp's (and
/// ik_llama.cpp's) I2_S; mainline ggml once used it for IQ4_NL_4_4 (since
/// removed). 134 and 135 are ik_llama.cpp's BitNet types.
enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  I2_S = 36,
  TL1 = 38,
  TL2 = 39,
  IQ1_BN = 134,
  IQ2_BN = 135,
};

/// The name of a type id ("Q4_0"), or "type N" for ids Tern does not know.
std::string ggmlTypeName(uint32_t type);
/// Whether Tern dequantizes `type` to f32 (the block formats llama-quantize
/// writes: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K).
bool isDequantizedType(uint32_t type);

struct GGUFTensor {
  std::string name;
  std::vector<uint64_t> dims; ///< ggml order: dims[0] is contiguous
  uint32_t type = 0;
  uint64_t offset = 0; ///< from the start of the data section
  llvm::ArrayRef<char> data;

  uint64_t numElements() const;
  std::string dimsString() const; ///< "{2560, 640}", ggml order
};

/// A metadata value: numbers and strings are kept; arrays as their element
/// type and count.
struct GGUFValue {
  enum Kind { Int, Float, Bool, String, Array } kind = Int;
  int64_t i = 0;
  double f = 0;
  std::string s;
  uint32_t arrayType = 0;
  uint64_t arrayCount = 0;
  llvm::StringRef arrayData; ///< the elements as stored (checked bounds)
  /// The type as the file names it ("u32", "string", ...).
  std::string typeName;
};

class GGUFFile {
public:
  /// Maps and parses `path`; the error names the file and what is wrong.
  /// Type 36 is read as bitnet.cpp's I2_S when the file says so: its
  /// architecture is that fork's (bitnet-b1.58, bitnet-25), its file type
  /// is I2_S (40), or its type-36 tensors take exactly I2_S's bytes (every
  /// architecture: bitnet.cpp also writes `llama` and `bitnet` files).
  static llvm::Expected<std::unique_ptr<GGUFFile>>
  open(llvm::StringRef path,
       llvm::vfs::FileSystem &fs = mlir::tern::realFileSystem());

  llvm::StringRef getPath() const { return path; }
  uint32_t getVersion() const { return version; }
  const GGUFValue *lookup(llvm::StringRef key) const;
  /// The elements of an array of strings, or std::nullopt when `key` is
  /// absent or not one.
  std::optional<std::vector<std::string>>
  stringArray(llvm::StringRef key) const;
  /// The elements of an array of numbers (any integer or float type), or
  /// std::nullopt when `key` is absent or not one.
  std::optional<std::vector<double>> numberArray(llvm::StringRef key) const;
  const GGUFTensor *tensor(llvm::StringRef name) const;
  const std::vector<GGUFTensor> &tensors() const { return list; }
  /// Keeps the mapping alive (for blobs that view it).
  std::shared_ptr<llvm::MemoryBuffer> getBuffer() const { return buffer; }

  /// Bytes of `count` elements of `type`, if Tern knows the type.
  static std::optional<uint64_t> byteSize(uint32_t type, uint64_t count,
                                          bool fork);

private:
  std::string path;
  uint32_t version = 0;
  std::shared_ptr<llvm::MemoryBuffer> buffer;
  llvm::StringMap<GGUFValue> metadata;
  std::vector<GGUFTensor> list;
  llvm::StringMap<size_t> byName;
};

} // namespace mlir::tern

#endif // TERN_FRONTEND_GGUF_GGUFFILE_H
