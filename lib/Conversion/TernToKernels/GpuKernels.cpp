//===- GpuKernels.cpp - NVIDIA kernels for the ternary matmuls ------------===//
//
// One gpu.func per distinct ternary matmul signature on gpu_w2 weights, in
// gpu.module @tern_gpu; its body is GpuW2.h's dot product with dp4a as PTX.
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/Passes.h"

#include "GpuW2.h"

#include "Tern/IR/TernOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNLOWERTOGPUKERNELS
#include "tern/Conversion/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

constexpr int64_t kThreads = 128;

/// dp4a.u32.s32: unsigned bytes of a (the codes) times signed bytes of b
/// (the activations), plus c. MLIR 19 has no NVVM op for it.
Value dp4aPTX(OpBuilder &b, Location loc, Value a, Value bv, Value c) {
  Type i32 = b.getI32Type();
  return b
      .create<LLVM::InlineAsmOp>(
          loc, i32, ValueRange{a, bv, c}, "dp4a.u32.s32 $0, $1, $2, $3;",
          "=r,r,r,r", /*has_side_effects=*/false, /*is_align_stack=*/false,
          LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

struct LowerToGpuKernelsPass
    : mlir::tern::impl::TernLowerToGpuKernelsBase<LowerToGpuKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError() << "no model function: expected func.func @forward";
      return signalPassFailure();
    }
    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(ctx));
    auto gpuModule = b.create<gpu::GPUModuleOp>(module.getLoc(), "tern_gpu");
    SymbolTable symbols(gpuModule);

    WalkResult walk = forward.walk([&](TernaryMatmulOp op) {
      auto q = cast<RankedTensorType>(op.getInput().getType());
      for (Value weight : op.getWeights()) {
        auto type = cast<RankedTensorType>(weight.getType());
        PackedAttr packed = getPackedEncoding(type);
        if (!packed || packed.getLayout() != PackedLayout::GpuW2) {
          op.emitOpError() << "has a weight of type " << type
                           << "; NVIDIA kernels read #tern.packed<gpu_w2>";
          return WalkResult::interrupt();
        }
        int64_t n = type.getDimSize(0), k = type.getDimSize(1);
        bool residual = bool(op.getResidual());
        std::string name = "tern_gpu_w2a8_k" + std::to_string(k) + "_n" +
                           std::to_string(n) + (residual ? "_residual" : "");
        // A decode kernel (one token per grid row) and a prefill kernel
        // (kPrefillTile tokens per thread, each weight word read once).
        for (int64_t tile : {int64_t(1), kernels::kPrefillTile}) {
          std::string kernel = name + "_t" + std::to_string(tile);
          if (!symbols.lookup(kernel))
            buildKernel(b, gpuModule, symbols, kernel, q.getDimSize(1), n,
                        residual, tile);
        }
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    // --emit=asm of the device code alone.
    if (!keepHost)
      forward.erase();
  }

  void buildKernel(OpBuilder &b, gpu::GPUModuleOp gpuModule,
                   SymbolTable &symbols, StringRef name, int64_t k, int64_t n,
                   bool residual, int64_t tile) {
    MLIRContext *ctx = &getContext();
    Location loc = gpuModule.getLoc();
    int64_t words = n * ((k + 15) / 16);
    Type f32 = b.getF32Type();
    auto rows = [&](int64_t width, Type element) {
      return MemRefType::get({ShapedType::kDynamic, width}, element);
    };
    // q [tokens, K] i8, s [tokens] f32, W words, out [tokens, N], scale,
    // then the residual [tokens, N].
    SmallVector<Type> args = {
        rows(k, b.getI8Type()), MemRefType::get({ShapedType::kDynamic}, f32),
        MemRefType::get({words}, b.getI32Type()), rows(n, f32), f32};
    if (residual)
      args.push_back(rows(n, f32));
    OpBuilder::InsertionGuard guard(b);
    Block *body = gpuModule.getBody();
    if (body->mightHaveTerminator())
      b.setInsertionPoint(body->getTerminator());
    else
      b.setInsertionPointToEnd(body);
    auto func =
        b.create<gpu::GPUFuncOp>(loc, name, b.getFunctionType(args, {}));
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
    func.setKnownBlockSizeAttr(
        b.getDenseI32ArrayAttr({int32_t(kThreads), 1, 1}));
    symbols.insert(func);
    Block &entry = func.getBody().front();
    b.setInsertionPointToStart(&entry);
    Value q = entry.getArgument(0), s = entry.getArgument(1),
          w = entry.getArgument(2), out = entry.getArgument(3),
          scale = entry.getArgument(4);
    Value row = b.create<arith::AddIOp>(
        loc,
        b.create<arith::MulIOp>(
            loc, b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x),
            b.create<arith::ConstantIndexOp>(loc, kThreads)),
        b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x));
    Value t0 = b.create<arith::MulIOp>(
        loc, b.create<gpu::BlockIdOp>(loc, gpu::Dimension::y),
        b.create<arith::ConstantIndexOp>(loc, tile));
    Value tokens = b.create<memref::DimOp>(loc, q, 0);
    Value inside =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, row,
                                b.create<arith::ConstantIndexOp>(loc, n));
    auto guardRow = b.create<scf::IfOp>(loc, inside, /*else=*/false);
    b.setInsertionPointToStart(&guardRow.getThenRegion().front());
    SmallVector<Value> dots =
        kernels::gpuW2Dot(b, loc, q, w, t0, tokens, tile, row, k, n, dp4aPTX);
    kernels::gpuW2Store(b, loc, dots, t0, tokens, row, s, scale, out,
                        residual ? entry.getArgument(5) : Value());
    b.setInsertionPointToEnd(&entry);
    b.create<gpu::ReturnOp>(loc);
  }
};

} // namespace
