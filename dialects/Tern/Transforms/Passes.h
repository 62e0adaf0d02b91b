//===- Passes.h - Tern target-independent passes ----------------*- C++ -*-===//

#ifndef TERN_TRANSFORMS_PASSES_H
#define TERN_TRANSFORMS_PASSES_H

#include "Tern/IR/TernOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::tern {

#define GEN_PASS_DECL
#include "Tern/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Tern/Transforms/Passes.h.inc"

} // namespace mlir::tern

#endif // TERN_TRANSFORMS_PASSES_H
