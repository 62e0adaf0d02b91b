//===- TernDialect.h - Tern dialect, types and attributes -------*- C++ -*-===//

#ifndef TERN_IR_TERNDIALECT_H
#define TERN_IR_TERNDIALECT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "Tern/IR/TernEnums.h.inc"

// Attributes before the dialect: its module-attribute helpers name them.
#define GET_ATTRDEF_CLASSES
#include "Tern/IR/TernAttrs.h.inc"

#include "Tern/IR/TernOpsDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "Tern/IR/TernOpsTypes.h.inc"

namespace mlir::tern {

/// True for tensor<... x !tern.trit> with or without a packed encoding.
bool isTernaryTensor(Type type);

/// The #tern.packed encoding of `type`, or null when it is not packed.
PackedAttr getPackedEncoding(Type type);

/// The #tern.packed_bf16 encoding of `type` (a bf16 table), or null.
PackedBF16Attr getPackedBF16Encoding(Type type);

} // namespace mlir::tern

#endif // TERN_IR_TERNDIALECT_H
