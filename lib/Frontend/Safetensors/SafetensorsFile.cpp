//===- SafetensorsFile.cpp - Mapping and checking .safetensors files ------===//

#include "SafetensorsFile.h"

#include "tern/Frontend/Limits.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::tern;
namespace json = llvm::json;

int64_t SafetensorsTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Type SafetensorsTensor::elementType(MLIRContext *ctx) const {
  switch (dtype) {
  case SafetensorsDType::F32:
    return Float32Type::get(ctx);
  case SafetensorsDType::F16:
    return Float16Type::get(ctx);
  case SafetensorsDType::BF16:
    return BFloat16Type::get(ctx);
  case SafetensorsDType::U8:
  case SafetensorsDType::I8:
    return IntegerType::get(ctx, 8);
  }
  llvm_unreachable("unknown dtype");
}

std::string mlir::tern::formatShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? ", " : "") + std::to_string(d);
  return s + "]";
}

static std::optional<std::pair<SafetensorsDType, int64_t>>
parseDType(StringRef name) {
  using R = std::optional<std::pair<SafetensorsDType, int64_t>>;
  return llvm::StringSwitch<R>(name)
      .Case("F32", R({SafetensorsDType::F32, 4}))
      .Case("F16", R({SafetensorsDType::F16, 2}))
      .Case("BF16", R({SafetensorsDType::BF16, 2}))
      .Case("U8", R({SafetensorsDType::U8, 1}))
      .Case("I8", R({SafetensorsDType::I8, 1}))
      .Default(std::nullopt);
}

llvm::Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(StringRef path, llvm::vfs::FileSystem &fs) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  };
  // Large files are mapped, not read.
  auto mapped = readFile(fs, path);
  if (!mapped)
    return fail(mapped.getError().message());
  auto file = std::make_unique<SafetensorsFile>();
  file->path = path.str();
  file->buffer = std::move(*mapped);
  StringRef bytes = file->buffer->getBuffer();
  if (bytes.size() < 8)
    return fail(llvm::formatv("file is {0} bytes, too short for a "
                              "safetensors header",
                              bytes.size()));
  uint64_t headerSize = llvm::support::endian::read64le(bytes.data());
  if (headerSize > bytes.size() - 8)
    return fail(llvm::formatv("header length {0} runs past the end of the "
                              "file ({1} bytes); not a safetensors file, or "
                              "truncated",
                              headerSize, bytes.size()));
  if (headerSize > limits::kMaxHeaderBytes)
    return fail(llvm::formatv("header length {0} exceeds safetensors' limit "
                              "of {1} bytes",
                              headerSize, limits::kMaxHeaderBytes));
  StringRef header = bytes.substr(8, headerSize);
  StringRef dataSection = bytes.substr(8 + headerSize);

  llvm::Expected<json::Value> parsed = json::parse(header);
  if (!parsed)
    return fail("header is not valid JSON: " +
                llvm::toString(parsed.takeError()));
  json::Object *root = parsed->getAsObject();
  if (!root)
    return fail("header is not a JSON object");
  if (root->size() > limits::kMaxTensors)
    return fail(llvm::formatv("header lists {0} tensors; Tern reads at most "
                              "{1}",
                              root->size(), limits::kMaxTensors));

  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  for (auto &[key, value] : *root) {
    StringRef name = key;
    if (name == "__metadata__")
      continue;
    auto bad = [&](const llvm::Twine &message) {
      return fail("tensor '" + name + "': " + message);
    };
    json::Object *entry = value.getAsObject();
    if (!entry)
      return bad("header entry is not an object");
    std::optional<StringRef> dtypeName = entry->getString("dtype");
    json::Array *shape = entry->getArray("shape");
    json::Array *offsets = entry->getArray("data_offsets");
    if (!dtypeName || !shape || !offsets)
      return bad("header entry needs \"dtype\" (string), \"shape\" and "
                 "\"data_offsets\" (arrays)");
    auto dtype = parseDType(*dtypeName);
    if (!dtype)
      return bad("unsupported dtype " + *dtypeName +
                 " (Tern reads F32, F16, BF16, U8 and I8)");
    SafetensorsTensor tensor;
    tensor.name = name.str();
    tensor.dtype = dtype->first;
    tensor.dtypeName = dtypeName->str();
    uint64_t elements = 1;
    for (const json::Value &d : *shape) {
      std::optional<int64_t> size = d.getAsInteger();
      if (!size || *size < 0)
        return bad("shape entries must be non-negative integers");
      if (!limits::mulWithin(elements, uint64_t(*size),
                             limits::kMaxTensorElements, elements))
        return bad(llvm::formatv("its shape has more than {0} elements",
                                 limits::kMaxTensorElements));
      tensor.shape.push_back(*size);
    }
    uint64_t numBytes = elements * dtype->second;
    std::optional<int64_t> begin, end;
    if (offsets->size() == 2) {
      begin = (*offsets)[0].getAsInteger();
      end = (*offsets)[1].getAsInteger();
    }
    if (!begin || !end || *begin < 0 || *end < *begin)
      return bad("data_offsets must be two integers [begin, end) with "
                 "0 <= begin <= end");
    if (uint64_t(*end) > dataSection.size())
      return bad(llvm::formatv("data [{0}, {1}) runs past the end of the "
                               "data section ({2} bytes); the file is "
                               "truncated or its header is wrong",
                               *begin, *end, dataSection.size()));
    if (uint64_t(*end - *begin) != numBytes)
      return bad(llvm::formatv("data is {0} bytes but shape {1} of {2} "
                               "needs {3}",
                               *end - *begin, tensor.shapeString(), *dtypeName,
                               numBytes));
    tensor.data = ArrayRef<char>(dataSection.data() + *begin, numBytes);
    spans.push_back({uint64_t(*begin), uint64_t(*end), file->tensors.size()});
    file->tensors.push_back(std::move(tensor));
  }

  // Overlapping data means a corrupt header: two tensors would alias.
  llvm::sort(spans, [](const Span &a, const Span &b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      return fail("tensor '" + file->tensors[spans[i].index].name +
                  "': data overlaps tensor '" +
                  file->tensors[spans[i - 1].index].name + "'");
  std::vector<SafetensorsTensor> ordered;
  for (const Span &s : spans)
    ordered.push_back(std::move(file->tensors[s.index]));
  file->tensors = std::move(ordered);
  return file;
}
