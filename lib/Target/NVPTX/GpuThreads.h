//===- GpuThreads.h - the threads of a block, on a GPU or emulated -*- C++ -*-//
//
// The NVIDIA kernels besides the matmuls are written as phases: every thread
// of the block runs a phase's body, then all meet at a barrier before the
// next, and values cross phases only through shared arrays. On the GPU that
// is the body in a gpu.func with gpu.barrier after it; the CPU emulation
// (family gpu-device-emulation) runs each phase as a loop over the thread
// ids, which gives every read the value the barriers guarantee on the GPU.
// Reductions are trees over a shared array, the same order in both.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_CONVERSION_GPUTHREADS_H
#define TERN_CONVERSION_GPUTHREADS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::tern::kernels {

/// Threads per block of the row kernels (a block per token row).
constexpr int64_t kRowThreads = 128;

class BlockThreads {
public:
  /// `count` threads (a power of two). On the GPU, `func` is the kernel
  /// (shared arrays become its workgroup attributions); in the emulation
  /// `entry` is the block where shared arrays are allocated.
  BlockThreads(ImplicitLocOpBuilder &b, int64_t count, gpu::GPUFuncOp func,
               Block *entry)
      : b(b), count(count), func(func), entry(entry) {
    if (func)
      tid = b.create<gpu::ThreadIdOp>(gpu::Dimension::x);
  }

  ImplicitLocOpBuilder &b;
  const int64_t count;

  /// body(tid) on every thread, then a barrier.
  void phase(function_ref<void(Value)> body) {
    each(body);
    if (func)
      b.create<gpu::BarrierOp>();
  }
  /// body(tid) on every thread, with no barrier after it (the last phase).
  void each(function_ref<void(Value)> body) {
    if (func)
      return body(tid);
    auto loop = b.create<scf::ForOp>(index(0), index(count), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVar());
  }
  /// body(j) for j = tid, tid + count, ... < n.
  void strided(Value tid, Value n, function_ref<void(Value)> body) {
    auto loop = b.create<scf::ForOp>(tid, n, index(count));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVar());
  }
  /// init combined with body(j, acc) for j = tid, tid + count, ... < n.
  Value stridedFold(Value tid, Value n, Value init,
                    function_ref<Value(Value, Value)> body) {
    auto loop = b.create<scf::ForOp>(tid, n, index(count), ValueRange{init});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    b.create<scf::YieldOp>(
        body(loop.getInductionVar(), loop.getRegionIterArg(0)));
    return loop.getResult(0);
  }
  /// An f32 array of n elements shared by the block's threads.
  Value shared(int64_t n) {
    Type f32 = b.getF32Type();
    if (func)
      return func.addWorkgroupAttribution(
          MemRefType::get({n}, f32, MemRefLayoutAttrInterface(),
                          gpu::AddressSpaceAttr::get(
                              b.getContext(), gpu::AddressSpace::Workgroup)),
          b.getLoc());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entry);
    return b.create<memref::AllocaOp>(MemRefType::get({n}, f32));
  }
  /// The sum (or max) over the threads of partial(tid), as a tree over a
  /// shared array: every thread gets it.
  Value reduce(bool max, function_ref<Value(Value)> partial) {
    Value scratch = shared(count);
    phase([&](Value t) {
      b.create<memref::StoreOp>(partial(t), scratch, ValueRange{t});
    });
    for (int64_t half = count / 2; half >= 1; half /= 2)
      phase([&](Value t) {
        auto active = b.create<scf::IfOp>(
            b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, t, index(half)),
            /*else=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&active.getThenRegion().front());
        Value other = b.create<arith::AddIOp>(t, index(half));
        Value x = b.create<memref::LoadOp>(scratch, ValueRange{t});
        Value y = b.create<memref::LoadOp>(scratch, ValueRange{other});
        Value r = max ? Value(b.create<arith::MaximumFOp>(x, y))
                      : Value(b.create<arith::AddFOp>(x, y));
        b.create<memref::StoreOp>(r, scratch, ValueRange{t});
      });
    return b.create<memref::LoadOp>(scratch, ValueRange{index(0)});
  }

private:
  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }

  gpu::GPUFuncOp func;
  Block *entry;
  Value tid;
};

} // namespace mlir::tern::kernels

#endif // TERN_CONVERSION_GPUTHREADS_H
