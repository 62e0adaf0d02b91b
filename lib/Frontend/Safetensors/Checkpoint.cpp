//===- Checkpoint.cpp - Hugging Face safetensors checkpoints -> tern IR ---===//
//
// A checkpoint is a directory with config.json and either model.safetensors
// or shards listed by model.safetensors.index.json. The files are mapped and
// every weight becomes a resource blob viewing the mapping: nothing is copied
// but the small norm vectors (converted to f32).
//
// Weight layouts (SPEC.md section 6), told apart by the stored dtype:
//   U8 [N/4, K] + weight_scale   2B4T packed      -> #tern.packed<hf_rows>
//   I8 [N, K]   + weight_scale   unpacked ternary -> !tern.trit
//   F32/F16/BF16 [N, K]          latent weights   (tern-quantize-weights)
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "SafetensorsFile.h"
#include "tern/Frontend/Import.h"

#include "Tern/IR/TernDialect.h"
#include "Tern/IR/WeightData.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tern;
namespace json = llvm::json;

namespace {

class SafetensorsSource : public WeightSource {
public:
  SafetensorsSource(MLIRContext *ctx, bool scaleMultiplies)
      : ctx(ctx), scaleMultiplies(scaleMultiplies) {}

  /// Adds the tensors of `file`; fails on a name another shard also has.
  LogicalResult add(std::unique_ptr<SafetensorsFile> file) {
    for (const SafetensorsTensor &t : file->getTensors()) {
      auto [it, inserted] = entries.try_emplace(t.name, Entry{&t, file.get()});
      if (!inserted) {
        reportFrontendError(ctx, file->getPath(),
                            "tensor '" + t.name + "' is also in " +
                                it->second.file->getPath());
        return failure();
      }
      order.push_back(t.name);
    }
    files.push_back(std::move(file));
    return success();
  }

  bool has(StringRef name) const { return entries.count(name); }
  const SafetensorsFile *fileOf(StringRef name) const {
    auto it = entries.find(name);
    return it == entries.end() ? nullptr : it->second.file;
  }

  /// Reports the first tensors no part of the model asked for.
  LogicalResult checkAllUsed(StringRef architecture) const {
    SmallVector<StringRef> unused;
    for (const std::string &name : order)
      if (!entries.find(name)->second.used)
        unused.push_back(name);
    if (unused.empty())
      return success();
    std::string more =
        unused.size() > 1
            ? llvm::formatv(" (and {0} more)", unused.size() - 1).str()
            : "";
    reportFrontendError(ctx, entries.find(unused[0])->second.file->getPath(),
                        "unexpected tensor '" + unused[0] + "'" + more +
                            ": not part of a " + architecture +
                            " model with this config.json");
    return failure();
  }

  FailureOr<LinearWeight> linear(OpBuilder &b, StringRef name, int64_t n,
                                 int64_t k) override;
  FailureOr<Value> vector(OpBuilder &b, StringRef name, int64_t n) override;
  FailureOr<Value> table(OpBuilder &b, StringRef name, int64_t rows,
                         int64_t cols) override;

private:
  struct Entry {
    const SafetensorsTensor *tensor;
    SafetensorsFile *file;
    bool used = false;
  };

  const Entry *find(StringRef name, StringRef role) {
    auto it = entries.find(name);
    if (it == entries.end()) {
      reportFrontendError(
          ctx, files.front()->getPath(),
          llvm::formatv("missing tensor '{0}' ({1})", name, role));
      return nullptr;
    }
    it->second.used = true;
    return &it->second;
  }
  LogicalResult bad(const Entry &e, const llvm::Twine &message) {
    reportFrontendError(ctx, e.file->getPath(),
                        "tensor '" + e.tensor->name + "': " + message);
    return failure();
  }
  bool isFloat(const Entry &e) {
    return e.tensor->dtype == SafetensorsDType::F32 ||
           e.tensor->dtype == SafetensorsDType::F16 ||
           e.tensor->dtype == SafetensorsDType::BF16;
  }
  bool hasShape(const Entry &e, ArrayRef<int64_t> shape) {
    return ArrayRef<int64_t>(e.tensor->shape) == shape;
  }

