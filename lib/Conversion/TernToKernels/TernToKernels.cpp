//===- TernToKernels.cpp - tern ops on tensors -> loops on memrefs --------===//
//
//   func @forward(ids, positions) -> logits          (tensors, tern ops)
//        |  tern-lower-to-kernels
//        v
//   func @tern_forward(ids, positions, kv_cache, logits_out)  (memrefs, loops)
//   memref.global "private" constant @tern_weight_*  (weights, resource blobs)
//
// The KV cache that tern.attention implies becomes an argument the runtime
// allocates for the context it chooses: a flat f32 buffer of
// tern_kv_floats_per_position() * context floats laid out as
// [layer][k, v][position][kv_heads * head_dim], so each layer's keys (and
// values) are contiguous in position.
//
// The model function is straight-line code, so the lowering walks it once in
// order and emits, for each tern op, its output buffers and a call to a
// kernel function: one private function per distinct op signature (kind,
// shapes, static attributes), shared by every layer with that signature.
// Per-layer values (ternary_matmul scales, the attention layer) are kernel
// arguments. Code size, and with it LLVM's time, then grows with the number
// of distinct shapes, not with the number of layers.
//
// These are the generic (scalar) kernels: every target can run them and they
// are the reference the specialised kernels are checked against.
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/Passes.h"

#include "KernelEmitter.h"

#include "Tern/IR/TernOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

namespace mlir::tern {
#define GEN_PASS_DEF_TERNLOWERTOKERNELS
#include "tern/Conversion/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

LogicalResult KernelEmitter::lower(Operation *op) {
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
  if (device != Device::None && !isa<WeightOp, BitLinearOp>(op))
    return launch(op);
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
        PackedAttr packed = getPackedEncoding(o.getWeights()[0].getType());
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
  if (auto mm = dyn_cast<TernaryMatmulOp>(op)) {
    for (float scale : mm.getScales())
      args.push_back(f32(scale));
    attrs.erase(mm.getScalesAttrName());
  }
  if (auto att = dyn_cast<AttentionOp>(op)) {
    args.push_back(kvCache);
    args.push_back(idx(att.getLayer()));
    attrs.erase(att.getLayerAttrName());
  }

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
  memref::GlobalOp global;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forward);
    global = b.create<memref::GlobalOp>(
        name, b.getStringAttr("private"), globalType, value,
        /*constant=*/true, b.getI64IntegerAttr(64));
    symbols.insert(global); // renames on collision
  }
  Value data = b.create<memref::GetGlobalOp>(globalType, global.getSymName());
  if (device != Device::None) { // weights live on the device
    FailureOr<Value> onDevice = resident(data, /*withContents=*/true);
    if (failed(onDevice))
      return failure();
    data = *onDevice;
  }
  if (globalType != type)
    data = b.create<memref::ViewOp>(type, data, idx(0), ValueRange{});
  map.map(op.getResult(), data);
  return success();
}

void KernelEmitter::lowerEmbedding(EmbeddingOp op) {
  Value table = in(op.getTable()), ids = in(op.getIds());
  Value out = output(op.getResult());
  Value d = dim(out, 1);
  forEach(dim(ids, 0), [&](Value t) {
    Value row = b.create<arith::IndexCastOp>(
        b.getIndexType(), b.create<memref::LoadOp>(ids, ValueRange{t}));
    forEach(d, [&](Value j) {
      Value v = toF32(b.create<memref::LoadOp>(table, ValueRange{row, j}));
      b.create<memref::StoreOp>(v, out, ValueRange{t, j});
    });
  });
}

Value KernelEmitter::foldTo16(Value v) {
  // Chunks of 16 lanes added pairwise (a tree), whatever their count.
  int64_t n = cast<VectorType>(v.getType()).getNumElements();
  assert(n % 16 == 0 && "a whole number of 16-lane chunks");
  SmallVector<Value> chunks;
  for (int64_t offset = 0; offset < n; offset += 16)
    chunks.push_back(b.create<vector::ExtractStridedSliceOp>(
        v, ArrayRef<int64_t>{offset}, ArrayRef<int64_t>{16},
        ArrayRef<int64_t>{1}));
  while (chunks.size() > 1) {
    SmallVector<Value> next;
    for (size_t i = 0; i + 1 < chunks.size(); i += 2)
      next.push_back(b.create<arith::AddFOp>(chunks[i], chunks[i + 1]));
    if (chunks.size() % 2)
      next.push_back(chunks.back());
    chunks = std::move(next);
  }
  return chunks.front();
}

Value KernelEmitter::sumF32(Value v) {
  return b.create<vector::ReductionOp>(vector::CombiningKind::ADD, foldTo16(v),
                                       Value(), arith::FastMathFlags::reassoc);
}

