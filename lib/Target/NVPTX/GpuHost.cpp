//===- GpuHost.cpp - device mode: the host side of the launches -----------===//
//
// What device mode's host code does besides the kernels (GpuLayer.cpp):
// device buffers (gpu.alloc / gpu.dealloc), copies (gpu.memcpy), the
// runtime's resident copies of weights and the KV cache, and launches
// (gpu.launch_func of a gpu.func in gpu.module @tern_gpu). The emulation
// (gpu-device-emulation) makes the same calls on host memory and runs a
// kernel as a function of the grid.
//
//===----------------------------------------------------------------------===//

#include "GpuKernelEmitter.h"
#include "GpuThreads.h"
#include "tern/Target/NVPTX/Kernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

gpu::GPUModuleOp GpuKernelEmitter::gpuModule() {
  auto module = forward->getParentOfType<ModuleOp>();
  if (auto existing = module.lookupSymbol<gpu::GPUModuleOp>("tern_gpu"))
    return existing;
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  return b.create<gpu::GPUModuleOp>("tern_gpu");
}

Value GpuKernelEmitter::deviceAlloc(MemRefType type, ValueRange sizes,
                                    bool freeAtEnd) {
  Value buffer;
  if (!onGpu()) {
    buffer = b.create<memref::AllocOp>(type, sizes, b.getI64IntegerAttr(64));
  } else {
    // gpu-to-llvm lowers the async forms; the runtime's default stream
    // orders everything, so each op waits on a fresh token.
    auto token = gpu::AsyncTokenType::get(b.getContext());
    Value start = b.create<gpu::WaitOp>(token, ValueRange{}).getAsyncToken();
    auto alloc = b.create<gpu::AllocOp>(type, token, ValueRange{start}, sizes,
                                        ValueRange{}, /*hostShared=*/false);
    b.create<gpu::WaitOp>(Type(), ValueRange{alloc.getAsyncToken()});
    buffer = alloc.getMemref();
  }
  if (freeAtEnd)
    buffers.push_back(buffer);
  return buffer;
}

void GpuKernelEmitter::deviceFree(Value buffer) {
  if (!onGpu()) {
    b.create<memref::DeallocOp>(buffer);
    return;
  }
  auto token = gpu::AsyncTokenType::get(b.getContext());
  Value start = b.create<gpu::WaitOp>(token, ValueRange{}).getAsyncToken();
  auto done = b.create<gpu::DeallocOp>(token, ValueRange{start}, buffer);
  b.create<gpu::WaitOp>(Type(), ValueRange{done.getAsyncToken()});
}

void GpuKernelEmitter::copy(Value from, Value to) {
  if (!onGpu()) {
    b.create<memref::CopyOp>(from, to);
    return;
  }
  auto token = gpu::AsyncTokenType::get(b.getContext());
  Value start = b.create<gpu::WaitOp>(token, ValueRange{}).getAsyncToken();
  auto done = b.create<gpu::MemcpyOp>(token, ValueRange{start}, to, from);
  b.create<gpu::WaitOp>(Type(), ValueRange{done.getAsyncToken()});
}

void GpuKernelEmitter::freeBuffers() {
  for (Value buffer : hostBuffers)
    b.create<memref::DeallocOp>(buffer);
  for (Value buffer : buffers)
    deviceFree(buffer);
}

Value GpuKernelEmitter::bindInput(Value host, Value rows) {
  Value copy = deviceAlloc(cast<MemRefType>(host.getType()), rows);
  this->copy(host, copy);
  return copy;
}

FailureOr<Value> GpuKernelEmitter::bindKVCache(Value host) {
  return resident(host, /*withContents=*/false);
}

Value GpuKernelEmitter::bindOutput(Value host) {
  return deviceAlloc(cast<MemRefType>(host.getType()),
                     b.create<memref::DimOp>(host, 0).getResult());
}

void GpuKernelEmitter::writeOutput(Value result, Value host) {
  copy(result, host);
}

FailureOr<Value> GpuKernelEmitter::placeWeight(Value data) {
  return resident(data, /*withContents=*/true);
}

std::unique_ptr<KernelEmitter>
mlir::tern::nvptx::createGpuKernelEmitter(ImplicitLocOpBuilder &b,
                                          ModuleOp module, Operation *forward,
                                          const KernelFamily &family) {
  return std::make_unique<GpuKernelEmitter>(b, module, forward, family);
}

