//===- ONNXGraph.h - ONNX tensors, and a reference interpreter -*- C++ -*-===//
//
// The ONNX frontend reads a graph by running it: once at compile time, on a
// short probe input, with the plain loops below. Every value then has
// numbers, so that weight chains are folded to their result, shapes and RoPE
// tables can be read off, and every pattern the frontend recognises is
// checked against what the graph really computed (LMRecognizer.cpp).
//
// Float tensors compute in f32 as ONNX specifies (the BitNet quantizers'
// rounding depends on it); integer tensors in int64, wrapped to their type.
// Initializers are not converted: they are read in place (Elements).
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_ONNX_ONNXGRAPH_H
#define TERN_FRONTEND_ONNX_ONNXGRAPH_H

#include "Tern/IR/WeightData.h"
#include "tern/Frontend/Files.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace mlir::tern::onnx_frontend {

/// A tensor's elements, read one at a time (`operator[]`) or a span at a
/// time (`read`) whatever the storage, which is one of:
///  - values the interpreter computed (f32 for floats, int64 for integers);
///  - a view of an initializer's bytes in the model, at its stored type
///    (f32, f16, bf16, f64; int8 to int64, bool): no copy, no widening;
///  - a palette: uint8 codes into at most 256 floats, which is how a
///    folded constant weight (ternary times a scale) is kept.
/// So that importing a model holds about its file size, not a multiple.
template <typename E> class Elements {
public:
  Elements() = default;
  Elements(std::vector<E> values) : owned(std::move(values)) {}
  Elements(std::initializer_list<E> values) : owned(values) {}
  /// `count` elements of ONNX type `type` at `bytes`, which `keep` (or the
  /// model, when null) keeps alive.
  static Elements view(int32_t type, const char *bytes, int64_t count,
                       std::shared_ptr<const void> keep) {
    Elements e;
    e.stored = type;
    e.bytes = bytes;
    e.count = count;
    e.keep = std::move(keep);
    return e;
  }

  int64_t size() const {
    return bytes || codes ? count : int64_t(owned.size());
  }
  bool empty() const { return size() == 0; }
  E operator[](int64_t k) const {
    if (bytes)
      return decodeAt(k);
    if (code)
      return E(palette[code[k]]);
    return owned[k];
  }
  /// Elements [begin, begin + n) into `out`.
  void read(int64_t begin, int64_t n, E *out) const {
    if (!bytes && !codes) {
      std::copy(owned.begin() + begin, owned.begin() + begin + n, out);
      return;
    }
    for (int64_t k = 0; k < n; ++k)
      out[k] = (*this)[begin + k];
  }
  /// The elements as a vector of values (a copy).
  std::vector<E> vec() const {
    std::vector<E> v(size());
    read(0, size(), v.data());
    return v;
  }
  /// The computed values, for writing: a view or palette becomes values.
  std::vector<E> &values() {
    if (bytes || codes) {
      owned = vec();
      bytes = nullptr;
      code = nullptr;
      palette = nullptr;
      codes.reset();
      keep.reset();
    }
    return owned;
  }
  /// Keeps computed floats as a palette when they take at most 256 values;
  /// returns whether they do (Elements<float> only).
  bool compact();
  /// Drops the elements.
  void release() { *this = Elements(); }

private:
  E decodeAt(int64_t k) const;

  std::vector<E> owned;
  int32_t stored = 0;
  const char *bytes = nullptr;
  int64_t count = 0;
  std::shared_ptr<const void> keep;
  /// A palette's codes, then its (at most 256) floats, in one block.
  std::shared_ptr<const std::vector<uint8_t>> codes;
  const uint8_t *code = nullptr;
  const float *palette = nullptr;
};

namespace detail {
template <typename V> V load(const char *p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
} // namespace detail

template <> inline float Elements<float>::decodeAt(int64_t k) const {
  using detail::load;
  switch (stored) {
  case onnx::TensorProto::FLOAT:
    return load<float>(bytes + 4 * k);
  case onnx::TensorProto::DOUBLE:
    return float(load<double>(bytes + 8 * k));
  case onnx::TensorProto::FLOAT16:
    return halfToFloat(load<uint16_t>(bytes + 2 * k));
  default: // BFLOAT16
    return llvm::bit_cast<float>(uint32_t(load<uint16_t>(bytes + 2 * k)) << 16);
  }
}

template <> inline int64_t Elements<int64_t>::decodeAt(int64_t k) const {
  using detail::load;
  switch (stored) {
  case onnx::TensorProto::UINT8:
    return uint8_t(bytes[k]);
  case onnx::TensorProto::BOOL:
    return bytes[k] != 0;
  case onnx::TensorProto::INT8:
    return int8_t(bytes[k]);
  case onnx::TensorProto::INT16:
    return load<int16_t>(bytes + 2 * k);
  case onnx::TensorProto::UINT16:
    return load<uint16_t>(bytes + 2 * k);
  case onnx::TensorProto::INT32:
    return load<int32_t>(bytes + 4 * k);
  case onnx::TensorProto::UINT32:
    return load<uint32_t>(bytes + 4 * k);
  default:
    return load<int64_t>(bytes + 8 * k);
  }
}

template <> bool Elements<float>::compact();

/// A dense tensor: floats (FLOAT, FLOAT16, BFLOAT16, DOUBLE, computed in
/// f32) or integers (every integer type and BOOL, computed in int64).
struct Tensor {
  /// The ONNX TensorProto data type it has (FLOAT for every float type).
  int32_t type = onnx::TensorProto::FLOAT;
  std::vector<int64_t> shape;
  Elements<float> f;
  Elements<int64_t> i;

