//===- PlanMemory.cpp - buffers -> views into liveness-planned arenas -----===//
//
// Kernel functions are straight-line sequences of loops, so liveness is an
// interval of top-level op positions: from a buffer's alloc to the last
// top-level op that (directly or inside its loops) uses it. Buffers with the
// same dynamic size value (the token count; the context) form one group;
// in units of "bytes per row" the group is an interval-packing problem,
// solved greedily (first fit by start position), and the group's arena is
// `rows * total` bytes.
//
//===----------------------------------------------------------------------===//

#include "Tern/Transforms/Passes.h"

#include "llvm/ADT/MapVector.h"

#include <deque>

namespace mlir::tern {
#define GEN_PASS_DEF_TERNPLANMEMORY
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

constexpr int64_t kAlign = 64;

struct Buffer {
  memref::AllocOp alloc;
  int64_t rowBytes;   // bytes per unit of the group's size, 64-aligned
  int64_t start, end; // live interval in top-level op positions
  int64_t offset = 0; // in bytes per row
  SmallVector<memref::DeallocOp> deallocs;
};

/// Fills `b`'s live interval and deallocs; fails if the buffer escapes
/// (is returned) or has a layout we do not rewrite.
LogicalResult analyze(Buffer &b, Block &body,
                      const DenseMap<Operation *, int64_t> &position) {
  MemRefType type = b.alloc.getType();
  if (!type.getLayout().isIdentity() || type.getNumDynamicDims() > 1 ||
      !type.getElementType().isIntOrFloat() ||
      type.getElementTypeBitWidth() % 8)
    return failure();
  int64_t elements = 1;
  for (int64_t d : type.getShape())
    if (!ShapedType::isDynamic(d))
      elements *= d;
  b.rowBytes =
      llvm::alignTo(elements * type.getElementTypeBitWidth() / 8, kAlign);
  b.start = b.end = position.lookup(b.alloc);
  for (Operation *user : b.alloc->getUsers()) {
    if (auto dealloc = dyn_cast<memref::DeallocOp>(user)) {
      b.deallocs.push_back(dealloc);
      continue;
    }
    // A returned buffer outlives the function. Calls only borrow theirs (the
    // kernel functions keep no pointers), so a call is an ordinary use.
    if (isa<func::ReturnOp>(user))
      return failure();
    Operation *top = body.findAncestorOpInBlock(*user);
    if (!top)
      return failure();
    b.end = std::max(b.end, position.lookup(top));
  }
  return success();
}

/// First fit: the lowest offset that overlaps no placed buffer whose live
/// interval meets this one's. Returns the group's bytes per row.
int64_t place(MutableArrayRef<Buffer *> group) {
  llvm::sort(group, [](Buffer *a, Buffer *b) { return a->start < b->start; });
  int64_t total = 0;
  SmallVector<Buffer *> placed;
  for (Buffer *b : group) {
    SmallVector<Buffer *> live;
    for (Buffer *p : placed)
      if (p->start <= b->end && b->start <= p->end)
        live.push_back(p);
    llvm::sort(live,
               [](Buffer *x, Buffer *y) { return x->offset < y->offset; });
    int64_t offset = 0;
    for (Buffer *p : live) {
      if (offset + b->rowBytes <= p->offset)
        break;
      offset = std::max(offset, p->offset + p->rowBytes);
    }
    b->offset = offset;
    total = std::max(total, offset + b->rowBytes);
    placed.push_back(b);
  }
  return total;
}

struct PlanMemoryPass : mlir::tern::impl::TernPlanMemoryBase<PlanMemoryPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Block &body = func.getBody().front();
    DenseMap<Operation *, int64_t> position;
    for (auto [i, op] : llvm::enumerate(body))
      position[&op] = int64_t(i);

    std::deque<Buffer> buffers;
    // Group by the dynamic size value (null: static buffers).
    llvm::MapVector<Value, SmallVector<Buffer *>> groups;
    for (auto alloc : body.getOps<memref::AllocOp>()) {
      Buffer b{alloc, 0, 0, 0, 0, {}};
      if (failed(analyze(b, body, position)))
        continue;
      buffers.push_back(std::move(b));
      Value size = alloc.getDynamicSizes().empty() ? Value()
                                                   : alloc.getDynamicSizes()[0];
      groups[size].push_back(&buffers.back());
    }

    OpBuilder builder(func.getContext());
    Location loc = func.getLoc();
    auto i8 = builder.getI8Type();
    for (auto &[size, group] : groups) {
      int64_t total = place(group);
      // The arena comes right after its size is known.
      if (!size)
        builder.setInsertionPointToStart(&body);
      else if (Operation *def = size.getDefiningOp())
        builder.setInsertionPointAfter(def);
      else
        builder.setInsertionPointToStart(&body);
      Value arena;
      if (size) {
        Value bytes = builder.create<arith::MulIOp>(
            loc, size, builder.create<arith::ConstantIndexOp>(loc, total));
        arena = builder.create<memref::AllocOp>(
            loc, MemRefType::get({ShapedType::kDynamic}, i8), bytes,
            builder.getI64IntegerAttr(kAlign));
      } else {
        arena =
            builder.create<memref::AllocOp>(loc, MemRefType::get({total}, i8),
                                            builder.getI64IntegerAttr(kAlign));
      }
      for (Buffer *b : group) {
        builder.setInsertionPoint(b->alloc);
        Value shift = builder.create<arith::ConstantIndexOp>(loc, b->offset);
        if (size)
          shift = builder.createOrFold<arith::MulIOp>(loc, size, shift);
        Value view = builder.create<memref::ViewOp>(
            loc, b->alloc.getType(), arena, shift, b->alloc.getDynamicSizes());
        for (memref::DeallocOp dealloc : b->deallocs)
          dealloc.erase();
        b->alloc.replaceAllUsesWith(view);
        b->alloc.erase();
      }
      builder.setInsertionPoint(body.getTerminator());
      builder.create<memref::DeallocOp>(loc, arena);
    }
  }
};

} // namespace
