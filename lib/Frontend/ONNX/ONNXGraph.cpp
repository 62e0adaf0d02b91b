//===- ONNXGraph.cpp - ONNX tensors, initializers, the probe run ----------===//

#include "ONNXGraph.h"
#include "Interpreter.h"
#include "tern/Frontend/Limits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <type_traits>

using namespace mlir::tern::onnx_frontend;
using namespace mlir::tern::onnx_frontend::interp;

int64_t Tensor::size() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Tensor Tensor::floats(std::vector<int64_t> shape, std::vector<float> data) {
  Tensor t;
  t.shape = std::move(shape);
  t.f = std::move(data);
  return t;
}

Tensor Tensor::ints(int32_t type, std::vector<int64_t> shape,
                    std::vector<int64_t> data) {
  Tensor t;
  t.type = type;
  t.shape = std::move(shape);
  t.i = std::move(data);
  return t;
}

std::string mlir::tern::onnx_frontend::shapeString(ArrayRef<int64_t> shape) {
  return "[" +
         llvm::join(llvm::map_range(
                        shape, [](int64_t d) { return std::to_string(d); }),
                    ", ") +
         "]";
}

namespace mlir::tern::onnx_frontend {

template <> bool Elements<float>::compact() {
  if (bytes || codes)
    return bool(codes);
  // Codes, then the palette's bit patterns (so that -0 and NaNs stay what
  // they are), aligned after them.
  int64_t n = int64_t(owned.size()), at = (n + 3) / 4 * 4;
  auto block = std::make_shared<std::vector<uint8_t>>(at + 256 * 4);
  uint8_t *out = block->data();
  uint32_t seen[256];
  int used = 0;
  // Without branches on the (random) values: a weight's few values come in
  // no order.
  for (int64_t k = 0; k < n; ++k) {
    uint32_t bits = llvm::bit_cast<uint32_t>(owned[k]);
    int found = -1;
    for (int j = 0; j < used; ++j)
      found = seen[j] == bits ? j : found;
    if (found < 0) {
      if (used == 256)
        return false;
      seen[used] = bits;
      found = used++;
    }
    out[k] = uint8_t(found);
  }
  std::memcpy(out + at, seen, used * 4);
  count = n;
  code = out;
  palette = reinterpret_cast<const float *>(out + at);
  codes = std::move(block);
  owned = std::vector<float>();
  return true;
}

} // namespace mlir::tern::onnx_frontend

namespace {

/// Views `count` little-endian elements of `type` at `bytes`, which `keep`
/// (or the model) keeps alive.
Tensor view(int32_t type, std::vector<int64_t> shape, const char *bytes,
            int64_t count, std::shared_ptr<const void> keep) {
  Tensor t;
  t.shape = std::move(shape);
  if (isFloatType(type)) {
    t.f = Elements<float>::view(type, bytes, count, std::move(keep));
    return t;
  }
  t.type = type;
  t.i = Elements<int64_t>::view(type, bytes, count, std::move(keep));
  return t;
}

} // namespace

int64_t mlir::tern::onnx_frontend::elementBytes(int32_t type) {
  switch (type) {
  case T::FLOAT:
  case T::INT32:
  case T::UINT32:
    return 4;
  case T::UINT8:
  case T::INT8:
  case T::BOOL:
    return 1;
  case T::UINT16:
  case T::INT16:
  case T::FLOAT16:
  case T::BFLOAT16:
    return 2;
  case T::INT64:
  case T::UINT64:
  case T::DOUBLE:
    return 8;
  default:
    return 0;
  }
}

Expected<Tensor> mlir::tern::onnx_frontend::readTensor(const T &proto,
                                                       const DataDir &dir) {
  std::vector<int64_t> shape(proto.dims().begin(), proto.dims().end());
  // Every later product of these dimensions (even with a 0 among them) is
  // then free of overflow.
  uint64_t bound = 1;
  for (int64_t d : shape)
    if (d < 0 || !mlir::tern::limits::mulWithin(
                     bound, std::max<int64_t>(d, 1),
                     mlir::tern::limits::kMaxTensorElements, bound))
      return error("tensor '" + proto.name() + "' has shape " +
                   shapeString(shape) +
                   (d < 0 ? ", with a negative dimension"
                          : ", more than 2^40 elements"));
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  int32_t type = proto.data_type();
  if (elementBytes(type) == 0)
    return error("tensor '" + proto.name() + "' has data type " +
                 std::to_string(type) + ", which Tern does not read");
  if (proto.data_location() == T::EXTERNAL) {
    std::string location;
    uint64_t offset = 0;
    for (const onnx::StringStringEntryProto &e : proto.external_data()) {
      if (e.key() == "location")
        location = e.value();
      else if (e.key() == "offset")
        llvm::to_integer(e.value(), offset);
    }
    llvm::SmallString<256> file(dir.path);
    llvm::sys::path::append(file, location);
    auto buffer = readFile(*dir.fs, file);
    if (!buffer)
      return error("tensor '" + proto.name() + "': cannot read '" + file +
                   "': " + buffer.getError().message());
    uint64_t bytes = uint64_t(count * elementBytes(type));
    if (offset > (*buffer)->getBufferSize() ||
        bytes > (*buffer)->getBufferSize() - offset)
      return error("tensor '" + proto.name() + "': '" + file +
                   "' is too short for its external data");
    std::shared_ptr<llvm::MemoryBuffer> keep = std::move(*buffer);
    const char *start = keep->getBufferStart() + offset;
    return view(type, shape, start, count, std::move(keep));
  }
  if (proto.has_raw_data()) {
    if (int64_t(proto.raw_data().size()) != count * elementBytes(type))
      return error("tensor '" + proto.name() +
                   "' holds the wrong number of "
                   "bytes for its shape");
    return view(type, shape, proto.raw_data().data(), count, nullptr);
  }
  Tensor t;
  t.shape = shape;
  std::vector<float> f;
  std::vector<int64_t> i;
  if (type == T::FLOAT) {
    f.assign(proto.float_data().begin(), proto.float_data().end());
  } else if (type == T::DOUBLE) {
    for (double d : proto.double_data())
      f.push_back(float(d));
  } else if (type == T::FLOAT16 || type == T::BFLOAT16) {
    for (int32_t v : proto.int32_data())
      f.push_back(type == T::FLOAT16
                      ? halfToFloat(uint16_t(v))
                      : llvm::bit_cast<float>(uint32_t(uint16_t(v)) << 16));
  } else {
    t.type = type;
    if (type == T::INT64)
      i.assign(proto.int64_data().begin(), proto.int64_data().end());
    else if (type == T::UINT64 || type == T::UINT32)
      i.assign(proto.uint64_data().begin(), proto.uint64_data().end());
    else
      for (int32_t v : proto.int32_data())
        i.push_back(wrap(type, v));
  }
  if (int64_t(f.size() + i.size()) != count)
    return error("tensor '" + proto.name() +
                 "' holds the wrong number of "
                 "elements for its shape");
  t.f = std::move(f);
  t.i = std::move(i);
  return t;
}

