//===- ONNXModel.cpp - ONNX files: parsing, checking, dispatch ------------===//
//
// The file is parsed with Debian's libonnx (onnx_proto) and checked before
// anything is built: opset, graph wiring, initializer sizes, external data,
// and the op types Tern reads, all unsupported ones listed at once.
//
// A graph from token ids to logits is a language model: it is run once on a
// probe sequence (ONNXGraph.h) and recognised as a BitNet b1.58 model
// (LMRecognizer.cpp), which then compiles like a checkpoint, KV cache and
// all. Other graphs take the generic path (RowGraph.cpp): float inputs of
// [rows..., features], run on a probe of random values first, too.
//
//===----------------------------------------------------------------------===//

#include "../Safetensors/Checkpoint.h"
#include "LMRecognizer.h"
#include "ONNXGraph.h"
#include "RowGraph.h"
#include "tern/Frontend/Import.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <onnx/onnx_pb.h>

#include <map>

using namespace mlir;
namespace onnx_frontend = mlir::tern::onnx_frontend;

namespace {

/// The standard ops BitNet exports contain (SPEC 8), plus the deployment
/// forms' quantized ops.
// clang-format off
constexpr llvm::StringLiteral kSupported[] = {
    "Abs",
    "Add",
    "And",
    "BitShift",
    "Attention",
    "BitwiseAnd",
    "BitwiseNot",
    "BitwiseOr",
    "BitwiseXor",
    "Cast",
    "CastLike",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Cos",
    "CumSum",
    "DequantizeLinear",
    "Div",
    "Einsum",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Gather",
    "GatherND",
    "Gelu",
    "Gemm",
    "Greater",
    "GreaterOrEqual",
    "Identity",
    "IsInf",
    "IsNaN",
    "LayerNormalization",
    "Less",
    "LessOrEqual",
    "MatMul",
    "MatMulInteger",
    "Max",
    "Min",
    "Mul",
    "Neg",
    "Not",
    "Or",
    "Pow",
    "Range",
    "Reciprocal",
    "RMSNormalization",
    "ReduceMax",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "RotaryEmbedding",
    "Round",
    "ScatterND",
    "Shape",
    "Sigmoid",
    "SimplifiedLayerNormalization",
    "Sin",
    "Slice",
    "Softmax",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Trilu",
    "Unsqueeze",
    "Where",
    "Xor",
};
// clang-format on

class Checker {
public:
  Checker(MLIRContext *ctx, StringRef path, llvm::vfs::FileSystem &fs)
      : ctx(ctx), path(path), fs(fs) {}

  bool fail(const llvm::Twine &message) {
    tern::reportFrontendError(ctx, path, message);
    return false;
  }