FailureOr<Value> GpuKernelEmitter::resident(Value host, bool withContents) {
  if (!onGpu())
    return host;
  auto type = cast<MemRefType>(host.getType());
  Type element = type.getElementType();
  std::string suffix;
  llvm::raw_string_ostream(suffix) << element;
  if (!llvm::is_contained({"f32", "f16", "bf16", "i8", "i32"}, suffix)) {
    forward->emitError() << "no device copy of " << type
                         << ": NVIDIA executables hold f32, f16, bf16, i8 and "
                            "i32 buffers";
    return failure();
  }
  // The runtime takes and gives memref<?xT>.
  auto flatType = MemRefType::get({ShapedType::kDynamic}, element);
  Value flat = host;
  if (type.getRank() != 1) {
    ReassociationIndices all =
        llvm::to_vector<2>(llvm::seq<int64_t>(0, type.getRank()));
    flat = b.create<memref::CollapseShapeOp>(
        host, ArrayRef<ReassociationIndices>{all});
  }
  if (flat.getType() != flatType)
    flat = b.create<memref::CastOp>(flatType, flat);
  std::string name = "tern_gpu_resident_" + suffix;
  auto callee = symbols.lookup<func::FuncOp>(name);
  if (!callee) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forward);
    callee = b.create<func::FuncOp>(
        name, b.getFunctionType({flatType, b.getI64Type()}, {flatType}));
    callee.setPrivate();
    callee->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    symbols.insert(callee);
  }
  Value copyFlag = b.create<arith::ConstantIntOp>(withContents ? 1 : 0, 64);
  Value device =
      b.create<func::CallOp>(callee, ValueRange{flat, copyFlag}).getResult(0);
  if (type.isDynamicDim(0))
    return device;
  Value shaped = b.create<memref::CastOp>(
      MemRefType::get({type.getNumElements()}, element), device);
  if (type.getRank() == 1)
    return shaped;
  ReassociationIndices all =
      llvm::to_vector<2>(llvm::seq<int64_t>(0, type.getRank()));
  return b
      .create<memref::ExpandShapeOp>(type, shaped,
                                     ArrayRef<ReassociationIndices>{all})
      .getResult();
}

void GpuKernelEmitter::launchKernel(StringRef name, ValueRange args,
                                    Value gridX, Value gridY, int64_t threads,
                                    BlockBody body) {
  SmallVector<Type> types(args.getTypes());
  std::string key;
  llvm::raw_string_ostream os(key);
  os << name << b.getFunctionType(types, {});
  Operation *&kernel = deviceKernels[key];
  if (onGpu()) {
    if (!kernel) {
      gpu::GPUModuleOp module = gpuModule();
      OpBuilder::InsertionGuard guard(b);
      Block *moduleBody = module.getBody();
      if (moduleBody->mightHaveTerminator())
        b.setInsertionPoint(moduleBody->getTerminator());
      else
        b.setInsertionPointToEnd(moduleBody);
      auto fn = b.create<gpu::GPUFuncOp>(("tern_gpu_" + name).str(),
                                         b.getFunctionType(types, {}));
      fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
      fn.setKnownBlockSizeAttr(
          b.getDenseI32ArrayAttr({int32_t(threads), 1, 1}));
      SymbolTable(module).insert(fn);
      b.setInsertionPointToStart(&fn.getBody().front());
      BlockThreads block(b, threads, fn, nullptr);
      // A copy: shared arrays are added to the entry block's arguments.
      SmallVector<Value> params(fn.getArguments());
      body(block, b.create<gpu::BlockIdOp>(gpu::Dimension::x),
           b.create<gpu::BlockIdOp>(gpu::Dimension::y), params);
      b.create<gpu::ReturnOp>();
      kernel = fn;
    }
    Value one = idx(1);
    b.create<gpu::LaunchFuncOp>(
        cast<gpu::GPUFuncOp>(kernel), gpu::KernelDim3{gridX, gridY, one},
        gpu::KernelDim3{idx(threads), one, one}, Value(), args);
    return;
  }
  // Emulation: a function of (gridX, gridY, args) that runs every block.
  if (!kernel) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forward);
    SmallVector<Type> withGrid = {b.getIndexType(), b.getIndexType()};
    withGrid.append(types);
    auto fn = b.create<func::FuncOp>(("tern_emulated_" + name).str(),
                                     b.getFunctionType(withGrid, {}));
    fn.setPrivate();
    fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(
                                    b.getContext(), LLVM::Linkage::Internal));
    symbols.insert(fn);
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    forEach(entry->getArgument(1), [&](Value by) {
      forEach(entry->getArgument(0), [&](Value bx) {
        BlockThreads block(b, threads, nullptr, entry);
        body(block, bx, by, entry->getArguments().drop_front(2));
      });
    });
    b.create<func::ReturnOp>();
    kernel = fn;
  }
  SmallVector<Value> withGrid = {gridX, gridY};
  withGrid.append(args.begin(), args.end());
  b.create<func::CallOp>(cast<func::FuncOp>(kernel), withGrid);
}
