//===- FloatMatmul.cpp - embedding, LM head and float linear kernels ------===//
//
// out = x . table^T in f32 over a float (f32, f16, bf16) or int8 table: the
// LM head, the float baseline's linears and ONNX products by constant
// weights; and the embedding's row gather.
//
//===----------------------------------------------------------------------===//

#include "tern/Conversion/KernelEmitter.h"

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

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
                   op.getScales() ? in(op.getScales()) : Value(),
                   extras.empty() ? Value() : extra(0));
}

void KernelEmitter::lowerLinear(LinearOp op) {
  lowerFloatMatmul(in(op.getInput()), in(op.getWeight()),
                   output(op.getResult()));
}

void KernelEmitter::lowerFloatMatmul(Value x, Value table, Value out,
                                     Value scales, Value rows) {
  // out[r, v] = x[t, :] . table[v, :] in f32, t = rows[r] (the LM head
  // computes only the logits the caller asked for), else t = r.
  int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  // SIMD kernels stream the table 64 elements at a time into a 64-lane f32
  // accumulator (several independent FMA chains); the rest is scalar.
  int64_t blocks = simd() ? d / 64 : 0;
  Type element = cast<MemRefType>(table.getType()).getElementType();
  auto f32x64 = VectorType::get({64}, b.getF32Type());
  auto row64 = [&](Value v, Value j) -> Value {
    return elementToF32(b.create<vector::LoadOp>(VectorType::get({64}, element),
                                                 table, ValueRange{v, j}));
  };
  // Table rows outside, output rows inside: the table (the largest matrix,
  // read from memory) is streamed once for all rows, each of its rows
  // staying in L1 while every x row uses it. Each (r, v) is the same dot
  // product whatever the row count.
  parallelFor(idx(0), dim(out, 1), idx(1), [&](Value v) {
    forEach(dim(out, 0), [&](Value r) {
      Value t = rows ? Value(b.create<arith::IndexCastOp>(
                           b.getIndexType(),
                           b.create<memref::LoadOp>(rows, ValueRange{r})))
                     : r;
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
