//===- GGUFFile.cpp - parsing and checking a GGUF file -------------------===//

#include "GGUFFile.h"

#include "tern/Frontend/Limits.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mlir::tern;

std::string mlir::tern::ggmlTypeName(uint32_t type) {
  static const std::pair<GGMLType, const char *> names[] = {
      {GGMLType::F32, "F32"},         {GGMLType::F16, "F16"},
      {GGMLType::Q4_0, "Q4_0"},       {GGMLType::Q4_1, "Q4_1"},
      {GGMLType::Q5_0, "Q5_0"},       {GGMLType::Q5_1, "Q5_1"},
      {GGMLType::Q8_0, "Q8_0"},       {GGMLType::Q8_1, "Q8_1"},
      {GGMLType::Q2_K, "Q2_K"},       {GGMLType::Q3_K, "Q3_K"},
      {GGMLType::Q4_K, "Q4_K"},       {GGMLType::Q5_K, "Q5_K"},
      {GGMLType::Q6_K, "Q6_K"},       {GGMLType::Q8_K, "Q8_K"},
      {GGMLType::IQ2_XXS, "IQ2_XXS"}, {GGMLType::IQ2_XS, "IQ2_XS"},
      {GGMLType::IQ3_XXS, "IQ3_XXS"}, {GGMLType::IQ1_S, "IQ1_S"},
      {GGMLType::IQ4_NL, "IQ4_NL"},   {GGMLType::IQ3_S, "IQ3_S"},
      {GGMLType::IQ2_S, "IQ2_S"},     {GGMLType::IQ4_XS, "IQ4_XS"},
      {GGMLType::I8, "I8"},           {GGMLType::I16, "I16"},
      {GGMLType::I32, "I32"},         {GGMLType::I64, "I64"},
      {GGMLType::F64, "F64"},         {GGMLType::IQ1_M, "IQ1_M"},
      {GGMLType::BF16, "BF16"},       {GGMLType::TQ1_0, "TQ1_0"},
      {GGMLType::TQ2_0, "TQ2_0"},     {GGMLType::I2_S, "I2_S"},
      {GGMLType::TL1, "TL1"},         {GGMLType::TL2, "TL2"},
      {GGMLType::IQ1_BN, "IQ1_BN"},   {GGMLType::IQ2_BN, "IQ2_BN"}};
  for (auto [id, name] : names)
    if (uint32_t(id) == type)
      return name;
  return "type " + std::to_string(type);
}

bool mlir::tern::isDequantizedType(uint32_t type) {
  switch (GGMLType(type)) {
  case GGMLType::Q4_0:
  case GGMLType::Q4_1:
  case GGMLType::Q5_0:
  case GGMLType::Q5_1:
  case GGMLType::Q8_0:
  case GGMLType::Q4_K:
  case GGMLType::Q5_K:
  case GGMLType::Q6_K:
    return true;
  default:
    return false;
  }
}

uint64_t GGUFTensor::numElements() const {
  uint64_t n = 1;
  for (uint64_t d : dims)
    n *= d;
  return n;
}

std::string GGUFTensor::dimsString() const {
  std::string s = "{";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "}";
}

std::optional<uint64_t> GGUFFile::byteSize(uint32_t type, uint64_t count,
                                           bool fork) {
  auto blocks = [&](uint64_t block, uint64_t bytes) -> std::optional<uint64_t> {
    if (count % block)
      return std::nullopt;
    return count / block * bytes;
  };
  switch (GGMLType(type)) {
  case GGMLType::F32:
    return count * 4;
  case GGMLType::F16:
  case GGMLType::BF16:
    return count * 2;
  case GGMLType::Q4_0:
    return blocks(32, 18);
  case GGMLType::Q4_1:
    return blocks(32, 20);
  case GGMLType::Q5_0:
    return blocks(32, 22);
  case GGMLType::Q5_1:
    return blocks(32, 24);
  case GGMLType::Q8_0:
    return blocks(32, 34);
  case GGMLType::Q4_K:
    return blocks(256, 144);
  case GGMLType::Q5_K:
    return blocks(256, 176);
  case GGMLType::Q6_K:
    return blocks(256, 210);
  case GGMLType::TQ1_0:
    return blocks(256, 54);
  case GGMLType::TQ2_0:
    return blocks(256, 66);
  case GGMLType::I2_S: // codes for every element, then a 32-byte tail
    if (!fork || count % 4)
      return std::nullopt;
    return count / 4 + 32;
  default:
    return std::nullopt;
  }
}

namespace {

/// Reads little-endian fields, failing (with the byte offset) at the end.
class Reader {
public:
  Reader(llvm::StringRef data) : data(data) {}
  size_t pos = 0;
  bool failed = false;
  uint64_t tooLong = 0; ///< the length of a string over the limit

