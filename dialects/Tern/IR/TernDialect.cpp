//===- TernDialect.cpp - Tern dialect registration ------------------------===//

#include "Tern/IR/TernOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tern;

#include "Tern/IR/TernEnums.cpp.inc"
#include "Tern/IR/TernOpsDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "Tern/IR/TernAttrs.cpp.inc"

void TernDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "Tern/IR/TernOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "Tern/IR/TernOpsTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "Tern/IR/TernAttrs.cpp.inc"
      >();
}

int64_t PackedAttr::getNumBytes(int64_t n, int64_t k) const {
  switch (getLayout()) {
  case PackedLayout::I2:
    return n * llvm::divideCeil(k, 4);
  case PackedLayout::HFRows:
    return llvm::divideCeil(n, 4) * k;
  case PackedLayout::I2K64:
    return llvm::alignTo(n, 8) * llvm::divideCeil(k, 64) * 16;
  case PackedLayout::GpuW2:
    return n * llvm::divideCeil(k, 16) * 4;
  }
  llvm_unreachable("unknown packed layout");
}
