//===- KernelCalls.cpp - op dispatch, kernel functions, weight globals ----===//
//
// Each op becomes a call to a private kernel function, created on first use
// and shared by every op of the same signature (kind, static attributes,
// buffer types); what differs between layers (weight scales, the attention
// layer) is passed as arguments. Weights become constant memref.globals.
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/KernelEmitter.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

StringRef KernelEmitter::targetCpu() {
  auto module = forward->getParentOfType<ModuleOp>();
  TargetAttr target =
      TernDialect::TargetAttrHelper(module.getContext()).getAttr(module);
  return target ? target.getCpu() : StringRef();
}

/// The layout of a ternary matmul's weights (all of them share one), or
/// null when they are unpacked.
static PackedAttr weightLayout(TernaryMatmulOp op) {
  return getPackedEncoding(op.getWeights()[0].getType());
}

LogicalResult KernelEmitter::checkStaticFeatures(Operation *op) {
  // Buffers are sized by the token count alone: every other size must be
  // known at compile time.
  for (Value result : op->getResults())
    if (auto type = dyn_cast<RankedTensorType>(result.getType()))
      for (int64_t d = 1; d < type.getRank(); ++d)
        if (type.isDynamicDim(d))
          return op->emitOpError()
                 << "result type " << type
                 << " has a dynamic feature dimension; kernels need static "
                    "sizes for every dimension but the tokens";
  return success();
}

LogicalResult KernelEmitter::lower(Operation *op) {
  if (failed(checkStaticFeatures(op)))
    return failure();
  return TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](WeightOp w) { return lowerWeight(w); })
      .Case<EmbeddingOp, RMSNormOp, ActQuantOp, NormQuantOp, TernaryMatmulOp,
            RopeOp, AttentionOp, GluOp, AddOp, LMHeadOp, LinearOp, UnaryOp,
            BinaryOp, ReduceOp>([&](Operation *o) { return emitCall(o); })
      .Case([&](BitLinearOp o) {
        return o.emitOpError()
               << "must be lowered to act_quant + ternary_matmul before "
                  "kernels (run tern-lower-bitlinear)";
      })
      .Default([&](Operation *o) {
        return o->emitOpError() << "has no kernel lowering yet";
      });
}

void KernelEmitter::lowerBody(Operation *op) {
  TypeSwitch<Operation *>(op)
      .Case([&](EmbeddingOp o) { lowerEmbedding(o); })
      .Case([&](RMSNormOp o) { lowerRMSNorm(o); })
      .Case([&](ActQuantOp o) { lowerActQuant(o); })
      .Case([&](NormQuantOp o) { lowerNormQuant(o); })
      .Case([&](TernaryMatmulOp o) {
        PackedAttr packed = weightLayout(o);
        if (packed && packed.getLayout() == PackedLayout::I2K64)
          lowerTernaryMatmulK64(o);
        else if (packed && packed.getLayout() == PackedLayout::GpuW2)
          lowerTernaryMatmulGpuW2(o);
        else
          lowerTernaryMatmul(o);
      })
      .Case([&](RopeOp o) { lowerRope(o); })
      .Case([&](AttentionOp o) { lowerAttention(o); })
      .Case([&](GluOp o) { lowerGlu(o); })
      .Case([&](AddOp o) { lowerAdd(o); })
      .Case([&](UnaryOp o) { lowerUnary(o); })
      .Case([&](BinaryOp o) { lowerBinary(o); })
      .Case([&](ReduceOp o) { lowerReduce(o); })
      .Case([&](LMHeadOp o) { lowerLMHead(o); })
      .Case([&](LinearOp o) { lowerLinear(o); });
}

