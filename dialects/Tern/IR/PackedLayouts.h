//===- PackedLayouts.h - the byte layouts of packed weights -----*- C++ -*-===//
//
// One owner per #tern.packed layout (TernAttrs.td describes each): its byte
// count, its encoder or decoder, and the address math its kernels use. The
// attribute, tern-pack-weights and the kernel lowering all call these, so a
// layout is spelled out once (Layouts/<Layout>.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef TERN_IR_PACKEDLAYOUTS_H
#define TERN_IR_PACKEDLAYOUTS_H

#include "Tern/IR/TernOps.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::tern::layouts {

/// Bytes the packed data of an [n, k] weight occupies in `layout`.
int64_t numBytes(PackedLayout layout, int64_t n, int64_t k);

/// Encodes `trits` (-1, 0 or +1, row-major [n, k]) into `out` (numBytes
/// bytes) in a kernel layout (i2, i2_k64, gpu_w2).
void encode(PackedLayout layout, ArrayRef<char> trits, int64_t n, int64_t k,
            MutableArrayRef<char> out);

//===- i2 (Layouts/I2.cpp)
//-------------------------------------------------===//
namespace i2 {
int64_t numBytes(int64_t n, int64_t k);
void encode(ArrayRef<char> trits, int64_t n, int64_t k,
            MutableArrayRef<char> out);
/// The code (t + 1, i32) of W[n, j] in the i2 bytes `w` of a weight with
/// `k` columns.
Value loadCode(ImplicitLocOpBuilder &b, Value w, Value n, Value j, int64_t k);
} // namespace i2

//===- hf_rows (Layouts/HFRows.cpp)
//----------------------------------------===//
namespace hf_rows {
int64_t numBytes(int64_t n, int64_t k);
/// Decodes the checkpoint packing into one trit per byte.
void decode(ArrayRef<char> bytes, int64_t n, int64_t k,
            MutableArrayRef<char> trits);
/// The inverse, for n a multiple of 4.
void encode(ArrayRef<char> trits, int64_t n, int64_t k,
            MutableArrayRef<char> bytes);
} // namespace hf_rows

//===- i2_k64 (Layouts/I2K64.cpp)
//------------------------------------------===//
namespace i2_k64 {
/// Codes per block, bytes per block, rows whose blocks are interleaved.
constexpr int64_t kBlock = 64, kBlockBytes = 16, kRowGroup = 8;
/// Bytes from one block of a row to its next.
constexpr int64_t kBlockStride = kRowGroup * kBlockBytes;
int64_t numBytes(int64_t n, int64_t k);
void encode(ArrayRef<char> trits, int64_t n, int64_t k,
            MutableArrayRef<char> out);
/// The byte offset of row n's block 0 (a weight of `blocks` blocks per
/// row); block b of the row is kBlockStride * b bytes further.
Value rowOffset(ImplicitLocOpBuilder &b, Value n, int64_t blocks);
/// The 64 codes of a block (vector<64xi8>, in K order) from its 16 bytes:
/// the bytes replicated to four 128-bit lanes, lane l keeping bits 2l+1:2l
/// of each byte. Lanes go in groups of `group` (1, 2 or 4): lane l is shifted
/// down by 2 (l - l % group) bits only, so its codes stay scaled by
/// 4^(l % group) (at most 2 * 4^3 = 128: still a u8). Kernels whose sums keep
/// 128-bit lanes apart undo the scale at the end and save the shifts.
Value unpackBlock(ImplicitLocOpBuilder &b, Value bytes, int64_t group);
/// The code (i32) of element j (< 64) of the block at byte offset `block`.
Value loadCode(ImplicitLocOpBuilder &b, Value w, Value block, Value j);
} // namespace i2_k64

//===- gpu_w2 (Layouts/GpuW2.cpp)
//------------------------------------------===//
namespace gpu_w2 {
/// Codes per 32-bit word.
constexpr int64_t kBlock = 16;
int64_t numBytes(int64_t n, int64_t k);
void encode(ArrayRef<char> trits, int64_t n, int64_t k,
            MutableArrayRef<char> out);
/// The index of the word holding block `block` of row `row` of a weight
/// with `n` rows.
Value wordIndex(OpBuilder &b, Location loc, Value block, Value row, int64_t n);
} // namespace gpu_w2

//===- packed_bf16 (Layouts/PackedBF16.cpp)
//--------------------------------===//
namespace packed_bf16 {
/// Values per block, bytes per block, bytes of a row's header.
constexpr int64_t kBlock = 64, kBlockBytes = 96, kHeaderBytes = 16;
/// Bytes of one row of d values.
int64_t rowBytes(int64_t d);
/// Bytes of a [v, d] table with `escapes` escaped blocks.
int64_t numBytes(int64_t v, int64_t d, int64_t escapes);
/// Whether rows of d values can be packed (whole blocks, at most 64).
bool fits(int64_t d);
struct Window {
  int64_t base = 0;    ///< the first of 8 exponent pairs
  int64_t escapes = 0; ///< blocks with a high byte outside them
};
/// The window that holds the most of a [v, d] table's bf16 values.
Window chooseWindow(const uint16_t *values, int64_t v, int64_t d);
/// Packs a [v, d] table into out (numBytes bytes).
void encode(const uint16_t *values, int64_t v, int64_t d, Window window,
            MutableArrayRef<char> out);
/// The d bf16 values of one row, for tests.
void decodeRow(ArrayRef<char> bytes, int64_t v, int64_t d, int64_t base,
               int64_t row, uint16_t *out);
/// The byte offset of block `blk` of row `row` (index values).
Value blockOffset(ImplicitLocOpBuilder &b, Value row, Value blk, int64_t d);
/// The high byte of code c (< 16): sign (c & 8) << 4, exponent pair
/// base + (c & 7).
int8_t highByte(int64_t c, int64_t base);
/// How loadBlock decodes for a kernel.
struct BlockDecoding {
  /// Bytes of the vector registers the values are interleaved in: each
  /// 16-byte lane of a register pairs the low and high bytes of its own
  /// values (one unpack each, no lane crossing). 16 keeps the values in
  /// order; blockOrder says where each goes for wider registers.
  int64_t registerBytes = 16;
  /// False where the caller knows the row has no escaped block: the
  /// header is not read.
  bool mayEscape = true;
  /// A byte table lookup (the 16 high bytes by code: pshufb, tbl) that
  /// takes the codes (vector<64xi8>), or null: the high bytes are computed.
  llvm::function_ref<Value(ArrayRef<int8_t>, Value)> lookup;
};
/// The element of a block that each of loadBlock's 64 values holds.
SmallVector<int64_t> blockOrder(int64_t registerBytes);
/// Block `blk` of row `row` of a [v, d] table in `bytes` (memref<?xi8>):
/// vector<64xbf16>, the stored bits in blockOrder(how.registerBytes).
Value loadBlock(ImplicitLocOpBuilder &b, Value bytes, Value row, Value blk,
                int64_t v, int64_t d, PackedBF16Attr packed,
                const BlockDecoding &how = {});
/// Whether row `row` has an escaped block (its header's mask), an i1.
Value rowEscapes(ImplicitLocOpBuilder &b, Value bytes, Value row, int64_t d);
} // namespace packed_bf16

} // namespace mlir::tern::layouts

#endif // TERN_IR_PACKEDLAYOUTS_H
