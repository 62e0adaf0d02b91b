//===- TernToKernels.cpp - tern ops on tensors -> loops on memrefs --------===//
//
//   func @forward(ids, positions) -> logits          (tensors, tern ops)
//        |  tern-lower-to-kernels
//        v
//   func @tern_forward_batch(ids, positions, slots, kv_pool, kv_context,
//                            rows, logits_out)       (memrefs, loops)
//   func @tern_forward(ids, positions, kv_cache, logits_out)  (one sequence)
//   (CPUs: the same two, _f16, over an f16 KV pool)
//   memref.global "private" constant @tern_weight_*  (weights, resource blobs)
//
// The KV cache that tern.attention implies becomes an argument the runtime
// allocates: a pool of slots, one per sequence, each a flat f32 buffer of
// tern_kv_floats_per_position() * kv_context floats laid out as
// [layer][k, v][position][kv_heads * head_dim], so each layer's keys (and
// values) are contiguous in position. Each token names its slot; the LM
// head computes the logits of the `rows` asked for (docs/Rationale.md).
//
// The model function is straight-line code, so the lowering walks it once in
// order and hands each tern op to the kernel emitter of the module's kernel
// family (#tern.target): CPU families get one private kernel function per
// distinct op signature (lib/Conversion/Kernels/KernelCalls.cpp), NVIDIA
// ones device kernels and launches (lib/Target/NVPTX). This file checks the
// model's contract, binds the forward function's arguments and adds what
// the runtime asks the model (RuntimeABI.cpp).
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/Passes.h"

#include "RuntimeABI.h"
#include "tern/Conversion/KernelEmitter.h"
#include "tern/Target/NVPTX/Kernels.h"

#include "Tern/IR/TernOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <memory>

#include <cmath>

namespace mlir::tern {
#define GEN_PASS_DEF_TERNLOWERTOKERNELS
#define GEN_PASS_DEF_TERNLOWERTOGPU
#include "tern/Conversion/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

namespace {

/// The emitter of `family`: NVIDIA device code (lib/Target/NVPTX) or CPU
/// kernel functions.
std::unique_ptr<KernelEmitter> createKernelEmitter(ImplicitLocOpBuilder &b,
                                                   ModuleOp module,
                                                   Operation *forward,
                                                   const KernelFamily &family) {
  if (family.isDeviceCode())
    return nvptx::createGpuKernelEmitter(b, module, forward, family);
  return std::make_unique<KernelEmitter>(b, module, forward, family);
}

/// Checks the model function's contract: (ids, positions) -> logits.
LogicalResult checkSignature(func::FuncOp func) {
  FunctionType type = func.getFunctionType();
  auto isIds = [](Type t) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    return tensor && tensor.getRank() == 1 &&
           tensor.getElementType().isInteger(32);
  };
  auto logits = type.getNumResults() == 1
                    ? dyn_cast<RankedTensorType>(type.getResult(0))
                    : nullptr;
  if (type.getNumInputs() != 2 || !isIds(type.getInput(0)) ||
      !isIds(type.getInput(1)) || !logits || logits.getRank() != 2 ||
      !logits.getElementType().isF32() || logits.isDynamicDim(1))
    return func.emitOpError()
           << "model function must be (tensor<?xi32> ids, tensor<?xi32> "
              "positions) -> tensor<?xVxf32> logits, got "
           << type;
  return success();
}

/// `name`(ids, positions, kv_cache, logits), e.g. tern_forward: one
/// sequence, whose cache is the pool's only slot, and the logits of its
/// last rows.
void emitSingleSequenceForward(ImplicitLocOpBuilder &b, func::FuncOp batch,
                               StringRef name, int64_t kvFloatsPerPosition) {
  FunctionType type = batch.getFunctionType();
  auto fn = b.create<func::FuncOp>(
      name, b.getFunctionType({type.getInput(0), type.getInput(1),
                               type.getInput(3), type.getInput(6)},
                              {}));
  fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = fn.addEntryBlock();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Value ids = entry->getArgument(0), cache = entry->getArgument(2),
        logits = entry->getArgument(3);
  auto idx = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(v); };
  Value n = b.create<memref::DimOp>(ids, 0);
  Value r = b.create<memref::DimOp>(logits, 0);
  auto i32s = cast<MemRefType>(type.getInput(2));
  Value slots = b.create<memref::AllocOp>(i32s, ValueRange{n});
  Value rows = b.create<memref::AllocOp>(i32s, ValueRange{r});
  auto fill = [&](Value buffer, Value count, auto value) {
    auto loop = b.create<scf::ForOp>(idx(0), count, idx(1));
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    b.create<memref::StoreOp>(
        b.create<arith::IndexCastOp>(b.getI32Type(),
                                     value(loop.getInductionVar())),
        buffer, ValueRange{loop.getInductionVar()});
  };
  fill(slots, n, [&](Value) -> Value { return idx(0); });
  Value first = b.create<arith::SubIOp>(n, r);
  fill(rows, r,
       [&](Value i) -> Value { return b.create<arith::AddIOp>(first, i); });
  Value context =
      kvFloatsPerPosition
          ? b.create<arith::DivUIOp>(b.create<memref::DimOp>(cache, 0),
                                     idx(kvFloatsPerPosition))
                .getResult()
          : idx(0).getResult();
  b.create<func::CallOp>(batch, ValueRange{ids, entry->getArgument(1), slots,
                                           cache, context, rows, logits});
  b.create<memref::DeallocOp>(slots);
  b.create<memref::DeallocOp>(rows);
  b.create<func::ReturnOp>();
}