  bool need(uint64_t n) {
    if (failed || n > data.size() - pos)
      return failed = true, false;
    return true;
  }
  template <typename T> T get() {
    T v{};
    if (need(sizeof(T))) {
      std::memcpy(&v, data.data() + pos, sizeof(T));
      pos += sizeof(T);
    }
    return v;
  }
  std::optional<std::string> string() {
    uint64_t n = get<uint64_t>();
    if (n > limits::kMaxStringBytes && !failed)
      tooLong = n, failed = true;
    if (!need(n))
      return std::nullopt;
    std::string s(data.data() + pos, n);
    pos += n;
    return s;
  }
  llvm::StringRef data;
};

const char *valueTypeName(uint32_t t) {
  static const char *names[] = {"u8",  "i8",  "u16",  "i16",    "u32",
                                "i32", "f32", "bool", "string", "array",
                                "u64", "i64", "f64"};
  return t < 13 ? names[t] : "?";
}

/// Bytes of one scalar value of type `t` (not string or array).
int scalarSize(uint32_t t) {
  static const int sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  return t < 13 ? sizes[t] : 0;
}

/// Whether the type-36 tensors of a file whose architecture does not say
/// take exactly bitnet.cpp's I2_S bytes: each one's space up to the next
/// tensor (or the end of the data) holds its codes and tail, padded.
bool i2sBySize(const std::vector<GGUFTensor> &list, uint64_t dataSize,
               uint64_t alignment) {
  std::vector<const GGUFTensor *> byOffset;
  for (const GGUFTensor &t : list)
    byOffset.push_back(&t);
  llvm::sort(byOffset, [](const GGUFTensor *a, const GGUFTensor *b) {
    return a->offset < b->offset;
  });
  bool any = false;
  for (size_t i = 0; i < byOffset.size(); ++i) {
    const GGUFTensor &t = *byOffset[i];
    if (t.type != uint32_t(GGMLType::I2_S))
      continue;
    any = true;
    uint64_t count = t.numElements();
    if (count % 4)
      return false;
    uint64_t size = count / 4 + 32;
    bool last = i + 1 == byOffset.size();
    uint64_t end = last ? dataSize : byOffset[i + 1]->offset;
    uint64_t gap = end < t.offset ? 0 : end - t.offset;
    if (gap < size || gap > llvm::alignTo(size, alignment) ||
        (!last && gap != llvm::alignTo(size, alignment)))
      return false;
  }
  return any;
}

} // namespace

