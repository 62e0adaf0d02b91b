//===- FuzzMLIR.h - An MLIR context for the frontend fuzzers ----*- C++ -*-===//

#ifndef TERN_FUZZ_FUZZMLIR_H
#define TERN_FUZZ_FUZZMLIR_H

#include "Tern/IR/TernDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

namespace tern::fuzz {

/// A fresh context per input (a shared one would keep every input's
/// weights as resources), single-threaded, with the dialects the frontends
/// create and diagnostics swallowed: errors are the expected outcome.
struct FrontendContext {
  mlir::MLIRContext context{mlir::MLIRContext::Threading::DISABLED};
  mlir::ScopedDiagnosticHandler quiet{
      &context, [](mlir::Diagnostic &) { return mlir::success(); }};

  FrontendContext() {
    context.loadDialect<mlir::tern::TernDialect, mlir::func::FuncDialect>();
  }
};

} // namespace tern::fuzz

#endif // TERN_FUZZ_FUZZMLIR_H