  bool isFloat() const { return type == onnx::TensorProto::FLOAT; }
  int64_t size() const;
  int64_t rank() const { return int64_t(shape.size()); }
  /// Element `k` as a double, whatever the type.
  double at(int64_t k) const { return isFloat() ? f[k] : double(i[k]); }

  static Tensor floats(std::vector<int64_t> shape, std::vector<float> data);
  static Tensor ints(int32_t type, std::vector<int64_t> shape,
                     std::vector<int64_t> data);
};

/// "[2, 3]".
std::string shapeString(llvm::ArrayRef<int64_t> shape);

/// Bytes per element of an ONNX tensor data type, or 0 for types Tern does
/// not read (the checker rejects those before anything is read).
int64_t elementBytes(int32_t type);

/// Where a model's external data files are: its directory, on a file
/// system (the real one unless given).
struct DataDir {
  DataDir(llvm::StringRef path, llvm::vfs::FileSystem &fs = realFileSystem())
      : path(path), fs(&fs) {}
  DataDir(const char *path) : DataDir(llvm::StringRef(path)) {}
  llvm::StringRef path;
  llvm::vfs::FileSystem *fs;
};

/// Reads an initializer or a Constant's tensor; external data is read from
/// the file named relative to `dir`.
llvm::Expected<Tensor> readTensor(const onnx::TensorProto &proto,
                                  const DataDir &dir);

/// Runs one node on its inputs (null for omitted optional inputs). Errors
/// name the node and say what is wrong with its inputs or attributes.
llvm::Expected<std::vector<Tensor>>
evaluateNode(const onnx::NodeProto &node, llvm::ArrayRef<const Tensor *> inputs,
             const DataDir &dir);

/// The [K, N] float matrix that a matmul-like node (MatMul, Gemm,
/// MatMulInteger, com.microsoft.MatMulNBits) multiplies its first input by,
/// from the values of its other inputs.
llvm::Expected<Tensor> matmulWeight(const onnx::NodeProto &node,
                                    llvm::ArrayRef<const Tensor *> inputs);

/// A graph with every value computed for one binding of its inputs.
class GraphValues {
public:
  explicit GraphValues(const onnx::GraphProto &graph) : graph(graph) {}

  /// Evaluates every node in order, with `inputs` bound to graph inputs.
  /// The values of `dynamicInputs` (default: all inputs) make what depends
  /// on them dynamic; the other inputs are fixed settings, like shapes.
  llvm::Error run(llvm::StringMap<Tensor> inputs, const DataDir &dir,
                  llvm::ArrayRef<std::string> dynamicInputs = {});

  /// The value of `name`. Large constants that only fed constant folding
  /// are released after the run (their data is empty).
  const Tensor *get(llvm::StringRef name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  /// The node that produces `name`, or null for inputs and initializers.
  const onnx::NodeProto *producer(llvm::StringRef name) const {
    auto it = producers.find(name);
    return it == producers.end() ? nullptr : it->second;
  }
  /// The nodes that read `name`, in graph order.
  llvm::ArrayRef<const onnx::NodeProto *>
  consumers(llvm::StringRef name) const {
    auto it = readers.find(name);
    return it == readers.end() ? llvm::ArrayRef<const onnx::NodeProto *>()
                               : llvm::ArrayRef(it->second);
  }
  /// Whether the value depends on the contents of a graph input (not only
  /// on its shape): activations, as opposed to weights, shapes and tables.
  bool isDynamic(llvm::StringRef name) const { return dynamic.contains(name); }
  /// Whether `name` is a graph initializer.
  bool isInitializer(llvm::StringRef name) const {
    return initializers.contains(name);
  }

  const onnx::GraphProto &graph;

private:
  llvm::StringMap<Tensor> values;
  llvm::StringMap<const onnx::NodeProto *> producers;
  llvm::StringMap<std::vector<const onnx::NodeProto *>> readers;
  llvm::StringMap<bool> dynamic, initializers;
};

} // namespace mlir::tern::onnx_frontend

#endif // TERN_FRONTEND_ONNX_ONNXGRAPH_H