  bool check(const onnx::ModelProto &model) {
    int64_t opset = 0;
    for (const onnx::OperatorSetIdProto &o : model.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx")
        opset = o.version();
    if (opset < 13 || opset > 23)
      return fail(llvm::formatv(
          "default-domain opset {0} is not supported (13 to 23 are); "
          "export again with torch.onnx.export(..., opset_version=18)",
          opset));
    this->opset = opset;
    const onnx::GraphProto &g = model.graph();
    llvm::StringSet<> known;
    for (const onnx::ValueInfoProto &v : g.input())
      known.insert(v.name());
    for (const onnx::TensorProto &t : g.initializer()) {
      if (!initializer(t))
        return false;
      known.insert(t.name());
    }
    // Nodes come in topological order (ONNX requires it): every input is
    // produced before it is read.
    for (const onnx::NodeProto &n : g.node()) {
      for (const std::string &in : n.input())
        if (!in.empty() && !known.contains(in))
          return fail("node '" + n.name() + "' (" + n.op_type() + ") reads '" +
                      in +
                      "', which no graph input, initializer or earlier node "
                      "produces");
      for (const std::string &out : n.output())
        known.insert(out);
    }
    for (const onnx::ValueInfoProto &v : g.output())
      if (!known.contains(v.name()))
        return fail("graph output '" + v.name() + "' is never produced");
    return supported(g);
  }

  /// The initializer's bytes match its shape and type (inline or external).
  bool initializer(const onnx::TensorProto &t) {
    int64_t count = 1;
    for (int64_t d : t.dims()) {
      if (d < 0 || (d && count > (int64_t(1) << 40) / d))
        return fail("initializer '" + t.name() + "' has an invalid shape");
      count *= d;
    }
    int64_t bytes = onnx_frontend::elementBytes(t.data_type());
    if (!bytes)
      return fail(llvm::formatv("initializer '{0}' has data type {1}, which "
                                "Tern does not read",
                                t.name(), t.data_type()));
    int64_t need = count * bytes;
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
      return external(t, need);
    int64_t have = -1;
    if (t.has_raw_data())
      have = int64_t(t.raw_data().size());
    else if (t.float_data_size())
      have = int64_t(t.float_data_size()) * 4;
    else if (t.int32_data_size())
      have = int64_t(t.int32_data_size()) * bytes; // int8/16, f16 widen here
    else if (t.int64_data_size())
      have = int64_t(t.int64_data_size()) * 8;
    else if (t.double_data_size())
      have = int64_t(t.double_data_size()) * 8;
    else
      have = 0;
    if (have != need)
      return fail(llvm::formatv("initializer '{0}' holds {1} bytes, but its "
                                "shape and type need {2}",
                                t.name(), have, need));
    return true;
  }

  /// External data: a file beside the model, with offset and length inside
  /// it (the weights of models over 2 GB).
  bool external(const onnx::TensorProto &t, int64_t need) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const onnx::StringStringEntryProto &e : t.external_data()) {
      if (e.key() == "location")
        location = e.value();
      else if (e.key() == "offset" && !llvm::to_integer(e.value(), offset))
        return fail("initializer '" + t.name() + "': external data offset '" +
                    e.value() + "' is not a number");
      else if (e.key() == "length" && !llvm::to_integer(e.value(), length))
        return fail("initializer '" + t.name() + "': external data length '" +
                    e.value() + "' is not a number");
    }
    if (location.empty())
      return fail("initializer '" + t.name() +
                  "' has external data without a location");
    // As onnx.checker: inside the model's directory, never beside it.
    if (llvm::sys::path::is_absolute(location) ||
        llvm::is_contained(llvm::make_range(llvm::sys::path::begin(location),
                                            llvm::sys::path::end(location)),
                           ".."))
      return fail("initializer '" + t.name() + "': external data location '" +
                  location +
                  "' must be a relative path inside the model's directory");
    llvm::SmallString<256> file(llvm::sys::path::parent_path(path));
    llvm::sys::path::append(file, location);
    llvm::ErrorOr<llvm::vfs::Status> status = fs.status(file);
    if (!status || !status->isRegularFile())
      return fail("initializer '" + t.name() + "': external data file '" +
                  file + "' is missing");
    uint64_t size = status->getSize();
    if (length < 0)
      length = need;
    if (length != need || offset < 0 || uint64_t(offset + length) > size)
      return fail(llvm::formatv("initializer '{0}': external data [{1}, {2}) "
                                "of '{3}' ({4} bytes) does not hold the {5} "
                                "bytes its shape and type need",
                                t.name(), offset, offset + length, location,
                                size, need));
    return true;
  }