  /// The index of the first element of a float tensor that is not -1, 0
  /// or 1.
  std::optional<int64_t> firstNonTernary(const Entry &e, int64_t count);
  /// The float tensor's (ternary) values as int8.
  void toTrits(const Entry &e, int64_t count, char *out);
  /// `w` (weight `name`) with the scale its weight_scale tensor
  /// `scaleName` gives (SPEC 2.4).
  FailureOr<LinearWeight> scaled(StringRef name, StringRef scaleName, Value w);

  /// A weight viewing the tensor's bytes in the mapping.
  Value weight(OpBuilder &b, const Entry &e, Type result, ShapedType storage) {
    std::shared_ptr<llvm::MemoryBuffer> buffer = e.file->getBuffer();
    return createViewWeight(b, b.getUnknownLoc(), e.tensor->name, result,
                            storage, e.tensor->data, buffer,
                            buffer->getBufferKind() ==
                                llvm::MemoryBuffer::MemoryBuffer_MMap);
  }

  MLIRContext *ctx;
  bool scaleMultiplies;
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  llvm::StringMap<Entry> entries;
  std::vector<std::string> order;
};

FailureOr<LinearWeight> SafetensorsSource::linear(OpBuilder &b, StringRef name,
                                                  int64_t n, int64_t k) {
  const Entry *e = find(name, "a BitLinear weight");
  if (!e)
    return failure();
  const SafetensorsTensor &t = *e->tensor;
  Type elem = t.elementType(ctx);
  std::string scaleName =
      (name.drop_back(strlen("weight")) + "weight_scale").str();
  if (isFloat(*e) && has(scaleName)) {
    // AutoBitLinear offline with unpacked weights: ternary values stored as
    // floats, times weight_scale.
    if (!hasShape(*e, {n, k}))
      return bad(*e, "shape " + t.shapeString() + " of " + t.dtypeName +
                         " ternary weights, but config.json implies " +
                         formatShape({n, k}));
    std::optional<int64_t> off = firstNonTernary(*e, n * k);
    if (off)
      return bad(*e, llvm::formatv("has a weight_scale, so its {0} values "
                                   "must be -1, 0 or 1, but element {1} is "
                                   "not (a float linear layer?)",
                                   t.dtypeName, *off));
    auto type = RankedTensorType::get({n, k}, TritType::get(ctx));
    auto storage = RankedTensorType::get({n, k}, IntegerType::get(ctx, 8));
    Value w = createWeight(
        b, b.getUnknownLoc(), name, type, storage,
        [&](MutableArrayRef<char> out) { toTrits(*e, n * k, out.data()); });
    return scaled(name, scaleName, w);
  }
  if (isFloat(*e)) {
    if (!hasShape(*e, {n, k}))
      return bad(*e, "shape " + t.shapeString() + " of latent " + t.dtypeName +
                         " weights, but config.json implies " +
                         formatShape({n, k}));
    auto type = RankedTensorType::get({n, k}, elem);
    return LinearWeight{weight(b, *e, type, type), std::nullopt};
  }

  // Ternary: a packed (U8) or unpacked (I8) matrix plus its scale.
  Value w;
  auto trit = TritType::get(ctx);
  if (t.dtype == SafetensorsDType::U8) {
    if (n % 4)
      return bad(*e, llvm::formatv("packed U8 weights need out_features "
                                   "divisible by 4, but config.json implies "
                                   "{0}",
                                   n));
    if (!hasShape(*e, {n / 4, k}))
      return bad(*e, "shape " + t.shapeString() +
                         " of packed U8 weights, but config.json implies " +
                         formatShape({n / 4, k}) +
                         " (4 rows per byte, SPEC 6.1)");
    auto type = RankedTensorType::get(
        {n, k}, trit, PackedAttr::get(ctx, PackedLayout::HFRows));
    w = weight(b, *e, type, RankedTensorType::get({n / 4 * k}, elem));
  } else {
    if (!hasShape(*e, {n, k}))
      return bad(*e, "shape " + t.shapeString() +
                         " of I8 ternary weights, but config.json implies " +
                         formatShape({n, k}));
    w = weight(b, *e, RankedTensorType::get({n, k}, trit),
               RankedTensorType::get({n, k}, elem));
  }
  return scaled(name, scaleName, w);
}

/// Converts `count` float elements to trits, a chunk at a time.
template <typename F>
static void forEachChunk(MLIRContext *ctx, const SafetensorsTensor &t,
                         int64_t count, F f) {
  constexpr int64_t kChunk = 1 << 16;
  std::vector<float> buf(std::min(count, kChunk));
  int64_t bytes = t.data.size() / std::max<int64_t>(count, 1);
  for (int64_t at = 0; at < count; at += kChunk) {
    int64_t n = std::min(kChunk, count - at);
    convertToF32(t.elementType(ctx), t.data.data() + at * bytes, n, buf.data());
    if (!f(at, ArrayRef<float>(buf.data(), n)))
      return;
  }
}

std::optional<int64_t> SafetensorsSource::firstNonTernary(const Entry &e,
                                                          int64_t count) {
  std::optional<int64_t> found;
  forEachChunk(ctx, *e.tensor, count, [&](int64_t at, ArrayRef<float> v) {
    for (size_t j = 0; j < v.size(); ++j)
      if (v[j] != 0 && v[j] != 1 && v[j] != -1) {
        found = at + int64_t(j);
        return false;
      }
    return true;
  });
  return found;
}

void SafetensorsSource::toTrits(const Entry &e, int64_t count, char *out) {
  forEachChunk(ctx, *e.tensor, count, [&](int64_t at, ArrayRef<float> v) {
    for (size_t j = 0; j < v.size(); ++j)
      out[at + j] = char(int8_t(v[j]));
    return true;
  });
}

FailureOr<LinearWeight>
SafetensorsSource::scaled(StringRef name, StringRef scaleName, Value w) {
  const Entry *s = find(scaleName, ("the scale of " + name).str());
  if (!s)
    return failure();
  if (!isFloat(*s) || s->tensor->numElements() != 1)
    return bad(*s, "must be one F32, F16 or BF16 value, got " +
                       s->tensor->dtypeName + " " + s->tensor->shapeString());
  float value;
  convertToF32(s->tensor->elementType(ctx), s->tensor->data.data(), 1, &value);
  if (!std::isfinite(value) || value <= 0)
    return bad(*s, llvm::formatv("is {0}; a weight scale must be positive "
                                 "and finite",
                                 value));
  return LinearWeight{w, scaleMultiplies ? value : 1.0f / value};
}

FailureOr<Value> SafetensorsSource::vector(OpBuilder &b, StringRef name,
                                           int64_t n) {
  const Entry *e = find(name, "a norm weight");
  if (!e)
    return failure();
  if (!isFloat(*e) || !hasShape(*e, {n}))
    return bad(*e, "expected a float vector " + formatShape({n}) + ", got " +
                       e->tensor->dtypeName + " " + e->tensor->shapeString());
  auto type = RankedTensorType::get({n}, b.getF32Type());
  return createWeight(b, b.getUnknownLoc(), name, type, type,
                      [&](MutableArrayRef<char> out) {
                        convertToF32(e->tensor->elementType(ctx),
                                     e->tensor->data.data(), n,
                                     reinterpret_cast<float *>(out.data()));
                      })
      .getResult();
}

FailureOr<Value> SafetensorsSource::table(OpBuilder &b, StringRef name,
                                          int64_t rows, int64_t cols) {
  const Entry *e = find(name, "the embedding table");
  if (!e)
    return failure();
  if (!isFloat(*e) || !hasShape(*e, {rows, cols}))
    return bad(*e, "expected a float table " + formatShape({rows, cols}) +
                       ", got " + e->tensor->dtypeName + " " +
                       e->tensor->shapeString());
  auto type = RankedTensorType::get({rows, cols}, e->tensor->elementType(ctx));
  return weight(b, *e, type, type);
}

/// (tensor, shard file) pairs of a model.safetensors.index.json.
using ShardIndex = std::vector<std::pair<std::string, std::string>>;

/// Reads and checks the index at `indexPath`.
llvm::Expected<ShardIndex> readIndex(StringRef indexPath,
                                     llvm::vfs::FileSystem &fs) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   indexPath + ": " + message);
  };
  auto text = readFile(fs, indexPath, /*isText=*/true);
  if (!text)
    return fail(text.getError().message());
  llvm::Expected<json::Value> parsed = json::parse((*text)->getBuffer());
  if (!parsed)
    return fail("not valid JSON: " + llvm::toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  const json::Object *map = root ? root->getObject("weight_map") : nullptr;
  if (!map)
    return fail("no \"weight_map\" object");
  ShardIndex listed;
  for (const auto &[name, file] : *map) {
    std::optional<StringRef> shard = file.getAsString();
    if (!shard || shard->contains('/') || shard->contains('\\'))
      return fail("weight_map entry '" + name.str() +
                  "' must name a file in the checkpoint directory");
    listed.emplace_back(name.str(), shard->str());
  }
  return listed;
}

