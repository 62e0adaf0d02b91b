//===- GpuW2.h - the W2A8 dot product of the NVIDIA kernels ------*- C++
//-*-===//
//
// The NVIDIA ternary matmul runs one thread per output row n (and one grid
// row per token t) over weights in the gpu_w2 layout (#tern.packed): each
// 32-bit word holds 16 codes c = w + 1 of one row, and the words of
// consecutive rows are adjacent, so a warp's loads are coalesced. Per word,
// four dp4a (u8 codes x s8 activations) accumulate sum c * q, and one more
// dp4a by 0x01010101 accumulates sum q; the result is the difference.
//
// The same builder emits the GPU kernel's body (dp4a as PTX) and, for the
// CPU, the gpu-emulation kernels (dp4a in arith), so the layout and the
// arithmetic are tested bit-exactly on any machine.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_CONVERSION_GPUW2_H
#define TERN_CONVERSION_GPUW2_H

#include "mlir/IR/Builders.h"

#include <algorithm>
#include <string>

namespace mlir::tern::kernels {

/// dp4a(a, b, c) = c + sum_i u8(a_i) * s8(b_i) over the bytes of i32 a, b.
using Dp4a = function_ref<Value(OpBuilder &, Location, Value, Value, Value)>;

/// dp4a in plain arith (the CPU emulation).
Value dp4aArith(OpBuilder &b, Location loc, Value a, Value bv, Value c);
/// dp4a.u32.s32 as PTX inline assembly (MLIR 19 has no NVVM op for it).
Value dp4aPTX(OpBuilder &b, Location loc, Value a, Value bv, Value c);

/// sum_k q[t, k] * W[n, k] in i32 for row `n` of `words` (the gpu_w2 words
/// viewed as memref<blocks * N x i32>) and the `tile` tokens t0, t0 + 1, ...
/// of q (memref<tokens x K x i8>), each weight word loaded once for all of
/// them (prefill); tokens past `tokens` give values the caller discards.
/// When K is a multiple of 16, four activations are one 4-byte load. With
/// blockLo and blockHi, only the 16-trit blocks [blockLo, blockHi) of K
/// (split-K: the partial sums of the parts add up exactly in int32).
SmallVector<Value> gpuW2Dot(OpBuilder &b, Location loc, Value q, Value words,
                            Value t0, Value tokens, int64_t tile, Value n,
                            int64_t k, int64_t rows, Dp4a dp4a,
                            Value blockLo = {}, Value blockHi = {});

/// The epilogue of both: out[t, n] = dots[j] / s[t] * scale (+ residual[t,
/// n] when `residual` is set) for the tile's tokens t = t0 + j < tokens.
void gpuW2Store(OpBuilder &b, Location loc, ArrayRef<Value> dots, Value t0,
                Value tokens, Value n, Value s, Value scale, Value out,
                Value residual);

/// Tokens per thread of the prefill kernels (decode kernels take one).
constexpr int64_t kPrefillTile = 4;
/// Threads per block of the kernels: one output row each.
constexpr int64_t kW2Threads = 128;

/// One thread of the kernel `tern_gpu_w2a8_k{K}_n{N}[_residual]_t{tile}`,
/// arguments `args` = (q [tokens, K] i8, s [tokens] f32, words, out
/// [tokens, N] f32, scale f32[, residual [tokens, N] f32]): row n =
/// kW2Threads * rowBlock + tid (none past N), tokens tile * tokenBlock and
/// the next tile - 1.
void gpuW2Thread(OpBuilder &b, Location loc, Value rowBlock, Value tokenBlock,
                 Value tid, ValueRange args, int64_t k, int64_t n, int64_t tile,
                 Dp4a dp4a);
/// The kernel's name.
std::string gpuW2KernelName(int64_t k, int64_t n, bool residual, int64_t tile);

/// Parts K is split into for the decode kernels: a thread per row gives
/// only N threads, too few to keep a GPU's memory busy, so the K blocks are
/// shared among up to this many thread rows (about 16K threads in all, at
/// least 8 words per thread), whose int32 partial sums a second kernel adds.
inline int64_t gpuW2Splits(int64_t k, int64_t n) {
  int64_t blocks = (k + 15) / 16;
  int64_t rows = (n + kW2Threads - 1) / kW2Threads * kW2Threads;
  int64_t splits = std::min<int64_t>(16384 / rows, blocks / 8);
  return std::max<int64_t>(splits, 1);
}

} // namespace mlir::tern::kernels

#endif // TERN_CONVERSION_GPUW2_H