  /// Every op type Tern does not read, with its count and first nodes.
  bool supported(const onnx::GraphProto &g) {
    std::map<std::pair<std::string, std::string>, std::vector<std::string>>
        missing;
    for (const onnx::NodeProto &n : g.node()) {
      std::string domain = n.domain().empty() ? "ai.onnx" : n.domain();
      bool known = (domain == "ai.onnx" || domain == "com.microsoft") &&
                   llvm::is_contained(kSupported, n.op_type());
      if (domain == "com.microsoft" && n.op_type() == "MatMulNBits")
        known = true;
      if (!known)
        missing[{domain, n.op_type()}].push_back(n.name());
    }
    if (missing.empty())
      return true;
    std::string list;
    for (auto &[op, nodes] : missing) {
      std::vector<std::string> first(
          nodes.begin(), nodes.begin() + std::min<size_t>(3, nodes.size()));
      list +=
          llvm::formatv("\n  {0} (domain {1}, opset {2}): {3} node{4}, "
                        "e.g. {5}",
                        op.second, op.first, opset, nodes.size(),
                        nodes.size() == 1 ? "" : "s", llvm::join(first, ", "))
              .str();
      // What the common ones mean for a PyTorch export.
      if (op.second == "Dropout")
        list += " (a training-mode export: call model.eval() before "
                "torch.onnx.export)";
      if (op.second == "Loop" || op.second == "SplitToSequence")
        list += " (repeat_interleave exports as a loop: repeat K/V heads "
                "with expand + reshape, as Hugging Face's repeat_kv)";
    }
    return fail(llvm::formatv("{0} op type{1} Tern does not support:{2}",
                              missing.size(), missing.size() == 1 ? "" : "s",
                              list));
  }

  /// Where the model's external data files are.
  onnx_frontend::DataDir dataDir() const {
    return {llvm::sys::path::parent_path(path), fs};
  }

  MLIRContext *ctx;
  std::string path;
  llvm::vfs::FileSystem &fs;
  int64_t opset = 0;
};

/// The probe's token ids: a fixed, varied sequence within the vocabulary
/// (the rows of the table the ids index, when it can be found).
int64_t probeVocab(const onnx::GraphProto &g, StringRef ids) {
  std::string value = ids.str();
  for (const onnx::NodeProto &n : g.node()) {
    if (n.op_type() == "Cast" && n.input(0) == value)
      value = n.output(0);
    if (n.op_type() == "Gather" && n.input_size() == 2 && n.input(1) == value)
      for (const onnx::TensorProto &t : g.initializer())
        if (t.name() == n.input(0) && t.dims_size() == 2)
          return t.dims(0);
  }
  return 2;
}