llvm::Expected<std::unique_ptr<GGUFFile>>
GGUFFile::open(llvm::StringRef path, llvm::vfs::FileSystem &fs) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  };
  auto mapped = readFile(fs, path);
  if (!mapped)
    return fail(mapped.getError().message());
  auto file = std::make_unique<GGUFFile>();
  file->path = path.str();
  file->buffer = std::move(*mapped);
  llvm::StringRef data = file->buffer->getBuffer();
  Reader r(data);

  // Header.
  if (data.size() < 24)
    return fail(llvm::formatv("{0} bytes is too short for a GGUF header (24)",
                              data.size()));
  if (!data.starts_with("GGUF"))
    return fail("not a GGUF file (the first bytes are not \"GGUF\")");
  r.pos = 4;
  file->version = r.get<uint32_t>();
  if (file->version != 2 && file->version != 3)
    return fail(llvm::formatv("GGUF version {0} is not supported (2 and 3 "
                              "are)",
                              file->version));
  uint64_t tensorCount = r.get<uint64_t>(), kvCount = r.get<uint64_t>();
  // Each metadata pair and tensor info takes at least 12 / 24 bytes.
  if (kvCount > data.size() / 12 || tensorCount > data.size() / 24)
    return fail(llvm::formatv("the header claims {0} metadata pairs and {1} "
                              "tensors, more than {2} bytes can hold",
                              kvCount, tensorCount, data.size()));
  if (kvCount > limits::kMaxMetadataPairs || tensorCount > limits::kMaxTensors)
    return fail(llvm::formatv("the header claims {0} metadata pairs and {1} "
                              "tensors; Tern reads at most {2} and {3}",
                              kvCount, tensorCount, limits::kMaxMetadataPairs,
                              limits::kMaxTensors));

  // Metadata.
  auto truncated = [&](const llvm::Twine &what) {
    if (r.tooLong)
      return fail(what + llvm::formatv(": a string of {0} bytes exceeds "
                                       "Tern's limit of {1}",
                                       r.tooLong, limits::kMaxStringBytes));
    return fail(what + " runs past the end of the file (" +
                llvm::Twine(data.size()) + " bytes)");
  };
  for (uint64_t i = 0; i < kvCount; ++i) {
    std::optional<std::string> key = r.string();
    if (!key)
      return truncated(llvm::formatv("the key of metadata pair #{0}", i));
    uint32_t type = r.get<uint32_t>();
    if (r.failed)
      return truncated("metadata '" + *key + "'");
    GGUFValue v;
    v.typeName = valueTypeName(type);
    if (type == 8) {
      std::optional<std::string> s = r.string();
      if (!s)
        return truncated("the string of metadata '" + *key + "'");
      v.kind = GGUFValue::String;
      v.s = *s;
    } else if (type == 9) {
      v.kind = GGUFValue::Array;
      v.arrayType = r.get<uint32_t>();
      v.arrayCount = r.get<uint64_t>();
      if (r.failed)
        return truncated("the array of metadata '" + *key + "'");
      if (v.arrayCount > limits::kMaxArrayLength)
        return fail(llvm::formatv("metadata '{0}': an array of {1} values "
                                  "exceeds Tern's limit of {2}",
                                  *key, v.arrayCount, limits::kMaxArrayLength));
      size_t start = r.pos;
      if (v.arrayType == 8) {
        for (uint64_t j = 0; j < v.arrayCount; ++j)
          if (!r.string())
            return truncated(
                llvm::formatv("string #{0} of metadata '{1}'", j, *key));
      } else if (int size = scalarSize(v.arrayType)) {
        if (v.arrayCount > (data.size() - r.pos) / size || r.failed)
          return truncated("the array of metadata '" + *key + "'");
        r.pos += v.arrayCount * size;
      } else {
        return fail(llvm::formatv("metadata '{0}': arrays of {1} are not "
                                  "supported",
                                  *key, valueTypeName(v.arrayType)));
      }
      v.arrayData = data.substr(start, r.pos - start);
    } else if (int size = scalarSize(type)) {
      if (!r.need(size))
        return truncated("the value of metadata '" + *key + "'");
      const char *p = data.data() + r.pos;
      auto as = [&](auto x) {
        std::memcpy(&x, p, sizeof(x));
        return x;
      };
      switch (type) {
      case 0:
        v.i = as(uint8_t());
        break;
      case 1:
        v.i = as(int8_t());
        break;
      case 2:
        v.i = as(uint16_t());
        break;
      case 3:
        v.i = as(int16_t());
        break;
      case 4:
        v.i = as(uint32_t());
        break;
      case 5:
        v.i = as(int32_t());
        break;
      case 6:
        v.kind = GGUFValue::Float;
        v.f = as(float());
        break;
      case 7:
        v.kind = GGUFValue::Bool;
        v.i = as(uint8_t()) != 0;
        break;
      case 10:
        v.i = int64_t(as(uint64_t()));
        break;
      case 11:
        v.i = as(int64_t());
        break;
      case 12:
        v.kind = GGUFValue::Float;
        v.f = as(double());
        break;
      }
      r.pos += size;
    } else {
      return fail(
          llvm::formatv("metadata '{0}': unknown value type {1}", *key, type));
    }
    if (!file->metadata.try_emplace(*key, std::move(v)).second)
      return fail("metadata key '" + *key + "' appears twice");
  }

  uint64_t alignment = 32;
  if (const GGUFValue *a = file->lookup("general.alignment")) {
    if (a->kind != GGUFValue::Int || a->i <= 0 || !llvm::isPowerOf2_64(a->i))
      return fail("general.alignment must be a positive power of two");
    alignment = a->i;
  }
  std::string arch;
  if (const GGUFValue *a = file->lookup("general.architecture"))
    arch = a->s;

  // Tensor infos.
  for (uint64_t i = 0; i < tensorCount; ++i) {
    GGUFTensor t;
    std::optional<std::string> name = r.string();
    if (!name)
      return truncated(llvm::formatv("the name of tensor #{0}", i));
    t.name = *name;
    uint32_t rank = r.get<uint32_t>();
    if (r.failed)
      return truncated("tensor '" + t.name + "'");
    // ggml reads 0 dimensions as a scalar (ik_llama.cpp writes `.scale`
    // tensors so).
    if (rank > 4)
      return fail(llvm::formatv("tensor '{0}': {1} dimensions (0 to 4 are "
                                "valid)",
                                t.name, rank));
    for (uint32_t d = 0; d < rank; ++d)
      t.dims.push_back(r.get<uint64_t>());
    t.type = r.get<uint32_t>();
    t.offset = r.get<uint64_t>();
    if (r.failed)
      return truncated("tensor '" + t.name + "'");
    uint64_t elements = 1;
    for (uint64_t d : t.dims)
      if (d == 0 ||
          !limits::mulWithin(elements, d, limits::kMaxTensorElements, elements))
        return fail("tensor '" + t.name + "': dimensions " + t.dimsString() +
                    " are empty or too large");
    if (t.offset % alignment)
      return fail(llvm::formatv("tensor '{0}': offset {1} is not a multiple "
                                "of the alignment {2}",
                                t.name, t.offset, alignment));
    if (!file->byName.try_emplace(t.name, file->list.size()).second)
      return fail("tensor '" + t.name + "' appears twice");
    file->list.push_back(std::move(t));
  }

  // Data: aligned after the infos.
  uint64_t start = llvm::alignTo(r.pos, alignment);
  bool fork = arch == "bitnet-b1.58" || arch == "bitnet-25";
  if (const GGUFValue *ft = file->lookup("general.file_type"))
    fork |=
        ft->kind == GGUFValue::Int && ft->i == 40; // LLAMA_FTYPE_MOSTLY_I2_S
  if (!fork)
    fork = i2sBySize(file->list, start > data.size() ? 0 : data.size() - start,
                     alignment);
  for (const GGUFTensor &t : file->list) {
    uint64_t count = t.numElements();
    if (!byteSize(t.type, 256, fork)) { // unknown (every block divides 256)
      std::string why =
          t.type == uint32_t(GGMLType::I2_S)
              ? " is I2_S in bitnet.cpp, but this file's type-36 tensors do "
                "not take I2_S's bytes, and no other ggml type 36 exists "
                "any more"
          : t.type == uint32_t(GGMLType::IQ1_BN) ||
                  t.type == uint32_t(GGMLType::IQ2_BN)
              ? " is ik_llama.cpp's BitNet type, which Tern does not read "
                "yet (TQ1_0, TQ2_0 and I2_S are its ternary types)"
              : " is not supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, "
                "Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, TQ1_0, TQ2_0 and I2_S are)";
      // "ggml type 77", "ggml type 36", "ggml type IQ1_S (19)".
      std::string name = ggmlTypeName(t.type), id = std::to_string(t.type);
      bool named = name != "type " + id && t.type != uint32_t(GGMLType::I2_S);
      return fail("tensor '" + t.name + "': ggml type " +
                  (named ? name + " (" + id + ")" : id) + why);
    }
    if (!byteSize(t.type, count, fork))
      return fail("tensor '" + t.name + "': " + t.dimsString() + " is not " +
                  "a whole number of " + ggmlTypeName(t.type) + " blocks");
  }
  for (GGUFTensor &t : file->list) {
    uint64_t size = *byteSize(t.type, t.numElements(), fork);
    if (start > data.size() || t.offset > data.size() - start ||
        size > data.size() - start - t.offset)
      return fail(llvm::formatv("tensor '{0}': {1} bytes at offset {2} of "
                                "the data section run past the end of the "
                                "file ({3} bytes; truncated?)",
                                t.name, size, t.offset, data.size()));
    t.data = llvm::ArrayRef<char>(data.data() + start + t.offset, size);
  }
  return file;
}

