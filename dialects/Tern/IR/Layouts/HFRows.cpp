//===- HFRows.cpp - the hf_rows layout: Hugging Face BitNet packing -------===//
//
// Byte [r, k] of a [N/4, K] array holds the codes of rows r, N/4 + r,
// N/2 + r and 3N/4 + r at bits 1:0, 3:2, 5:4 and 7:6 (SPEC 6.1). Frontends
// keep checkpoint bytes in it, as mapped, and decode other files' trits
// into it (a quarter of one byte per trit); no kernel reads it:
// tern-pack-weights decodes it.
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/PackedLayouts.h"

using namespace mlir;
using namespace mlir::tern;

int64_t layouts::hf_rows::numBytes(int64_t n, int64_t k) {
  return llvm::divideCeil(n, 4) * k;
}

void layouts::hf_rows::decode(ArrayRef<char> bytes, int64_t n, int64_t k,
                              MutableArrayRef<char> trits) {
  int64_t blockRows = n / 4;
  for (int64_t r = 0; r < blockRows; ++r)
    for (int64_t c = 0; c < k; ++c) {
      uint8_t byte = uint8_t(bytes[r * k + c]);
      for (int64_t i = 0; i < 4; ++i)
        trits[(i * blockRows + r) * k + c] = char(((byte >> (2 * i)) & 3) - 1);
    }
}

void layouts::hf_rows::encode(ArrayRef<char> trits, int64_t n, int64_t k,
                              MutableArrayRef<char> bytes) {
  int64_t blockRows = n / 4;
  for (int64_t r = 0; r < blockRows; ++r)
    for (int64_t c = 0; c < k; ++c) {
      uint8_t byte = 0;
      for (int64_t i = 0; i < 4; ++i)
        byte |= uint8_t(trits[(i * blockRows + r) * k + c] + 1) << (2 * i);
      bytes[r * k + c] = char(byte);
    }
}