Value KernelEmitter::elementToF32(Value v) {
  if (!getElementTypeOrSelf(v).isBF16())
    return toF32(v);
  // bf16 is the top half of an f32: widen the bits and shift.
  auto like = [&](Type element) -> Type {
    if (auto vector = dyn_cast<VectorType>(v.getType()))
      return vector.clone(element);
    return element;
  };
  int64_t width = isa<VectorType>(v.getType())
                      ? cast<VectorType>(v.getType()).getNumElements()
                      : 1;
  Value bits = b.create<arith::ExtUIOp>(
      like(b.getI32Type()),
      b.create<arith::BitcastOp>(like(b.getI16Type()), v));
  return b.create<arith::BitcastOp>(
      like(b.getF32Type()),
      b.create<arith::ShLIOp>(bits, splat(i32(16), width)));
}

void KernelEmitter::lowerLMHead(LMHeadOp op) {
  lowerFloatMatmul(in(op.getInput()), in(op.getTable()), output(op.getResult()),
                   op.getScales() ? in(op.getScales()) : Value());
}

void KernelEmitter::lowerLinear(LinearOp op) {
  lowerFloatMatmul(in(op.getInput()), in(op.getWeight()),
                   output(op.getResult()));
}

void KernelEmitter::lowerFloatMatmul(Value x, Value table, Value out,
                                     Value scales) {
  // out[r, v] = x[t, :] . table[v, :] in f32. The output may have fewer
  // rows than the input: then it holds the last rows (the LM head of a
  // generation step needs only the last token's logits).
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  // SIMD kernels stream the table 64 elements at a time into a 64-lane f32
  // accumulator (several independent FMA chains); the rest is scalar.
  int64_t blocks = variant == Variant::Scalar ? 0 : d / 64;
  Type element = cast<MemRefType>(table.getType()).getElementType();
  auto f32x64 = VectorType::get({64}, b.getF32Type());
  auto row64 = [&](Value v, Value j) -> Value {
    return elementToF32(b.create<vector::LoadOp>(VectorType::get({64}, element),
                                                 table, ValueRange{v, j}));
  };
  Value first = b.create<arith::SubIOp>(dim(x, 0), dim(out, 0));
  forEach(dim(out, 0), [&](Value r) {
    Value t = b.create<arith::AddIOp>(first, r);
    parallelFor(idx(0), dim(out, 1), idx(1), [&](Value v) {
      Value acc = f32(0);
      if (blocks) {
        Value zero = b.create<arith::ConstantOp>(
            DenseElementsAttr::get(f32x64, b.getF32FloatAttr(0).getValue()));
        Value lanes = reduce(idx(blocks), zero, [&](Value blk, Value lanes) {
          Value j = b.create<arith::MulIOp>(blk, idx(64));
          Value xv = b.create<vector::LoadOp>(f32x64, x, ValueRange{t, j});
          // Each 64-byte line of this block, kPrefetchBytes ahead.
          int64_t bits = element.getIntOrFloatBitWidth();
          for (int64_t line = 0; blocks > 1 && line < bits; line += 8)
            prefetch(table,
                     {v, b.create<arith::AddIOp>(
                             j, idx((kPrefetchBytes + line * 8) * 8 / bits))});
          return b.create<vector::FMAOp>(xv, row64(v, j), lanes);
        });
        acc = sumF32(lanes);
      }
      acc = reduce(idx(d - blocks * 64), acc, [&](Value i, Value acc) {
        Value j = b.create<arith::AddIOp>(idx(blocks * 64), i);
        Value e = toF32(b.create<memref::LoadOp>(table, ValueRange{v, j}));
        Value xv = b.create<memref::LoadOp>(x, ValueRange{t, j});
        return b.create<arith::AddFOp>(acc, b.create<arith::MulFOp>(xv, e));
      });
      if (scales) // int8 rows: the row's scale
        acc = b.create<arith::MulFOp>(
            acc, b.create<memref::LoadOp>(scales, ValueRange{v}));
      b.create<memref::StoreOp>(acc, out, ValueRange{r, v});
    });
  });
}