Error GraphValues::run(llvm::StringMap<Tensor> inputs, const DataDir &dir,
                       ArrayRef<std::string> dynamicInputs) {
  // Each value is defined once (ONNX graphs are in SSA form): a second
  // definition would replace a value that nodes already read.
  llvm::StringSet<> defined;
  for (const onnx::ValueInfoProto &v : graph.input())
    if (!defined.insert(v.name()).second)
      return error("graph input '" + v.name() + "' is declared twice");
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &name : node.output())
      if (!name.empty() && !defined.insert(name).second)
        return error("value '" + name + "' is defined twice (again by node '" +
                     node.name() + "')");
  for (const onnx::ValueInfoProto &v : graph.input()) {
    if (!inputs.count(v.name()))
      continue;
    values[v.name()] = std::move(inputs[v.name()]);
    if (dynamicInputs.empty() || llvm::is_contained(dynamicInputs, v.name()))
      dynamic[v.name()] = true;
  }
  // Initializers are decoded when first read, so that the weights of a
  // large model are not all in memory at once.
  llvm::StringMap<const T *> unread;
  for (const T &t : graph.initializer())
    if (!values.count(t.name())) {
      unread[t.name()] = &t;
      initializers[t.name()] = true;
    }
  // Large constants that only feed further constant folding (the steps of a
  // training-form weight chain) are dropped after their last use: what the
  // frontend reads later are the weights products and lookups take, and
  // small values.
  llvm::StringMap<int64_t> pending;
  llvm::StringSet<> kept;
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &name : node.input()) {
      ++pending[name];
      StringRef op = node.op_type();
      if (op == "MatMul" || op == "Gemm" || op == "MatMulInteger" ||
          op == "MatMulNBits" || op == "Gather")
        kept.insert(name);
    }
  for (const onnx::ValueInfoProto &v : graph.output())
    kept.insert(v.name());
  constexpr int64_t kSmall = int64_t(1) << 16;

  for (const onnx::NodeProto &node : graph.node()) {
    std::vector<const Tensor *> args;
    bool isDynamicNode = false;
    for (const std::string &name : node.input()) {
      if (auto it = unread.find(name); it != unread.end()) {
        auto tensor = readTensor(*it->second, dir);
        if (!tensor)
          return tensor.takeError();
        values[name] = std::move(*tensor);
        unread.erase(it);
      }
    }
    for (const std::string &name : node.input()) {
      args.push_back(name.empty() ? nullptr : get(name));
      if (!name.empty())
        readers[name].push_back(&node);
      isDynamicNode |= !name.empty() && isDynamic(name);
    }
    // A shape depends on the input's size, not on its contents.
    if (node.op_type() == "Shape")
      isDynamicNode = false;
    auto outs = evaluateNode(node, args, dir);
    if (!outs)
      return outs.takeError();
    for (auto [name, value] : llvm::zip(node.output(), *outs)) {
      producers[name] = &node;
      // A folded weight the frontend reads later: its few distinct values
      // (ternary times a scale) make it a palette, a byte per element.
      if (!isDynamicNode && value.isFloat() && value.size() > kSmall &&
          kept.contains(name))
        value.f.compact();
      values[name] = std::move(value);
      if (isDynamicNode)
        dynamic[name] = true;
    }
    for (const std::string &name : node.input()) {
      if (name.empty() || --pending[name] > 0 || kept.contains(name) ||
          isDynamic(name))
        continue;
      Tensor &t = values[name];
      if (t.size() > kSmall) {
        t.f.release();
        t.i.release();
      }
    }
  }
  return Error::success();
}