const GGUFValue *GGUFFile::lookup(llvm::StringRef key) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

const GGUFTensor *GGUFFile::tensor(llvm::StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &list[it->second];
}

std::optional<std::vector<std::string>>
GGUFFile::stringArray(llvm::StringRef key) const {
  const GGUFValue *v = lookup(key);
  if (!v || v->kind != GGUFValue::Array || v->arrayType != 8)
    return std::nullopt;
  Reader r(v->arrayData); // bounds were checked when the file was opened
  std::vector<std::string> out;
  out.reserve(v->arrayCount);
  for (uint64_t i = 0; i < v->arrayCount; ++i)
    out.push_back(r.string().value_or(""));
  return out;
}

std::optional<std::vector<double>>
GGUFFile::numberArray(llvm::StringRef key) const {
  const GGUFValue *v = lookup(key);
  if (!v || v->kind != GGUFValue::Array || v->arrayType == 8 ||
      v->arrayType == 7)
    return std::nullopt;
  Reader r(v->arrayData);
  std::vector<double> out;
  out.reserve(v->arrayCount);
  for (uint64_t i = 0; i < v->arrayCount; ++i)
    switch (v->arrayType) {
    case 0:
      out.push_back(r.get<uint8_t>());
      break;
    case 1:
      out.push_back(r.get<int8_t>());
      break;
    case 2:
      out.push_back(r.get<uint16_t>());
      break;
    case 3:
      out.push_back(r.get<int16_t>());
      break;
    case 4:
      out.push_back(r.get<uint32_t>());
      break;
    case 5:
      out.push_back(r.get<int32_t>());
      break;
    case 6:
      out.push_back(r.get<float>());
      break;
    case 10:
      out.push_back(double(r.get<uint64_t>()));
      break;
    case 11:
      out.push_back(double(r.get<int64_t>()));
      break;
    default:
      out.push_back(r.get<double>());
      break;
    }
  return out;
}