LogicalResult lowerModel(ModuleOp module, func::FuncOp func,
                         const KernelFamily &family, bool mcaMarkers) {
  if (failed(checkSignature(func)))
    return failure();
  MLIRContext *ctx = module.getContext();
  ImplicitLocOpBuilder b(func.getLoc(), ctx);
  b.setInsertionPoint(func);

  // The KV cache: one K and one V row of kv_heads * head_dim per layer and
  // position. Every attention op must agree on that width.
  int64_t layers = 0, width = 0;
  WalkResult walk = func.walk([&](AttentionOp op) {
    int64_t w = op.getNumKvHeads() * op.getHeadDim();
    if (width && w != width) {
      op.emitOpError() << "KV row width " << w
                       << " differs from another layer's " << width
                       << "; the KV cache needs one width";
      return WalkResult::interrupt();
    }
    width = w;
    layers = std::max<int64_t>(layers, op.getLayer() + 1);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();

  // tern_forward_batch(ids, positions, slots, kv_pool, kv_context, rows,
  // logits): the model on tokens of several sequences; on CPUs also
  // tern_forward_batch_f16, the same over an f16 KV pool (--kv-type f16).
  // One emitter builds both, so they share kernel functions and weights.
  auto i32s = MemRefType::get({ShapedType::kDynamic}, b.getI32Type());
  Type logitsType = storageType(func.getResultTypes()[0]);
  SmallVector<Type, 2> kvElements = {b.getF32Type()};
  if (!family.isDeviceCode())
    kvElements.push_back(b.getF16Type());
  std::unique_ptr<KernelEmitter> owned;
  for (Type kvElement : kvElements) {
    auto pool = MemRefType::get({ShapedType::kDynamic}, kvElement);
    auto kernel = b.create<func::FuncOp>(
        kvElement.isF32() ? "tern_forward_batch" : "tern_forward_batch_f16",
        b.getFunctionType(
            {i32s, i32s, i32s, pool, b.getIndexType(), i32s, logitsType}, {}));
    kernel->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    Block *entry = kernel.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value hostIds = entry->getArgument(0),
          hostPositions = entry->getArgument(1),
          hostSlots = entry->getArgument(2), kvPool = entry->getArgument(3),
          kvContext = entry->getArgument(4), hostRows = entry->getArgument(5),
          logitsOut = entry->getArgument(6);

    if (!owned)
      owned = createKernelEmitter(b, module, kernel, family);
    KernelEmitter &emitter = *owned;
    emitter.beginFunction(kernel);
    emitter.mcaMarkers = mcaMarkers;
    Value tokenCount = b.create<memref::DimOp>(hostIds, 0);
    // Where the kernels find ids, positions, slots and the KV pool, and
    // write the logits: the host's buffers, or (NVIDIA) device copies.
    emitter.hostPositions = hostPositions;
    emitter.map.map(func.getArgument(0),
                    emitter.bindInput(hostIds, tokenCount));
    emitter.map.map(func.getArgument(1),
                    emitter.bindInput(hostPositions, tokenCount));
    Value slots = emitter.bindInput(hostSlots, tokenCount);
    Value rows =
        emitter.bindInput(hostRows, b.create<memref::DimOp>(hostRows, 0));
    FailureOr<Value> cache = emitter.bindKVCache(kvPool);
    if (failed(cache))
      return failure();
    Value logitsBuffer = emitter.bindOutput(logitsOut);
    emitter.setup(*cache, layers, width, tokenCount);
    emitter.setupBatch(slots, kvContext, rows);
    // The LM head writes the rows asked for straight into the caller's
    // buffer.
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    bool fromHead =
        isa_and_nonnull<LMHeadOp>(ret.getOperand(0).getDefiningOp());
    if (fromHead)
      emitter.outputs[ret.getOperand(0)] = logitsBuffer;
    for (Operation &op : func.getBody().front()) {
      if (&op == ret) {
        if (!fromHead)
          return ret.emitOpError()
                 << "model function's logits must come from tern.lm_head (it "
                    "computes only the rows the caller asks for)";
        emitter.writeOutput(emitter.map.lookup(ret.getOperand(0)), logitsOut);
        break;
      }
      if (failed(emitter.lower(&op)))
        return failure();
    }
    emitter.freeBuffers();
    b.create<func::ReturnOp>();
    b.setInsertionPointAfter(kernel);
    emitSingleSequenceForward(
        b, kernel, kvElement.isF32() ? "tern_forward" : "tern_forward_f16",
        2 * layers * width);
  }

  int64_t vocab =
      cast<RankedTensorType>(func.getResultTypes()[0]).getDimSize(1);
  emitModelABI(b, module, vocab, 2 * layers * width);
  func.erase();
  return success();
}

/// A generic graph (module attribute tern.graph, from the ONNX frontend):
///   func @forward(x_0: [?, k_0], ...) -> (y_0: [?, n_0], ...)
/// becomes tern_graph(inputs, outputs): every input's f32 rows one after the
/// other in one byte buffer, the outputs likewise, all with the same number
/// of rows (the count follows from the input size). A pair of flat buffers
/// keeps the C interface one fixed function however many inputs and outputs
/// the graph has.
LogicalResult lowerGraph(ModuleOp module, func::FuncOp func,
                         const KernelFamily &family) {
  MLIRContext *ctx = module.getContext();
  ImplicitLocOpBuilder b(func.getLoc(), ctx);
  b.setInsertionPoint(func);
  auto widths = [&](TypeRange types) {
    SmallVector<int64_t> out;
    for (Type t : types) {
      auto tensor = dyn_cast<RankedTensorType>(t);
      if (!tensor || tensor.getRank() != 2 ||
          !tensor.getElementType().isF32() || tensor.isDynamicDim(1))
        return SmallVector<int64_t>();
      out.push_back(tensor.getDimSize(1));
    }
    return out;
  };
  SmallVector<int64_t> ins = widths(func.getArgumentTypes()),
                       outs = widths(func.getResultTypes());
  if (ins.size() != func.getNumArguments() || ins.empty() ||
      outs.size() != func.getNumResults() || outs.empty())
    return func.emitOpError() << "graph function must map tensor<?xKxf32> "
                                 "inputs to tensor<?xNxf32> outputs, got "
                              << func.getFunctionType();
  // Byte buffers: memref.view then gives each input and output a plain
  // [rows, width] f32 view, which kernels read in place and outputs are
  // copied into with memcpy.
  auto bytes = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
  auto kernel = b.create<func::FuncOp>("tern_graph",
                                       b.getFunctionType({bytes, bytes}, {}));
  kernel->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  Block *entry = kernel.addEntryBlock();
  b.setInsertionPointToStart(entry);
  int64_t inWidth = 0;
  for (int64_t k : ins)
    inWidth += k;
  Value rows = b.create<arith::DivUIOp>(
      b.create<memref::DimOp>(entry->getArgument(0), 0),
      b.create<arith::ConstantIndexOp>(4 * inWidth));

  // The [rows, width] f32 view of a byte buffer at row offset rows * before.
  auto view = [&](Value buffer, int64_t before, int64_t width) -> Value {
    Value shift = b.create<arith::MulIOp>(
        rows, b.create<arith::ConstantIndexOp>(4 * before));
    auto type = MemRefType::get({ShapedType::kDynamic, width}, b.getF32Type());
    return b.create<memref::ViewOp>(type, buffer, shift, ValueRange{rows});
  };
  std::unique_ptr<KernelEmitter> owned =
      createKernelEmitter(b, module, kernel, family);
  KernelEmitter &emitter = *owned;
  emitter.setup(Value(), 0, 0, rows);
  int64_t before = 0;
  for (auto [arg, width] : llvm::zip(func.getArguments(), ins)) {
    emitter.map.map(arg, emitter.bindInput(
                             view(entry->getArgument(0), before, width), rows));
    before += width;
  }
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  for (Operation &op : func.getBody().front()) {
    if (&op == ret)
      break;
    if (failed(emitter.lower(&op)))
      return failure();
  }
  before = 0;
  for (auto [result, width] : llvm::zip(ret.getOperands(), outs)) {
    emitter.writeOutput(emitter.map.lookup(result),
                        view(entry->getArgument(1), before, width));
    before += width;
  }
  emitter.freeBuffers();
  b.create<func::ReturnOp>();

  b.setInsertionPointAfter(kernel);
  emitGraphABI(b, module);
  func.erase();
  return success();
}

/// Every ternary matmul's weights are in the layout `family` reads: packed
/// in it, or (CPU families) unpacked, which the scalar kernels take.
LogicalResult checkWeightLayouts(func::FuncOp func,
                                 const KernelFamily &family) {
  bool device = family.isDeviceCode();
  WalkResult walk = func.walk([&](TernaryMatmulOp op) {
    for (Value weight : op.getWeights()) {
      auto type = cast<RankedTensorType>(weight.getType());
      PackedAttr packed = getPackedEncoding(type);
      if (packed ? packed.getLayout() == family.layout : !device)
        continue;
      op.emitOpError() << "has a weight of type " << type << "; "
                       << (device ? StringRef("NVIDIA") : family.name)
                       << " kernels read #tern.packed<"
                       << stringifyPackedLayout(family.layout) << ">";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

/// Lowers `module` with `family`'s kernels.
LogicalResult lowerModule(ModuleOp module, const KernelFamily &family,
                          bool mcaMarkers) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return module.emitError()
           << "no model function: expected func.func @forward";
  if (failed(checkWeightLayouts(forward, family)))
    return failure();
  if (module->hasAttr(TernDialect::GraphAttrHelper::getNameStr()))
    return lowerGraph(module, forward, family);
  return lowerModel(module, forward, family, mcaMarkers);
}

struct LowerToKernelsPass
    : mlir::tern::impl::TernLowerToKernelsBase<LowerToKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // The module's target decides; the option serves tests without one.
    TargetAttr target =
        TernDialect::TargetAttrHelper(&getContext()).getAttr(module);
    std::string name = variant;
    if (name.empty())
      name = target ? target.getKernels().str() : "scalar";
    const KernelFamily *family = lookupKernelFamily(name);
    if (!family) {
      module.emitError() << "tern-lower-to-kernels: unknown variant '" << name
                         << "' (known: " << kernelFamilyNames(false) << ")";
      return signalPassFailure();
    }
    if (failed(lowerModule(module, *family, mcaMarkers)))
      signalPassFailure();
  }
};

struct LowerToGpuPass : mlir::tern::impl::TernLowerToGpuBase<LowerToGpuPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    TargetAttr target =
        TernDialect::TargetAttrHelper(&getContext()).getAttr(module);
    const KernelFamily *family =
        target ? lookupKernelFamily(target.getKernels()) : nullptr;
    if (!family || !family->isDeviceCode()) {
      module.emitError() << "tern-lower-to-gpu: the module's #tern.target "
                         << (target ? "names '" + target.getKernels().str() +
                                          "', not an NVIDIA family"
                                    : std::string("is missing"))
                         << " (run tern-set-target{kernels=gpu-host}, or "
                            "tern-lower-to-kernels for CPU families)";
      return signalPassFailure();
    }
    if (failed(lowerModule(module, *family, /*mcaMarkers=*/false)))
      signalPassFailure();
  }
};

} // namespace
