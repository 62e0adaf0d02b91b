//===- GpuW2.cpp - the W2A8 dot product of the NVIDIA kernels -------------===//

#include "tern/Target/NVPTX/GpuW2.h"
#include "tern/Conversion/Numerics.h"

#include "Tern/IR/PackedLayouts.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::tern::kernels;

Value mlir::tern::kernels::dp4aArith(OpBuilder &b, Location loc, Value a,
                                     Value bv, Value c) {
  auto cst = [&](int32_t v) {
    return b.create<arith::ConstantIntOp>(loc, v, 32).getResult();
  };
  Value acc = c;
  for (int i = 0; i < 4; ++i) {
    Value shift = cst(8 * i);
    // u8 of a: shift down, mask; s8 of b: shift up to the top, arithmetic
    // shift down.
    Value ua = b.create<arith::AndIOp>(
        loc, b.create<arith::ShRUIOp>(loc, a, shift), cst(0xFF));
    Value sb = b.create<arith::ShRSIOp>(
        loc, b.create<arith::ShLIOp>(loc, bv, cst(24 - 8 * i)), cst(24));
    acc =
        b.create<arith::AddIOp>(loc, acc, b.create<arith::MulIOp>(loc, ua, sb));
  }
  return acc;
}

SmallVector<Value> mlir::tern::kernels::gpuW2Dot(OpBuilder &b, Location loc,
                                                 Value q, Value words, Value t0,
                                                 Value tokens, int64_t tile,
                                                 Value n, int64_t k,
                                                 int64_t rows, Dp4a dp4a,
                                                 Value blockLo, Value blockHi) {
  Type i32 = b.getI32Type();
  auto cst = [&](int32_t v) {
    return b.create<arith::ConstantIntOp>(loc, v, 32).getResult();
  };
  auto idx = [&](int64_t v) {
    return b.create<arith::ConstantIndexOp>(loc, v).getResult();
  };
  int64_t blocks = llvm::divideCeil(k, tern::layouts::gpu_w2::kBlock);
  Value zero = cst(0);
  // Rows of whole words (K a multiple of 16): q as i32 words, four
  // activations per load. [tokens, K] bytes -> tokens * K bytes -> words.
  Value qWords;
  if (k % 16 == 0) {
    Value bytes = b.create<arith::MulIOp>(loc, tokens, idx(k));
    Value flat = b.create<memref::ReinterpretCastOp>(
        loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()), q,
        OpFoldResult(b.getIndexAttr(0)), ArrayRef<OpFoldResult>{bytes},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    qWords = b.create<memref::ViewOp>(
        loc, MemRefType::get({ShapedType::kDynamic}, i32), flat, idx(0),
        ValueRange{b.create<arith::DivUIOp>(loc, bytes, idx(4))});
  }
  // The tile's tokens; those past the last read token 0 (and are not
  // stored by the caller).
  SmallVector<Value> ts;
  for (int64_t j = 0; j < tile; ++j) {
    Value t = b.create<arith::AddIOp>(loc, t0, idx(j));
    Value valid =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, t, tokens);
    ts.push_back(b.create<arith::SelectOp>(loc, valid, t, idx(0)));
  }
  SmallVector<Value> init(2 * tile, zero);
  auto loop =
      b.create<scf::ForOp>(loc, blockLo ? blockLo : idx(0),
                           blockHi ? blockHi : idx(blocks), idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value blk = loop.getInductionVar();
    SmallVector<Value> acc(loop.getRegionIterArgs());
    // One weight word (16 codes) serves every token of the tile.
    Value w = b.create<memref::LoadOp>(
        loc, words,
        ValueRange{tern::layouts::gpu_w2::wordIndex(b, loc, blk, n, rows)});
    for (int g = 0; g < 4; ++g) {
      // Codes 4g..4g+3 (bits 8g..8g+7) spread to one byte each.
      Value x = b.create<arith::AndIOp>(
          loc, b.create<arith::ShRUIOp>(loc, w, cst(8 * g)), cst(0xFF));
      Value codes = b.create<arith::AndIOp>(loc, x, cst(0x3));
      for (int j = 1; j < 4; ++j)
        codes = b.create<arith::OrIOp>(
            loc, codes,
            b.create<arith::ShLIOp>(
                loc, b.create<arith::AndIOp>(loc, x, cst(0x3 << (2 * j))),
                cst(6 * j)));
      for (int64_t j = 0; j < tile; ++j) {
        // Four activations as one i32: one load when rows are whole words
        // (K a multiple of 16), else four bytes, 0 past K (where the
        // padding codes are 1).
        Value a = zero;
        if (qWords) {
          Value at = b.create<arith::AddIOp>(
              loc, b.create<arith::MulIOp>(loc, ts[j], idx(k / 4)),
              b.create<arith::AddIOp>(
                  loc, b.create<arith::MulIOp>(loc, blk, idx(4)), idx(g)));
          a = b.create<memref::LoadOp>(loc, qWords, ValueRange{at});
        } else {
          for (int i = 0; i < 4; ++i) {
            Value kk = b.create<arith::AddIOp>(
                loc, b.create<arith::MulIOp>(loc, blk, idx(16)),
                idx(4 * g + i));
            Value inside = b.create<arith::CmpIOp>(
                loc, arith::CmpIPredicate::ult, kk, idx(k));
            Value safe = b.create<arith::SelectOp>(loc, inside, kk, idx(k - 1));
            Value byte = b.create<arith::ExtUIOp>(
                loc, i32,
                b.create<memref::LoadOp>(loc, q, ValueRange{ts[j], safe}));
            byte = b.create<arith::SelectOp>(loc, inside, byte, zero);
            a = b.create<arith::OrIOp>(
                loc, a, b.create<arith::ShLIOp>(loc, byte, cst(8 * i)));
          }
        }
        acc[2 * j] = dp4a(b, loc, codes, a, acc[2 * j]);
        acc[2 * j + 1] = dp4a(b, loc, cst(0x01010101), a, acc[2 * j + 1]);
      }
    }
    b.create<scf::YieldOp>(loc, acc);
  }
  SmallVector<Value> dots;
  for (int64_t j = 0; j < tile; ++j)
    dots.push_back(b.create<arith::SubIOp>(loc, loop.getResult(2 * j),
                                           loop.getResult(2 * j + 1)));
  return dots;
}

