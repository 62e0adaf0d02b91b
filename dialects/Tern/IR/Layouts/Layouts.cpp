//===- Layouts.cpp - dispatch to the layouts' owners ----------------------===//

#include "Tern/IR/PackedLayouts.h"

using namespace mlir;
using namespace mlir::tern;

int64_t layouts::numBytes(PackedLayout layout, int64_t n, int64_t k) {
  switch (layout) {
  case PackedLayout::I2:
    return i2::numBytes(n, k);
  case PackedLayout::HFRows:
    return hf_rows::numBytes(n, k);
  case PackedLayout::I2K64:
    return i2_k64::numBytes(n, k);
  case PackedLayout::GpuW2:
    return gpu_w2::numBytes(n, k);
  }
  llvm_unreachable("unknown packed layout");
}

void layouts::encode(PackedLayout layout, ArrayRef<char> trits, int64_t n,
                     int64_t k, MutableArrayRef<char> out) {
  switch (layout) {
  case PackedLayout::I2:
    return i2::encode(trits, n, k, out);
  case PackedLayout::I2K64:
    return i2_k64::encode(trits, n, k, out);
  case PackedLayout::GpuW2:
    return gpu_w2::encode(trits, n, k, out);
  case PackedLayout::HFRows:
    break;
  }
  llvm_unreachable("not a kernel layout");
}
