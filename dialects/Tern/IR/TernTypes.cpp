//===- TernTypes.cpp - Tern types -----------------------------------------===//

#include "Tern/IR/TernDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tern;

#define GET_TYPEDEF_CLASSES
#include "Tern/IR/TernOpsTypes.cpp.inc"

bool mlir::tern::isTernaryTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && isa<TritType>(tensor.getElementType());
}

PackedAttr mlir::tern::getPackedEncoding(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor ? dyn_cast_or_null<PackedAttr>(tensor.getEncoding()) : nullptr;
}

PackedBF16Attr mlir::tern::getPackedBF16Encoding(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor ? dyn_cast_or_null<PackedBF16Attr>(tensor.getEncoding())
                : nullptr;
}