LogicalResult KernelEmitter::emitCall(Operation *op) {
  // Arguments: the op's operand buffers, its output buffers (allocated here,
  // [tokens, ...]), then per-call scalars.
  SmallVector<Value> args;
  for (Value v : op->getOperands())
    args.push_back(map.lookup(v));
  for (Value result : op->getResults()) {
    // The LM head writes straight into the caller's logits buffer.
    if (Value direct = outputs.lookup(result)) {
      map.map(result, direct);
      args.push_back(direct);
      continue;
    }
    MemRefType type = storageType(result.getType());
    SmallVector<Value> sizes;
    if (type.isDynamicDim(0))
      sizes.push_back(tokens);
    Value buffer =
        b.create<memref::AllocOp>(type, sizes, b.getI64IntegerAttr(64));
    buffers.push_back(buffer);
    map.map(result, buffer);
    args.push_back(buffer);
  }
  // What differs between layers of one shape is passed, not baked in.
  NamedAttrList attrs(op->getAttrDictionary());
  // Scratch buffers come from the caller too: kernels allocate nothing, and
  // tern-plan-memory places the scratch of all layers in one arena.
  auto scratch = [&](MemRefType type, Value size) {
    Value buffer = b.create<memref::AllocOp>(type, ValueRange{size},
                                             b.getI64IntegerAttr(64));
    buffers.push_back(buffer);
    args.push_back(buffer);
  };
  if (auto mm = dyn_cast<TernaryMatmulOp>(op)) {
    for (float scale : mm.getScales())
      args.push_back(f32(scale));
    attrs.erase(mm.getScalesAttrName());
    // i2_k64 tiles: each token's sum of activations.
    PackedAttr packed = weightLayout(mm);
    if (packed && packed.getLayout() == PackedLayout::I2K64)
      scratch(MemRefType::get({ShapedType::kDynamic}, b.getI32Type()), tokens);
    // Matrix tiles: the last 16 tokens' activations, zero-padded.
    int64_t k = cast<RankedTensorType>(mm.getInput().getType()).getDimSize(1);
    if (packed && packed.getLayout() == PackedLayout::I2K64 &&
        dot.matrixTiles() && k >= 64)
      scratch(MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
              idx(kTileTokens * k));
  }
  if (auto att = dyn_cast<AttentionOp>(op)) {
    args.append({kvCache, idx(att.getLayer()), kvSlots, kvContext});
    attrs.erase(att.getLayerAttrName());
  }
  // The LM head that writes the caller's logits computes only the rows
  // asked for.
  if (isa<LMHeadOp>(op) && outputs.count(op->getResult(0)))
    args.push_back(logitRows);

  // The signature: op kind, static attributes, argument types.
  SmallVector<Type> types;
  for (Value v : args)
    types.push_back(v.getType());
  auto type = b.getFunctionType(types, {});
  std::string key;
  llvm::raw_string_ostream os(key);
  os << op->getName() << attrs.getDictionary(op->getContext()) << type;
  func::FuncOp &kernel = kernels[key];
  if (!kernel) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forward);
    std::string name = ("tern_kernel_" + op->getName().stripDialect()).str();
    kernel = b.create<func::FuncOp>(name, type);
    kernel.setPrivate();
    // Internal and never inlined: one copy of each kernel however many
    // layers call it.
    kernel->setAttr(
        "llvm.linkage",
        LLVM::LinkageAttr::get(b.getContext(), LLVM::Linkage::Internal));
    kernel->setAttr("passthrough",
                    b.getArrayAttr({b.getStringAttr("noinline")}));
    symbols.insert(kernel); // tern_kernel_rms_norm_0, ...
    Block *entry = kernel.addEntryBlock();
    b.setInsertionPointToStart(entry);
    local.clear();
    unsigned n = 0;
    for (Value v : op->getOperands())
      local.map(v, entry->getArgument(n++));
    for (Value result : op->getResults())
      local.map(result, entry->getArgument(n++));
    extras.assign(entry->args_begin() + n, entry->args_end());
    lowerBody(op);
    b.create<func::ReturnOp>();
  }
  b.create<func::CallOp>(kernel, args);
  return success();
}

LogicalResult KernelEmitter::lowerWeight(WeightOp op) {
  auto type = storageType(op.getType());
  auto valueType = cast<ShapedType>(op.getValue().getType());
  if (valueType.getShape() != type.getShape() ||
      valueType.getElementType() != type.getElementType())
    return op.emitOpError() << "data of type " << valueType
                            << " does not match its storage type " << type;
  std::string name = "tern_weight_";
  for (char c : op.getName())
    name += llvm::isAlnum(c) ? c : '_';
  // Blob data is stored as plain bytes (the same blob, retyped) and viewed
  // with its element type: LLVM then emits it as one block of bytes rather
  // than element by element, which matters at gigabytes.
  ElementsAttr value = op.getValue();
  MemRefType globalType = type;
  auto resource = dyn_cast<DenseResourceElementsAttr>(value);
  if (resource && !type.getElementType().isInteger(8)) {
    int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8;
    globalType = MemRefType::get({bytes}, b.getI8Type());
    value = DenseResourceElementsAttr::get(
        RankedTensorType::get({bytes}, b.getI8Type()), resource.getRawHandle());
  }
  memref::GlobalOp &global = weightGlobals[op];
  if (!global) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forward);
    global = b.create<memref::GlobalOp>(
        name, b.getStringAttr("private"), globalType, value,
        /*constant=*/true, b.getI64IntegerAttr(64));
    symbols.insert(global); // renames on collision
  }
  Value data = b.create<memref::GetGlobalOp>(globalType, global.getSymName());
  // NVIDIA: the runtime's device copy.
  FailureOr<Value> placed = placeWeight(data);
  if (failed(placed))
    return failure();
  data = *placed;
  if (globalType != type)
    data = b.create<memref::ViewOp>(type, data, idx(0), ValueRange{});
  map.map(op.getResult(), data);
  return success();
}

void KernelEmitter::freeBuffers() {
  for (Value buffer : buffers)
    b.create<memref::DeallocOp>(buffer);
}
