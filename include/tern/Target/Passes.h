//===- Passes.h - Tern target passes ----------------------------*- C++ -*-===//

#ifndef TERN_TARGET_PASSES_H
#define TERN_TARGET_PASSES_H

#include "Tern/IR/TernOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::tern {
#define GEN_PASS_DECL
#define GEN_PASS_REGISTRATION
#include "tern/Target/Passes.h.inc"
} // namespace mlir::tern

#endif // TERN_TARGET_PASSES_H