void mlir::tern::kernels::gpuW2Store(OpBuilder &b, Location loc,
                                     ArrayRef<Value> dots, Value t0,
                                     Value tokens, Value n, Value s,
                                     Value scale, Value out, Value residual) {
  for (auto [j, dot] : llvm::enumerate(dots)) {
    Value t = b.create<arith::AddIOp>(loc, t0,
                                      b.create<arith::ConstantIndexOp>(loc, j));
    auto store = b.create<scf::IfOp>(
        loc, b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, t, tokens),
        /*else=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&store.getThenRegion().front());
    Value y = dequantize(
        b, loc, dot,
        [&]() -> Value {
          return b.create<memref::LoadOp>(loc, s, ValueRange{t});
        },
        scale);
    if (residual)
      y = b.create<arith::AddFOp>(
          loc, y, b.create<memref::LoadOp>(loc, residual, ValueRange{t, n}));
    b.create<memref::StoreOp>(loc, y, out, ValueRange{t, n});
  }
}

Value mlir::tern::kernels::dp4aPTX(OpBuilder &b, Location loc, Value a,
                                   Value bv, Value c) {
  return b
      .create<LLVM::InlineAsmOp>(loc, b.getI32Type(), ValueRange{a, bv, c},
                                 "dp4a.u32.s32 $0, $1, $2, $3;", "=r,r,r,r",
                                 /*has_side_effects=*/false,
                                 /*is_align_stack=*/false,
                                 LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

std::string mlir::tern::kernels::gpuW2KernelName(int64_t k, int64_t n,
                                                 bool residual, int64_t tile) {
  return "tern_gpu_w2a8_k" + std::to_string(k) + "_n" + std::to_string(n) +
         (residual ? "_residual" : "") + "_t" + std::to_string(tile);
}

void mlir::tern::kernels::gpuW2Thread(OpBuilder &b, Location loc,
                                      Value rowBlock, Value tokenBlock,
                                      Value tid, ValueRange args, int64_t k,
                                      int64_t n, int64_t tile, Dp4a dp4a) {
  auto idx = [&](int64_t v) {
    return b.create<arith::ConstantIndexOp>(loc, v).getResult();
  };
  Value q = args[0], s = args[1], w = args[2], out = args[3], scale = args[4];
  Value row = b.create<arith::AddIOp>(
      loc, b.create<arith::MulIOp>(loc, rowBlock, idx(kW2Threads)), tid);
  Value t0 = b.create<arith::MulIOp>(loc, tokenBlock, idx(tile));
  Value tokens = b.create<memref::DimOp>(loc, q, 0);
  auto inside = b.create<scf::IfOp>(
      loc, b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, row, idx(n)),
      /*else=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&inside.getThenRegion().front());
  SmallVector<Value> dots =
      gpuW2Dot(b, loc, q, w, t0, tokens, tile, row, k, n, dp4a);
  gpuW2Store(b, loc, dots, t0, tokens, row, s, scale, out,
             args.size() > 5 ? args[5] : Value());
}