/// Opens the shards `listed` by the index at `indexPath` and checks the
/// index against them.
LogicalResult openShards(MLIRContext *ctx, StringRef dir, StringRef indexPath,
                         const ShardIndex &listed, SafetensorsSource &source,
                         llvm::vfs::FileSystem &fs) {
  llvm::SmallVector<std::string> shards;
  for (const auto &entry : listed)
    if (!llvm::is_contained(shards, entry.second))
      shards.push_back(entry.second);
  llvm::sort(shards);
  for (const std::string &shard : shards) {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, shard);
    auto file = SafetensorsFile::open(path, fs);
    if (!file) {
      reportFrontendError(ctx, path,
                          llvm::make_error<llvm::StringError>(
                              llvm::toString(file.takeError()) +
                                  " (listed in " + indexPath + ")",
                              llvm::inconvertibleErrorCode()));
      return failure();
    }
    if (failed(source.add(std::move(*file))))
      return failure();
  }
  for (const auto &[name, shard] : listed) {
    const SafetensorsFile *file = source.fileOf(name);
    if (!file || llvm::sys::path::filename(file->getPath()) != shard) {
      reportFrontendError(ctx, indexPath,
                          "lists tensor '" + name + "' in " + shard +
                              ", which does not contain it");
      return failure();
    }
  }
  return success();
}

} // namespace

