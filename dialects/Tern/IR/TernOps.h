//===- TernOps.h - Tern operations ------------------------------*- C++ -*-===//

#ifndef TERN_IR_TERNOPS_H
#define TERN_IR_TERNOPS_H

#include "Tern/IR/TernDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "Tern/IR/TernOps.h.inc"

#endif // TERN_IR_TERNOPS_H