/// The generic path: float inputs [leading..., features] whose symbolic
/// leading dimensions stay free (the probe gives them 2), and whose features
/// are known or pinned with --dim.
OwningOpRef<ModuleOp>
compileRowGraph(const onnx::GraphProto &g,
                llvm::ArrayRef<const onnx::ValueInfoProto *> inputs,
                Checker &checker, MLIRContext &context,
                const tern::ImportOptions &options,
                StringRef notLanguageModel) {
  if (inputs.empty()) {
    checker.fail("the graph has no inputs (other than initializers): it "
                 "computes nothing from a prompt");
    return nullptr;
  }
  std::vector<onnx_frontend::GraphInput> declared;
  llvm::StringMap<onnx_frontend::Tensor> bound;
  llvm::StringSet<> used;
  uint32_t state = 12345;
  for (const onnx::ValueInfoProto *v : inputs) {
    const onnx::TypeProto::Tensor &type = v->type().tensor_type();
    if (type.elem_type() != onnx::TensorProto::FLOAT) {
      checker.fail(
          "graph input '" + v->name() +
          "' is not float; Tern compiles language models (one "
          "integer input of token ids) and row-wise graphs of float "
          "inputs" +
          (notLanguageModel.empty()
               ? ""
               : "; this graph is not a language model: " + notLanguageModel));
      return nullptr;
    }
    if (!type.has_shape() || type.shape().dim_size() == 0) {
      checker.fail("graph input '" + v->name() +
                   "' has no shape: the generic path needs [rows..., "
                   "features]");
      return nullptr;
    }
    onnx_frontend::GraphInput in{v->name(), {}};
    std::vector<int64_t> probe;
    for (const onnx::TensorShapeProto::Dimension &d : type.shape().dim()) {
      int64_t size = -1;
      if (d.has_dim_value()) {
        size = d.dim_value();
      } else if (auto it = options.dims.find(d.dim_param());
                 it != options.dims.end()) {
        size = it->second;
        used.insert(d.dim_param());
      }
      bool last = int64_t(in.dims.size()) == type.shape().dim_size() - 1;
      if (size < 0 && last) {
        std::string param = d.dim_param();
        checker.fail(llvm::formatv(
            "graph input '{0}' has a symbolic last dimension{1}; the "
            "features must be known at compile time: pin it with --dim "
            "{2}=VALUE",
            v->name(), param.empty() ? "" : " '" + param + "'",
            param.empty() ? "NAME" : param));
        return nullptr;
      }
      in.dims.push_back(size);
      probe.push_back(size < 0 ? 2 : size);
    }
    if (!declared.empty()) {
      const std::vector<int64_t> &a = declared[0].dims, &b = in.dims;
      if (a.size() != b.size() ||
          !std::equal(a.begin(), a.end() - 1, b.begin())) {
        checker.fail("graph inputs '" + declared[0].name + "' and '" + in.name +
                     "' differ in their leading dimensions; the generic "
                     "path runs every row of all inputs together");
        return nullptr;
      }
    }
    // Probe values: a fixed pseudo-random draw in [-2, 2).
    onnx_frontend::Tensor t;
    t.shape = probe;
    std::vector<float> &values = t.f.values();
    for (int64_t k = 0; k < t.size(); ++k) {
      state = state * 1664525u + 1013904223u;
      values.push_back(float(state >> 8) / float(1 << 24) * 4.0f - 2.0f);
    }
    bound[v->name()] = std::move(t);
    declared.push_back(std::move(in));
  }
  for (const auto &[name, size] : options.dims)
    if (!used.contains(name)) {
      checker.fail("--dim " + name +
                   ": no graph input has a symbolic dimension '" + name + "'");
      return nullptr;
    }
  onnx_frontend::GraphValues values(g);
  if (llvm::Error e = values.run(std::move(bound), checker.dataDir())) {
    checker.fail("running the graph on a probe input: " +
                 llvm::toString(std::move(e)));
    return nullptr;
  }
  auto module = onnx_frontend::buildRowGraph(values, declared, context);
  if (!module) {
    checker.fail(llvm::toString(module.takeError()));
    return nullptr;
  }
  return std::move(*module);
}