namespace {

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

LogicalResult lowerModel(ModuleOp module, func::FuncOp func, Variant variant,
                         bool mcaMarkers, Device device) {
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

  SmallVector<Type> args;
  for (Type t : func.getArgumentTypes())
    args.push_back(storageType(t));
  args.push_back(MemRefType::get({ShapedType::kDynamic}, b.getF32Type()));
  for (Type t : func.getResultTypes())
    args.push_back(storageType(t));
  auto kernel =
      b.create<func::FuncOp>("tern_forward", b.getFunctionType(args, {}));
  kernel->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  Block *entry = kernel.addEntryBlock();
  b.setInsertionPointToStart(entry);

  KernelEmitter emitter(b, module, kernel, variant);
  emitter.mcaMarkers = mcaMarkers;
  emitter.device = device;
  Value tokenCount = b.create<memref::DimOp>(entry->getArgument(0), 0);
  Value kvCache = entry->getArgument(func.getNumArguments());
  Value logitsOut = entry->getArgument(func.getNumArguments() + 1);
  // Device mode: ids and positions are uploaded, the KV cache lives on the
  // device, the logits are computed there and copied back at the end.
  Value logitsDevice = logitsOut;
  if (device != Device::None) {
    emitter.hostPositions = entry->getArgument(1);
    for (auto [from, to] :
         llvm::zip(func.getArguments(), entry->getArguments())) {
      auto type = cast<MemRefType>(to.getType());
      Value copy = emitter.deviceAlloc(type, tokenCount);
      emitter.copy(to, copy);
      emitter.map.map(from, copy);
    }
    FailureOr<Value> cache = emitter.resident(kvCache, /*withContents=*/false);
    if (failed(cache))
      return failure();
    kvCache = *cache;
    auto logitsType = cast<MemRefType>(logitsOut.getType());
    logitsDevice = emitter.deviceAlloc(
        logitsType, b.create<memref::DimOp>(logitsOut, 0).getResult());
  } else {
    for (auto [from, to] :
         llvm::zip(func.getArguments(), entry->getArguments()))
      emitter.map.map(from, to);
  }
  emitter.setup(kvCache, layers, width, tokenCount);
  // Logits come straight from the LM head into the caller's buffer, which
  // may hold only the last rows; anything else is copied at the end.
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  if (isa_and_nonnull<LMHeadOp>(ret.getOperand(0).getDefiningOp()))
    emitter.outputs[ret.getOperand(0)] = logitsDevice;
  for (Operation &op : func.getBody().front()) {
    if (&op == ret) {
      Value logits = emitter.map.lookup(ret.getOperand(0));
      if (device != Device::None)
        emitter.copy(logits, logitsOut);
      else if (logits != logitsOut)
        b.create<memref::CopyOp>(logits, logitsOut);
      break;
    }
    if (failed(emitter.lower(&op)))
      return failure();
  }
  emitter.freeBuffers();
  b.create<func::ReturnOp>();

  // tern_vocab_size() lets the runtime size the logits buffer.
  b.setInsertionPointAfter(kernel);
  int64_t vocab =
      cast<RankedTensorType>(func.getResultTypes()[0]).getDimSize(1);
  auto vocabFn = b.create<func::FuncOp>(
      "tern_vocab_size", b.getFunctionType({}, {b.getI64Type()}));
  b.setInsertionPointToStart(vocabFn.addEntryBlock());
  b.create<func::ReturnOp>(
      ValueRange{b.create<arith::ConstantIntOp>(vocab, 64)});

  b.setInsertionPointAfter(vocabFn);
  auto kvFn = b.create<func::FuncOp>("tern_kv_floats_per_position",
                                     b.getFunctionType({}, {b.getI64Type()}));
  b.setInsertionPointToStart(kvFn.addEntryBlock());
  b.create<func::ReturnOp>(
      ValueRange{b.create<arith::ConstantIntOp>(2 * layers * width, 64)});

  // tern_context_length(): the model's largest position (module attribute
  // tern.context_length, set by the frontend from the model's config).
  int64_t context = 2048;
  if (auto attr = module->getAttrOfType<IntegerAttr>("tern.context_length"))
    context = attr.getInt();
  b.setInsertionPointAfter(kvFn);
  auto contextFn = b.create<func::FuncOp>(
      "tern_context_length", b.getFunctionType({}, {b.getI64Type()}));
  b.setInsertionPointToStart(contextFn.addEntryBlock());
  b.create<func::ReturnOp>(
      ValueRange{b.create<arith::ConstantIntOp>(context, 64)});

  // tern_is_eos(id): 1 for the ids that end a generation (module attribute
  // tern.eos_token_ids, from the model's config), else 0.
  b.setInsertionPointAfter(contextFn);
  auto eosFn = b.create<func::FuncOp>(
      "tern_is_eos", b.getFunctionType({b.getI64Type()}, {b.getI64Type()}));
  Block *eosEntry = eosFn.addEntryBlock();
  b.setInsertionPointToStart(eosEntry);
  Value isEos = b.create<arith::ConstantIntOp>(0, 1);
  if (auto ids = module->getAttrOfType<DenseI64ArrayAttr>("tern.eos_token_ids"))
    for (int64_t id : ids.asArrayRef())
      isEos = b.create<arith::OrIOp>(
          isEos, b.create<arith::CmpIOp>(
                     arith::CmpIPredicate::eq, eosEntry->getArgument(0),
                     b.create<arith::ConstantIntOp>(id, 64)));
  b.create<func::ReturnOp>(
      ValueRange{b.create<arith::ExtUIOp>(b.getI64Type(), isEos)});

  // The serialized tokenizer (module attribute tern.tokenizer), for the
  // runtime: the bytes as the public global tern_tokenizer, their number
  // from tern_tokenizer_size().
  if (auto tokenizer =
          module->getAttrOfType<DenseResourceElementsAttr>("tern.tokenizer")) {
    auto type = MemRefType::get(tokenizer.getType().getShape(), b.getI8Type());
    b.setInsertionPointAfter(eosFn);
    b.create<memref::GlobalOp>("tern_tokenizer", b.getStringAttr("public"),
                               type, tokenizer, /*constant=*/true,
                               b.getI64IntegerAttr(8));
    auto sizeFn = b.create<func::FuncOp>(
        "tern_tokenizer_size", b.getFunctionType({}, {b.getI64Type()}));
    b.setInsertionPointToStart(sizeFn.addEntryBlock());
    b.create<func::ReturnOp>(
        ValueRange{b.create<arith::ConstantIntOp>(type.getNumElements(), 64)});
  }
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
LogicalResult lowerGraph(ModuleOp module, func::FuncOp func, Variant variant,
                         Device device) {
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
  KernelEmitter emitter(b, module, kernel, variant);
  emitter.device = device;
  emitter.setup(Value(), 0, 0, rows);
  int64_t before = 0;
  for (auto [arg, width] : llvm::zip(func.getArguments(), ins)) {
    Value input = view(entry->getArgument(0), before, width);
    if (device != Device::None) { // uploaded
      Value copy = emitter.deviceAlloc(cast<MemRefType>(input.getType()), rows);
      emitter.copy(input, copy);
      input = copy;
    }
    emitter.map.map(arg, input);
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
    Value output = view(entry->getArgument(1), before, width);
    if (device != Device::None)
      emitter.copy(emitter.map.lookup(result), output);
    else
      b.create<memref::CopyOp>(emitter.map.lookup(result), output);
    before += width;
  }
  emitter.freeBuffers();
  b.create<func::ReturnOp>();

  // The graph's inputs and outputs, named and shaped (tern.graph), for the
  // runtime: the public NUL-terminated string tern_graph_signature.
  auto signature = module->getAttrOfType<StringAttr>("tern.graph");
  std::vector<char> text(signature.getValue().begin(),
                         signature.getValue().end());
  text.push_back(0);
  auto type = RankedTensorType::get({int64_t(text.size())}, b.getI8Type());
  b.setInsertionPointAfter(kernel);
  b.create<memref::GlobalOp>("tern_graph_signature", b.getStringAttr("public"),
                             MemRefType::get(type.getShape(), b.getI8Type()),
                             DenseElementsAttr::get(type, ArrayRef<char>(text)),
                             /*constant=*/true, IntegerAttr());
  func.erase();
  return success();
}

struct LowerToKernelsPass
    : mlir::tern::impl::TernLowerToKernelsBase<LowerToKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<Variant> kind =
        llvm::StringSwitch<std::optional<Variant>>(variant)
            .Case("scalar", Variant::Scalar)
            .Case("vector", Variant::Vector)
            // The row-wise kernels of vector; ternary matmuls by layout.
            .Case("gpu-emulation", Variant::Vector)
            // Device mode: every op a GPU kernel.
            .Case("gpu-host", Variant::Vector)
            .Case("gpu-device-emulation", Variant::Vector)
            .Case("avx2", Variant::AVX2)
            .Case("avxvnni", Variant::AVXVNNI)
            .Case("avx512vnni", Variant::AVX512VNNI)
            .Case("neon", Variant::NEON)
            .Case("dotprod", Variant::DotProd)
            .Case("i8mm", Variant::I8MM)
            .Default(std::nullopt);
    if (!kind) {
      module.emitError()
          << "tern-lower-to-kernels: unknown variant '" << variant
          << "' (known: scalar, vector, avx2, avxvnni, avx512vnni, neon, "
             "dotprod, i8mm, gpu-emulation, gpu-host, gpu-device-emulation)";
      return signalPassFailure();
    }
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError() << "no model function: expected func.func @forward";
      return signalPassFailure();
    }
    Device device = variant == "gpu-host"               ? Device::Gpu
                    : variant == "gpu-device-emulation" ? Device::Emulation
                                                        : Device::None;
    if (module->hasAttr("tern.graph")) {
      if (failed(lowerGraph(module, forward, *kind, device)))
        signalPassFailure();
      return;
    }
    if (failed(lowerModel(module, forward, *kind, mcaMarkers, device)))
      signalPassFailure();
  }
};

} // namespace