OwningOpRef<ModuleOp>
mlir::tern::importCheckpoint(StringRef path, MLIRContext &context,
                             const ImportOptions &options) {
  llvm::vfs::FileSystem &fs = options.files();
  // A directory, or one .safetensors file inside a checkpoint directory.
  bool isDir = isDirectory(fs, path);
  llvm::SmallString<256> dir(isDir ? path : llvm::sys::path::parent_path(path));
  if (dir.empty())
    dir = ".";
  auto inDir = [&](StringRef file) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, file);
    return std::string(p);
  };
  std::string configPath = inDir("config.json");
  if (!fs.exists(configPath)) {
    reportFrontendError(&context, path,
                        "no config.json beside the weights; a Hugging Face "
                        "checkpoint directory has config.json and "
                        "model.safetensors (or model.safetensors.index.json)");
    return nullptr;
  }
  llvm::Expected<CheckpointConfig> config = readConfig(configPath, fs);
  if (!config) {
    reportFrontendError(&context, configPath, config.takeError());
    return nullptr;
  }

  // One file, unless it is a shard of an index: then the whole checkpoint.
  SafetensorsSource source(&context, config->scaleMultiplies);
  std::string single = isDir ? inDir("model.safetensors") : path.str();
  std::string index = inDir("model.safetensors.index.json");
  std::optional<llvm::Expected<ShardIndex>> listed;
  if (fs.exists(index))
    listed.emplace(readIndex(index, fs));
  auto names = [&](StringRef file) {
    return *listed && llvm::any_of(**listed, [&](const auto &entry) {
      return entry.second == file;
    });
  };
  bool useIndex =
      listed && (!fs.exists(single) ||
                 (!isDir && names(llvm::sys::path::filename(single))));
  if (!useIndex && listed && !*listed) // a broken index we do not need
    llvm::consumeError(listed->takeError());
  if (useIndex) {
    if (!*listed) {
      reportFrontendError(&context, index, listed->takeError());
      return nullptr;
    }
    if (failed(openShards(&context, dir, index, **listed, source, fs)))
      return nullptr;
  } else if (fs.exists(single)) {
    auto file = SafetensorsFile::open(single, fs);
    if (!file) {
      reportFrontendError(&context, single, file.takeError());
      return nullptr;
    }
    if (failed(source.add(std::move(*file))))
      return nullptr;
  } else {
    reportFrontendError(&context, path,
                        "no model.safetensors or model.safetensors.index.json");
    return nullptr;
  }

  BitNetConfig &model = config->model;
  if (!config->tiedKnown)
    model.tiedEmbeddings = !source.has("lm_head.weight");
  Location loc = FileLineColLoc::get(&context, configPath, 0, 0);
  OwningOpRef<ModuleOp> module = buildBitNetModel(context, model, source, loc);
  if (!module)
    return nullptr;
  if (failed(source.checkAllUsed(config->architecture)))
    return nullptr;
  return module;
}