OwningOpRef<ModuleOp> compileGraph(const onnx::GraphProto &g, Checker &checker,
                                   MLIRContext &context,
                                   const tern::ImportOptions &options) {
  using T = onnx::TensorProto;
  // Graph inputs that are not initializers (IR < 4 lists both).
  llvm::StringSet<> inits;
  for (const T &t : g.initializer())
    inits.insert(t.name());
  std::vector<const onnx::ValueInfoProto *> inputs;
  for (const onnx::ValueInfoProto &v : g.input())
    if (!inits.contains(v.name()))
      inputs.push_back(&v);
  auto elemType = [](const onnx::ValueInfoProto &v) {
    return v.type().tensor_type().elem_type();
  };
  // A language model: token ids in (the one integer input, or the one
  // named input_ids), logits out. Hugging Face exports (Optimum) may also
  // take attention_mask, position_ids and an empty past_key_values.*, and
  // return present.*: the executable runs one unpadded sequence, so the
  // probe binds them as such (ones, 0..n-1, zero past positions).
  auto isInt = [&](const onnx::ValueInfoProto *v) {
    return elemType(*v) == T::INT64 || elemType(*v) == T::INT32;
  };
  const onnx::ValueInfoProto *idsInput = nullptr;
  for (const onnx::ValueInfoProto *v : inputs)
    if (isInt(v) && (v->name() == "input_ids" || !idsInput))
      idsInput = v;
  // A KV cache is told by its type and rank, not by its name (Optimum's
  // past_key_values.* / present.*, transformers 5's exporter's
  // past_key_values.layers.N.keys / cache.layers.N.keys): a float tensor of
  // [batch, kv_heads, positions, head_dim].
  auto isCache = [&](const onnx::ValueInfoProto &v) {
    const onnx::TypeProto::Tensor &t = v.type().tensor_type();
    return t.elem_type() == T::FLOAT &&
           (t.has_shape() ? t.shape().dim_size() == 4
                          : StringRef(v.name()).contains("past") ||
                                StringRef(v.name()).contains("present"));
  };
  // Why not, for the error the generic path gives on integer inputs.
  std::string notLM;
  if (!idsInput)
    notLM = "no input holds token ids (int64 or int32)";
  for (const onnx::ValueInfoProto *v : inputs) {
    StringRef name = v->name();
    if (v != idsInput && notLM.empty() &&
        !(isInt(v) && (name.contains("mask") || name.contains("position"))) &&
        !isCache(*v))
      notLM = "input '" + name.str() +
              "' is neither token ids, an attention mask, positions nor a KV "
              "cache (float [batch, kv_heads, positions, head_dim])";
  }
  const onnx::ValueInfoProto *logitsOutput = nullptr;
  for (const onnx::ValueInfoProto &o : g.output()) {
    if (!logitsOutput || o.name() == "logits")
      logitsOutput = &o;
  }
  for (const onnx::ValueInfoProto &o : g.output())
    if (&o != logitsOutput && !isCache(o) && notLM.empty())
      notLM = "output '" + o.name() +
              "' is neither the logits nor a KV cache (float [batch, "
              "kv_heads, positions, head_dim])";
  if (logitsOutput && elemType(*logitsOutput) != T::FLOAT && notLM.empty())
    notLM = "its logits '" + logitsOutput->name() + "' are not float";
  if (!idsInput || !logitsOutput || !notLM.empty())
    return compileRowGraph(g, inputs, checker, context, options, notLM);

  // The sequence length must be free: the model runs on any prompt.
  const onnx::ValueInfoProto &ids = *idsInput;
  const auto &dims = ids.type().tensor_type().shape().dim();
  if (dims.size() < 1 || dims.size() > 2) {
    checker.fail("token ids '" + ids.name() +
                 "' must have shape [batch, sequence] or [sequence]");
    return nullptr;
  }
  const auto &seq = dims[dims.size() - 1];
  if (seq.has_dim_value()) {
    checker.fail(llvm::formatv("token ids '{0}' have a fixed sequence length "
                               "of {1}; export with a dynamic axis "
                               "(torch.onnx.export dynamic_axes) so that the "
                               "model runs on any number of tokens",
                               ids.name(), seq.dim_value()));
    return nullptr;
  }
  if (dims.size() == 2 && dims[0].has_dim_value() && dims[0].dim_value() != 1) {
    checker.fail(llvm::formatv("token ids '{0}' have a fixed batch of {1}; "
                               "Tern runs one sequence",
                               ids.name(), dims[0].dim_value()));
    return nullptr;
  }

  // Run the graph once on a probe sequence of 7 tokens.
  int64_t vocab = probeVocab(g, ids.name());
  std::vector<int64_t> probe;
  for (int64_t k = 0; k < 7; ++k)
    probe.push_back((k * 37 + 11) % vocab);
  std::vector<int64_t> shape = {int64_t(probe.size())};
  if (dims.size() == 2)
    shape.insert(shape.begin(), 1);
  llvm::StringMap<onnx_frontend::Tensor> bound;
  bound[ids.name()] = onnx_frontend::Tensor::ints(elemType(ids), shape, probe);
  for (const onnx::ValueInfoProto *v : inputs) {
    if (v == idsInput)
      continue;
    StringRef name = v->name();
    std::vector<int64_t> values;
    for (int64_t k = 0; k < int64_t(probe.size()); ++k)
      values.push_back(name.contains("mask") ? 1 : k);
    if (isInt(v)) {
      bound[name] = onnx_frontend::Tensor::ints(elemType(*v), shape, values);
      continue;
    }
    // A cache input: [batch, kv_heads, past, head_dim], with no past. Some
    // exporters write fixed sizes as strings of digits ("2").
    std::vector<int64_t> pastShape;
    for (const auto &d : v->type().tensor_type().shape().dim()) {
      int64_t size = 0;
      if (d.has_dim_value())
        size = d.dim_value();
      else if (!llvm::to_integer(d.dim_param(), size))
        size = pastShape.empty() ? 1 : 0;
      pastShape.push_back(size);
    }
    bound[name] = onnx_frontend::Tensor::floats(pastShape, {});
  }
  onnx_frontend::GraphValues values(g);
  if (llvm::Error e =
          values.run(std::move(bound), checker.dataDir(), {ids.name()})) {
    checker.fail(llvm::formatv(
        "running the graph on a probe sequence of {0} tokens: {1}; a "
        "language model must run on any number of tokens (an export that "
        "fixed the example input's length somewhere, as repeat_interleave "
        "does, does not)",
        probe.size(), llvm::toString(std::move(e))));
    return nullptr;
  }
  auto module = onnx_frontend::buildLanguageModel(
      values, ids.name(), logitsOutput->name(), context);
  if (!module) {
    // A cache adds the most graph around each part; the executable keeps
    // its own, so an export without one loses nothing.
    bool cache = llvm::any_of(
        inputs, [&](const onnx::ValueInfoProto *v) { return isCache(*v); });
    checker.fail(llvm::toString(module.takeError()) +
                 (cache ? "; this export takes a KV cache: exporting "
                          "without one (use_cache=False) gives a simpler "
                          "graph, and the executable keeps its own cache"
                        : ""));
    return nullptr;
  }
  // The ids that end a generation: ONNX has no place for them; exports
  // (Optimum's, the example's) keep config.json and generation_config.json
  // beside the model.
  auto forward = (*module)->lookupSymbol<func::FuncOp>("forward");
  int64_t logits =
      cast<RankedTensorType>(forward.getResultTypes()[0]).getDimSize(1);
  std::vector<int64_t> eos;
  for (StringRef file : {"config.json", "generation_config.json"}) {
    llvm::SmallString<256> path(llvm::sys::path::parent_path(checker.path));
    llvm::sys::path::append(path, file);
    if (llvm::Error e = tern::addEosIdsFrom(path, logits, eos, checker.fs)) {
      tern::reportFrontendError(&context, path, std::move(e));
      return nullptr;
    }
  }
  if (!eos.empty())
    (**module)->setAttr("tern.eos_token_ids",
                        DenseI64ArrayAttr::get(&context, eos));
  return std::move(*module);
}

} // namespace

OwningOpRef<ModuleOp> mlir::tern::importONNX(StringRef path,
                                             MLIRContext &context,
                                             const ImportOptions &options) {
  Checker checker(&context, path, options.files());
  auto buffer = readFile(options.files(), path);
  if (!buffer) {
    checker.fail(buffer.getError().message());
    return nullptr;
  }
  onnx::ModelProto model;
  llvm::StringRef bytes = (*buffer)->getBuffer();
  if (bytes.size() > size_t(INT32_MAX) ||
      !model.ParseFromArray(bytes.data(), int(bytes.size())) ||
      !model.has_graph()) {
    checker.fail("not an ONNX model (the protobuf does not parse as a "
                 "ModelProto with a graph)");
    return nullptr;
  }
  // The ModelProto holds its own copy of every tensor: the file's pages can
  // go (initializers are then read in place from the ModelProto).
  buffer->reset();
  if (!checker.check(model))
    return nullptr;
  return compileGraph(model.graph(), checker, context, options);
}
